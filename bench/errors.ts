// Error tracking: how fast errors are captured (ErrorCapture into record_errors, next to a plain
// insert of the same rows), how fast the error metrics answer over millions of events (GET
// /api/error-metrics through a web process, next to the same totals from the raw events, before
// and after the hourly sweep folds the counts' shards), and what capturing step failures costs
// the engine (capture off and on, one run in ten failing).
//
//   npm run bench -- errors                                  (all three parts, 5,000,000 events)
//   npm run bench -- errors --part capture --capture-events 20000 --capture-rounds 3
//   npm run bench -- errors --part query --events 500000 --calls 50 --explain
//   npm run bench -- errors --part engine --rounds 3 --engine-runs 2000
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { retentionAt } from '../src/core/metric-range.ts';
import { createPool } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { maintainErrorEvents } from '../src/db/queries/housekeeping.ts';
import { benchDatabase } from './_database.ts';
import { stopChildren } from './_engine-phases.ts';
import { measureCapture } from './_errors-capture.ts';
import { measureCaptureCost } from './_errors-engine.ts';
import { createFixture, ERROR_KINDS } from './_errors-fixture.ts';
import { askErrorQuestion, type ErrorQuestion } from './_errors-query.ts';
import { countsShape, seedErrors, type CountsShape } from './_errors-seed.ts';
import { selectParts } from './_parts.ts';
import { startViewerApi } from './_viewer-api.ts';

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
      rounds: { type: 'string', default: '3' },
      'engine-runs': { type: 'string', default: process.env.BENCH_RUNS ?? '2000' },
    },
  });
  const parts = selectParts(PARTS, values.part);
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

/**
 * Seeds the events, starts a web process and asks the error-metrics questions before the sweep,
 * then runs the sweep's maintainErrorEvents and asks them again; false when counts differ.
 */
async function measureQuery(options: {
  events: number;
  days: number;
  shards: number;
  calls: number;
  rawCalls: number;
  warmup: number;
  explain: boolean;
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
    out(`  ${describeShape(seed)}`);

    const project = projects[0]!;
    const busiest = project.workflows[0]!;
    const { api, claims } = await startViewerApi(pool, {
      projectId: project.id,
      name: 'errors bench',
      databaseUrl: database.url,
      children,
    });
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
    out('');
    out(
      `before the sweep: error_counts as the writers leave them, every bucket in up to ${options.shards} shards`,
    );
    let equal = await ask(questions, options.rawCalls, options.explain);

    out('');
    await sweepErrorCounts(pool, out);
    out('');
    out('after the sweep, right away (its deleted rows still in the table and its indexes):');
    equal = (await ask(questions, 0, false)) && equal;

    out('');
    const autovacuum = (await pool.query<{ autovacuum: string }>(`show autovacuum`)).rows[0]!;
    const vacuumStarted = performance.now();
    await pool.query(`vacuum (analyze) meshhook.error_counts`);
    out(
      `after the sweep and the vacuum (analyze) of error_counts that autovacuum runs once that many rows are deleted (run here by the benchmark, in ${((performance.now() - vacuumStarted) / 1000).toFixed(0)} s; this server's autovacuum is ${autovacuum.autovacuum}); the raw path is not timed again, only compared:`,
    );
    out(`  ${describeShape(await countsShape(pool))}`);
    equal = (await ask(questions, 0, options.explain)) && equal;
    await api.close();
    return equal;
  } finally {
    await stopChildren(children);
    await pool.end();
    await database.drop();
  }
}

/**
 * Runs maintainErrorEvents as a worker's hourly sweep does (sweepExpired): on one connection,
 * with the configuration's default retention, the product's SQL and nothing of the benchmark's.
 */
async function sweepErrorCounts(pool: pg.Pool, out: (line: string) => void): Promise<void> {
  const config = loadConfig({});
  const retentionDays = config.MESHHOOK_ERROR_RETENTION_DAYS;
  const metrics = {
    minuteDays: config.MESHHOOK_METRICS_MINUTE_RETENTION_DAYS,
    hourDays: config.MESHHOOK_METRICS_HOUR_RETENTION_DAYS,
  };
  const client = await pool.connect();
  try {
    const started = performance.now();
    const swept = await maintainErrorEvents(client, {
      retentionDays,
      countsKept: retentionAt(Date.now(), metrics),
    });
    const seconds = (performance.now() - started) / 1000;
    out(
      `the hourly sweep: maintainErrorEvents (src/db/queries/housekeeping.ts) on one connection, as sweepExpired calls it, with the default retention (events ${retentionDays} days, minute counts ${metrics.minuteDays}, hour counts ${metrics.hourDays}):`,
    );
    out(
      `  ${seconds.toFixed(0)} s: ${swept.countsFolded.toLocaleString('en')} shard rows of closed buckets folded into shard 0, ${swept.countsDeleted.toLocaleString('en')} minute and hour rows past retention deleted, ${swept.dropped} error_events partitions past ${retentionDays} days dropped, ${swept.created} created ahead`,
    );
    out(`  ${describeShape(await countsShape(client))}`);
  } finally {
    client.release();
  }
}

function describeShape(shape: CountsShape): string {
  return `error_counts rows: ${shape.grains.map((g) => `${g.grain} ${g.rows.toLocaleString('en')}`).join(', ')} (${mib(shape.countsBytes)} with indexes); error_events ${mib(shape.eventsBytes)} with indexes`;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
