// Error tracking: how fast errors are captured (ErrorCapture into record_errors, next to a plain
// insert of the same rows), how fast the error metrics answer over millions of events (GET
// /api/error-metrics through a web process, next to the same totals from the raw events), and
// what capturing step failures costs the engine (capture off and on, one run in ten failing).
//
//   npm run bench -- errors                                  (all three parts, 5,000,000 events)
//   npm run bench -- errors --part capture --capture-events 20000 --capture-rounds 3
//   npm run bench -- errors --part query --events 500000 --calls 50 --explain
//   npm run bench -- errors --part query --no-what-if   (without the folded-shards what-if)
//   npm run bench -- errors --part engine --rounds 3 --engine-runs 2000
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createPool, withTransaction, type Claims } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createApiKey } from '../src/db/queries/projects.ts';
import { benchDatabase } from './_database.ts';
import { spawnRole, stopChildren, waitReady } from './_engine-phases.ts';
import { measureCapture } from './_errors-capture.ts';
import { measureCaptureCost } from './_errors-engine.ts';
import { createFixture, ERROR_KINDS } from './_errors-fixture.ts';
import { askErrorQuestion, type ErrorQuestion } from './_errors-query.ts';
import { foldDayShards, seedErrors } from './_errors-seed.ts';
import { ApiClient } from './_metrics-queries.ts';

const PARTS = ['capture', 'query', 'engine'] as const;
/** p95 of the 30-day error metrics through HTTP, ms. */
const TARGET_MS = 50;

