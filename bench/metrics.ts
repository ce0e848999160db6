// Run metrics: with millions of runs over 90 days across 200 workflows of one project, the
// 30-day summary and one workflow's daily buckets for 90 days, through the HTTP API of a
// `meshhook web` process (the rollups), next to the same questions over the raw runs table
// in the same run; then what counting costs the engine (`metrics-engine`).
//
//   npm run bench -- metrics                      (10,000,000 runs; the seed is kept and reused)
//   npm run bench -- metrics --runs 1000000 --calls 50
//   npm run bench -- metrics --fresh --drop       (seed anew, drop the database at the end)
//   npm run bench -- metrics --no-check --skip-engine   (reusing the seed: the questions only)
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { createPool, type Claims } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { stopChildren } from './_engine-phases.ts';
import {
  openMetricsDatabase,
  recordSeed,
  schemaFingerprint,
  type SeedRecord,
} from './_metrics-database.ts';
import {
  compareAnswers,
  parseBuckets,
  parseSummary,
  quantile,
  RAW_BUCKETS,
  RAW_SUMMARY,
  rawAnswers,
  rollupBuckets,
  rollupSummary,
  timeCalls,
  type Answer,
  type ApiClient,
} from './_metrics-queries.ts';
import { buildRollups, checkRollups, describeTables, seedRuns } from './_metrics-seed.ts';
import { startViewerApi } from './_viewer-api.ts';
import { ENGINE_OPTIONS, measureMetricsCost } from './metrics-engine.ts';

const WORKFLOWS = 200;
const DAYS = 90;
const DAY_MS = 86_400_000;
const TARGETS = { summary: 50, buckets: 20 };

/** Runs the benchmark and prints its figures. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '10000000' },
      calls: { type: 'string', default: '50' },
      'raw-calls': { type: 'string' },
      warmup: { type: 'string', default: '5' },
      'rebuild-days': { type: 'string', default: '10' },
      fresh: { type: 'boolean', default: false },
      drop: { type: 'boolean', default: false },
      check: { type: 'boolean', default: true },
      'skip-engine': { type: 'boolean', default: false },
      ...ENGINE_OPTIONS,
    },
    allowNegative: true,
  });
  const runs = Number(values.runs);
  const calls = Number(values.calls);
  const rawCalls = Number(values['raw-calls'] ?? calls);
  const warmup = Number(values.warmup);
  const out = console.log;

  const database = await openMetricsDatabase({ runs, fresh: values.fresh });
  const pool = createPool({ connectionString: database.url, max: 4 });
  const children: ChildProcess[] = [];
  let failed = false;
  try {
    await migrate(pool);
    out(
      `metrics benchmark: ${runs.toLocaleString('en')} runs finished over ${DAYS} days, ${WORKFLOWS} workflows, one project`,
    );
    out(`database: ${database.server}, ${database.name ?? 'embedded'}: ${database.how}`);
    const seed =
      database.seed ??
      (await seedAndBuild(pool, { runs, chunkDays: Number(values['rebuild-days']), out }));
    if (database.seed) {
      const age = (Date.now() - seed.seededAt.getTime()) / 60_000;
      out(
        `seed: reused, made ${seed.seededAt.toISOString()} (${age.toFixed(0)} min ago): ${seed.seedSeconds.toFixed(0)} s to seed, ${seed.rebuildSeconds.toFixed(0)} s to rebuild the rollups`,
      );
    }
    if (values.check) {
      const check = await checkRollups(pool);
      out(
        `rollups checked against the runs (recountRunMetrics without fix, everything, repeatable read): ${check.differences} differences over ${check.runs.toLocaleString('en')} finished runs, in ${check.seconds.toFixed(1)} s`,
      );
      if (check.differences > 0) failed = true;
    } else {
      out('rollups not checked against the runs (--no-check)');
    }
    const tables = await describeTables(pool);
    out(
      `run_metrics rows: ${tables.grains.map((g) => `${g.grain} ${g.rows.toLocaleString('en')}`).join(', ')} (${mib(tables.metricsBytes)} with indexes); runs table ${mib(tables.runsBytes)} with indexes`,
    );

    // The API key the questions are asked with, and the web process that answers them.
    const { api, claims } = await startViewerApi(pool, {
      projectId: seed.projectId,
      name: 'metrics bench',
      replace: true,
      databaseUrl: database.url,
      children,
    });
    const busiest = await busiestWorkflow(pool);
    const to = seed.endsAt.getTime();
    const ask = { calls, rawCalls, warmup, pool, api, claims, projectId: seed.projectId, out };

    out('');
    out(
      `raw path: the same question as one SQL statement over meshhook.runs (counts by status, percentile_cont of the durations), under withTenant with the API key's claims (role meshhook_app, RLS), from this process; ${calls} calls per rollup path and ${rawCalls} per raw path after ${warmup} warm-up calls`,
    );
    const summaryOk = await askQuestion({
      ...ask,
      title: `summary of the 30 days before ${iso(to)} (GET /api/metrics/workflows/summary)`,
      target: TARGETS.summary,
      path: `/api/metrics/workflows/summary?from=${iso(to - 30 * DAY_MS)}&to=${iso(to)}`,
      parse: parseSummary,
      rollupSql: () =>
        rollupSummary(pool, { claims, projectId: seed.projectId, from: to - 30 * DAY_MS, to }),
      rawSql: RAW_SUMMARY,
      rawParams: (range) => [seed.projectId, range.from, range.to],
      unit: 'workflows',
    });
    const bucketsOk = await askQuestion({
      ...ask,
      title: `daily buckets of ${busiest.slug} (the busiest workflow, ${busiest.runs.toLocaleString('en')} runs) for the 90 days before ${iso(to)} (GET /api/metrics/workflow/:id?bucket=day)`,
      target: TARGETS.buckets,
      path: `/api/metrics/workflow/${busiest.id}?from=${iso(to - 90 * DAY_MS)}&to=${iso(to)}&bucket=day`,
      parse: parseBuckets,
      rollupSql: () =>
        rollupBuckets(pool, {
          claims,
          projectId: seed.projectId,
          workflowId: busiest.id,
          from: to - 90 * DAY_MS,
          to,
        }),
      rawSql: RAW_BUCKETS,
      rawParams: (range) => [busiest.id, range.from, range.to],
      unit: 'days',
    });
    if (!summaryOk || !bucketsOk) failed = true;
    await api.close();
    await stopChildren(children.splice(0));
  } finally {
    await stopChildren(children);
    await pool.end();
    if (values.drop || !database.name) {
      await database.drop();
      out(`database ${database.name ?? ''} dropped`);
    } else {
      out(`database ${database.name} kept for the next run (--drop to drop it)`);
    }
  }

  if (!values['skip-engine']) {
    out('');
    await measureMetricsCost({
      rounds: Number(values.rounds),
      runs: Number(values['engine-runs']),
      out,
    });
  }
  if (failed) process.exitCode = 1;
}

/** Seeds the runs, builds their rollups and records the seed for the next run to reuse. */
async function seedAndBuild(
  pool: pg.Pool,
  options: { runs: number; chunkDays: number; out: (line: string) => void },
): Promise<SeedRecord> {
  const { out } = options;
  out(`seeding ${options.runs.toLocaleString('en')} runs`);
  const seeded = await seedRuns(pool, {
    runs: options.runs,
    workflows: WORKFLOWS,
    days: DAYS,
    out,
  });
  out(
    `seed: ${options.runs.toLocaleString('en')} runs in ${seeded.seconds.toFixed(0)} s (${(options.runs / seeded.seconds).toFixed(0)} runs/s, with the indexes and vacuum)`,
  );
  const rebuilt = await buildRollups(pool, {
    endsAt: seeded.endsAt,
    days: DAYS,
    chunkDays: options.chunkDays,
    out,
  });
  out(
    `rollups built by recountRunMetrics(fix) in ${rebuilt.seconds.toFixed(0)} s: ${rebuilt.transactions} repeatable-read transactions, ${rebuilt.rows.toLocaleString('en')} rows written from ${rebuilt.runs.toLocaleString('en')} finished runs`,
  );
  const record = {
    runs: options.runs,
    projectId: seeded.projectId,
    endsAt: seeded.endsAt,
    seededAt: new Date(),
    seedSeconds: seeded.seconds,
    rebuildSeconds: rebuilt.seconds,
    schema: await schemaFingerprint(),
  };
  await recordSeed(pool, record);
  return record;
}