/** Runs the benchmark and prints its figures. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      part: { type: 'string', multiple: true },
      'capture-events': { type: 'string', default: '100000' },
      'capture-rounds': { type: 'string', default: '5' },
      events: { type: 'string', default: '5000000' },
      days: { type: 'string', default: '90' },
      shards: { type: 'string', default: '16' },
      calls: { type: 'string', default: '50' },
      'raw-calls': { type: 'string' },
      warmup: { type: 'string', default: '5' },
      explain: { type: 'boolean', default: false },
      'what-if': { type: 'boolean', default: true },
      rounds: { type: 'string', default: '3' },
      'engine-runs': { type: 'string', default: process.env.BENCH_RUNS ?? '2000' },
    },
    allowNegative: true,
  });
  const parts = values.part ?? [...PARTS];
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`--part is one of ${PARTS.join(', ')}, not ${unknown[0]}`);
  const out = console.log;
  let ok = true;

  if (parts.includes('capture')) {
    const capture = await measureCapture({
      events: Number(values['capture-events']),
      rounds: Number(values['capture-rounds']),
      out,
    });
    ok &&= capture.ok;
    out('');
  }
  if (parts.includes('query')) {
    const calls = Number(values.calls);
    ok &&= await measureQuery({
      events: Number(values.events),
      days: Number(values.days),
      shards: Number(values.shards),
      calls,
      rawCalls: Number(values['raw-calls'] ?? calls),
      warmup: Number(values.warmup),
      explain: values.explain,
      whatIf: values['what-if'],
      out,
    });
    out('');
  }
  if (parts.includes('engine')) {
    const engine = await measureCaptureCost({
      rounds: Number(values.rounds),
      runs: Number(values['engine-runs']),
      out,
    });
    ok &&= engine.ok;
  }
  if (!ok) {
    out('FAILED: some counts were wrong (see above)');
    process.exitCode = 1;
  }
}

/** Seeds the events, starts a web process and asks the error-metrics questions; false when counts differ. */
async function measureQuery(options: {
  events: number;
  days: number;
  shards: number;
  calls: number;
  rawCalls: number;
  warmup: number;
  explain: boolean;
  whatIf: boolean;
  out: (line: string) => void;
}): Promise<boolean> {
  const { out } = options;
  const database = await benchDatabase();
  const pool = createPool({ connectionString: database.url, max: 4 });
  const children: ChildProcess[] = [];
  try {
    await migrate(pool);
    const projects = await createFixture(pool);
    const workflows = projects.reduce((n, p) => n + p.workflows.length, 0);
    out(
      `error metrics: ${options.events.toLocaleString('en')} error events over ${options.days} days, ${projects.length} projects (${projects.map((p) => `${p.name} ${Math.round(p.share * 100)}%`).join(', ')}), ${workflows} workflows, ${ERROR_KINDS.length} kinds of error, counts in ${options.shards} shards`,
    );
    out(`  database: ${database.server}`);
    const seed = await seedErrors(pool, { ...options, projects });
    out(
      `  seeded in ${seed.seedSeconds.toFixed(0)} s (${(options.events / seed.seedSeconds).toFixed(0)} events/s, ${seed.issues} issues); error_counts built from the events in ${seed.countsSeconds.toFixed(0)} s with the run metrics and vacuum`,
    );
    out(
      `  error_counts rows: ${seed.grains.map((g) => `${g.grain} ${g.rows.toLocaleString('en')}`).join(', ')} (${mib(seed.countsBytes)} with indexes); error_events ${mib(seed.eventsBytes)} with indexes`,
    );

    const project = projects[0]!;
    const busiest = project.workflows[0]!;
    const { key, claims } = await withTransaction(pool, async (db) => {
      const created = await createApiKey(db, {
        projectId: project.id,
        name: 'errors bench',
        role: 'viewer',
      });
      return { key: created.key, claims: { key_id: created.id, role: created.role } as Claims };
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    children.push(
      spawnRole('web', {
        ...process.env,
        DATABASE_URL: database.url,
        PORT: String(port),
        MESHHOOK_LOG_LEVEL: 'warn',
      }),
    );
    await waitReady(base);
    const api = new ApiClient(base, key);
    out(
      `  asked of project ${project.name} with a viewer API key; raw path: one group by over error_events (UTC day, source, type, severity) under withTenant with the key's claims (role meshhook_app, RLS); ${options.calls} calls per rollup path and ${options.rawCalls} per raw path after ${options.warmup} warm-up calls`,
    );
    const questions: ErrorQuestion[] = [
      { title: '30 days, everything', query: 'range=30d' },
      {
        title: '30 days, worker errors of high severity',
        query: 'range=30d&source=worker&severity=high',
        sources: ['worker'],
        severities: ['high'],
      },
      {
        title: `30 days, one workflow (${busiest.slug}, the busiest)`,
        query: `range=30d&workflow=${busiest.slug}`,
        workflowId: busiest.id,
        workflowSlug: busiest.slug,
      },
    ];
    const ask = async (list: ErrorQuestion[], rawCalls: number, explain: boolean) => {
      let equal = true;
      for (const question of list) {
        const figures = await askErrorQuestion({
          ...question,
          ...options,
          rawCalls,
          api,
          pool,
          claims,
          projectId: project.id,
          target: TARGET_MS,
          explain: explain && question === list[0],
        });
        equal &&= figures.equal;
      }
      return equal;
    };
    let equal = await ask(questions, options.rawCalls, options.explain);

    if (options.whatIf) {
      out('');
      out(
        `what if the sweep folded the shards of past day buckets into shard 0, as it does run_metrics' (folded here by this benchmark, as such a sweep would; the raw path is not timed again):`,
      );
      const folded = await foldDayShards(pool);
      out(
        `  ${folded.before.toLocaleString('en')} day rows folded to ${folded.after.toLocaleString('en')} (today's bucket, still open, left in its shards) in ${folded.seconds.toFixed(0)} s, with vacuum`,
      );
      equal = (await ask(questions, 0, options.explain)) && equal;
      out('');
      out(
        'what if, on top of that, error_counts had an index on (workflow_id, grain, bucket_start) for the workflow filter:',
      );
      await pool.query(
        `create index bench_error_counts_workflow on meshhook.error_counts (workflow_id, grain, bucket_start)`,
      );
      await pool.query(`analyze meshhook.error_counts`);
      equal = (await ask(questions.slice(2), 0, options.explain)) && equal;
    }
    await api.close();
    return equal;
  } finally {
    await stopChildren(children);
    await pool.end();
    await database.drop();
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