/** Asks one question the three ways, prints latencies and ratios; false when answers differ. */
async function askQuestion(q: {
  title: string;
  target: number;
  path: string;
  parse: (body: string) => { from: Date; to: Date; answers: Answer[] };
  rollupSql: () => Promise<unknown>;
  rawSql: string;
  rawParams: (range: { from: Date; to: Date }) => unknown[];
  unit: string;
  calls: number;
  rawCalls: number;
  warmup: number;
  pool: pg.Pool;
  api: ApiClient;
  claims: Claims;
  out: (line: string) => void;
}): Promise<boolean> {
  const { out } = q;
  const answer = q.parse(await q.api.get(q.path));
  const raw = await rawAnswers(q.pool, {
    claims: q.claims,
    sql: q.rawSql,
    params: q.rawParams(answer),
  });
  const agreement = compareAnswers(answer.answers, raw);

  const http = await timeCalls(q.calls, q.warmup, () => q.api.get(q.path));
  const sql = await timeCalls(q.calls, q.warmup, q.rollupSql);
  const rawTimes = await timeCalls(q.rawCalls, Math.min(q.warmup, 2), () =>
    rawAnswers(q.pool, { claims: q.claims, sql: q.rawSql, params: q.rawParams(answer) }),
  );

  const p = (t: number[]) => ({ p50: quantile(t, 0.5), p95: quantile(t, 0.95) });
  const [h, s, r] = [p(http), p(sql), p(rawTimes)];
  const ms = (n: number) => (n < 100 ? n.toFixed(1) : n.toFixed(0)).padStart(8);
  out('');
  out(q.title);
  out(
    `  counted range ${answer.from.toISOString()} → ${answer.to.toISOString()}: ${agreement.runs.toLocaleString('en')} runs in ${agreement.keys} ${q.unit}`,
  );
  out(`  path                                                       p50 ms   p95 ms`);
  out(
    `  rollups through the HTTP API (web process: auth, RLS, JSON) ${ms(h.p50)} ${ms(h.p95)}   target p95 ≤ ${q.target} ms: ${h.p95 <= q.target ? 'met' : 'MISSED'}`,
  );
  out(`  rollups, the API's reads alone (withTenant, this process)   ${ms(s.p50)} ${ms(s.p95)}`);
  out(`  raw runs table (withTenant, this process)                   ${ms(r.p50)} ${ms(r.p95)}`);
  out(
    `  ratio raw ÷ rollups through the API                        ${times(r.p50 / h.p50)} ${times(r.p95 / h.p95)}`,
  );
  const same = agreement.mismatched.length === 0;
  out(
    `  answers: counts ${same ? 'equal' : `DIFFER for ${agreement.mismatched.length}`} in all ${agreement.keys} ${q.unit}; the rollups' p50 and p95 within ${(agreement.p50Off * 100).toFixed(1)}% and ${(agreement.p95Off * 100).toFixed(1)}% of percentile_cont's`,
  );
  return same;
}

async function busiestWorkflow(pool: pg.Pool): Promise<{ id: string; slug: string; runs: number }> {
  const { rows } = await pool.query<{ id: string; slug: string; runs: number }>(
    `select w.id, w.slug, sum(m.succeeded + m.failed + m.canceled)::float8 as runs
     from meshhook.run_metrics m join meshhook.workflows w on w.id = m.workflow_id
     where m.grain = 'all'
     group by w.id, w.slug
     order by runs desc
     limit 1`,
  );
  return rows[0]!;
}

const times = (ratio: number) => `${ratio.toFixed(ratio < 10 ? 2 : 0)}×`.padStart(9);
const iso = (t: number) => new Date(t).toISOString();
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
