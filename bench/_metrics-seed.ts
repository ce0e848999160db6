// The run-metrics benchmark's data: one project, 200 published workflows and millions of
// finished runs spread over 90 days, inserted with plain SQL; then the rollups, built from the
// runs by rebuildRunMetrics as an operator would rebuild them.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { retentionAt } from '../src/core/metric-range.ts';
import { withTransaction } from '../src/db/client.ts';
import { createProject } from '../src/db/queries/projects.ts';
import { recountRunMetrics } from '../src/db/queries/run-metrics.ts';

const DAY_MS = 86_400_000;
/** The retention the web process applies by default (MESHHOOK_METRICS_*_RETENTION_DAYS). */
export const RETENTION_DAYS = { minuteDays: 2, hourDays: 90 };
const CHUNK = 1_000_000;
const NAMES = ['orders', 'invoices', 'refunds', 'shipments', 'signups', 'payouts', 'alerts'];

/** What the seed wrote. */
export interface Seeded {
  projectId: string;
  endsAt: Date;
  seconds: number;
}

/**
 * Inserts the project, `workflows` workflows with a published version each, and `runs` runs
 * finished in the `days` days before now, a million per statement. Per workflow, durations are
 * log-normal with a median between 30 ms and 2 minutes, 2–14% of the runs fail (faster than
 * they succeed) and 0.2–1.2% are canceled, half of those before they started; workflows are
 * unevenly busy (the busiest has about 3.5% of the runs, the quietest 0.3%). A few runs are
 * still queued or running. Seeding only: the session skips commit flushes and foreign-key
 * checks (the rows are built from the tables they point to), and the runs table's secondary
 * indexes are built once at the end rather than row by row.
 */
export async function seedRuns(
  pool: pg.Pool,
  options: { runs: number; workflows: number; days: number; out: (line: string) => void },
): Promise<Seeded> {
  const started = performance.now();
  const endsAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const client = await pool.connect();
  try {
    await client.query(
      `set synchronous_commit = off; set session_replication_role = replica;
       set maintenance_work_mem = '1GB'; select setseed(0.42)`,
    );
    const projectId = await withTransaction(pool, async (db) => {
      const project = await createProject(db, { name: 'metrics bench' });
      await insertWorkflows(db, { projectId: project.id, count: options.workflows });
      return project.id;
    });
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `select c.relname as name, pg_get_indexdef(i.indexrelid) as def
       from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = 'meshhook.runs'::regclass and not i.indisprimary`,
    );
    for (const index of indexes) await client.query(`drop index meshhook.${index.name}`);

    for (let done = 0; done < options.runs;) {
      const n = Math.min(CHUNK, options.runs - done);
      await client.query(INSERT_RUNS, [
        projectId,
        endsAt,
        `${options.days} days`,
        n,
        options.workflows,
      ]);
      done += n;
      const seconds = (performance.now() - started) / 1000;
      options.out(
        `  seeded ${done.toLocaleString('en')} of ${options.runs.toLocaleString('en')} runs (${seconds.toFixed(0)} s)`,
      );
    }
    // The runs in flight now: a few queued and running, which no range counts.
    await client.query(
      `insert into meshhook.runs
         (project_id, workflow_id, version_id, version, status, trigger, created_at, started_at)
       select $1::uuid, w.id, w.version_id, 1, s.status, '{}'::jsonb, s.created_at,
              case when s.status = 'running' then s.created_at + interval '20 ms' end
       from (select least(floor(random() * $3::int), $3::int - 1)::int as idx,
                    case when random() < 0.5 then 'queued' else 'running' end as status,
                    $2::timestamptz - random() * interval '10 minutes' as created_at
             from generate_series(1, greatest(1, $4::int / 10000))) s
       join public.bench_metrics_workflows w on w.idx = s.idx`,
      [projectId, endsAt, options.workflows, options.runs],
    );
    const indexStarted = performance.now();
    for (const index of indexes) await client.query(index.def);
    await client.query(`reset session_replication_role`);
    await client.query(`vacuum (analyze) meshhook.runs`);
    options.out(
      `  indexes rebuilt and runs vacuumed in ${((performance.now() - indexStarted) / 1000).toFixed(0)} s`,
    );
    return { projectId, endsAt, seconds: (performance.now() - started) / 1000 };
  } finally {
    client.release();
  }
}

async function insertWorkflows(
  db: pg.PoolClient,
  input: { projectId: string; count: number },
): Promise<void> {
  const definition = JSON.stringify({
    nodes: [
      { id: 'hook', type: 'webhook', config: {} },
      { id: 'say', type: 'log', config: { level: 'info', message: 'hello' } },
    ],
    edges: [{ from: 'hook', to: 'say' }],
  });
  const idx = Array.from({ length: input.count }, (_, i) => i);
  // Each workflow's character: a median duration (log-uniform, 30 ms to 2 min), a spread, a
  // failure and a cancel share, spread by golden-ratio steps so they do not follow popularity.
  await db.query(
    `create table public.bench_metrics_workflows (
       idx int primary key, id uuid not null, version_id uuid not null,
       mu float8 not null, sigma float8 not null, fail float8 not null, cancel float8 not null)`,
  );
  await db.query(
    `with w as (
       insert into meshhook.workflows
         (project_id, slug, name, definition, webhook_token, published_version)
       select $1::uuid, s.slug, s.name, $2::jsonb, s.token, 1
       from unnest($3::text[], $4::text[], $5::text[]) as s(slug, name, token)
       returning id, slug
     ), v as (
       insert into meshhook.workflow_versions (project_id, workflow_id, version, definition)
       select $1::uuid, w.id, 1, $2::jsonb from w
       returning id, workflow_id
     )
     insert into public.bench_metrics_workflows
     select i, w.id, v.id,
            ln(30) + (ln(120000) - ln(30)) * ((i * 0.6180339887) % 1),
            0.5 + 0.8 * ((i * 0.4142135623) % 1),
            0.02 + 0.12 * ((i * 0.7320508075) % 1) ^ 2,
            0.002 + 0.01 * ((i * 0.2360679774) % 1)
     from w join v on v.workflow_id = w.id
     join lateral (select substr(w.slug, 4)::int as i) n on true`,
    [
      input.projectId,
      definition,
      idx.map((i) => `wf-${String(i).padStart(3, '0')}`),
      idx.map((i) => `${NAMES[i % NAMES.length]} ${i}`),
      idx.map(() => randomBytes(16).toString('hex')),
    ],
  );
}

// One chunk of finished runs. Durations are log-normal (Box–Muller from two uniforms, the
// second normal giving the queue wait, median 15 ms); finished_at is uniform over the days.
const INSERT_RUNS = `
  insert into meshhook.runs
    (project_id, workflow_id, version_id, version, status, trigger, created_at, started_at,
     finished_at)
  select $1::uuid, x.id, x.version_id, 1, x.status, '{}'::jsonb,
         x.finished_at - (x.took_ms + x.wait_ms) * interval '1 millisecond',
         case when x.started then x.finished_at - x.took_ms * interval '1 millisecond' end,
         x.finished_at
  from (
    select w.id, w.version_id,
           case when r.s < w.fail then 'failed'
                when r.s < w.fail + w.cancel then 'canceled'
                else 'succeeded' end as status,
           $2::timestamptz - r.t * $3::interval as finished_at,
           least(exp(w.mu + w.sigma * r.rad * cos(r.theta)), 3600000)
             * case when r.s < w.fail then 0.4 else 1 end as took_ms,
           exp(ln(15) + r.rad * sin(r.theta)) as wait_ms,
           not (r.s >= w.fail and r.s < w.fail + w.cancel / 2) as started
    from (
      select least(floor($5::int * power(random(), 1.6)), $5::int - 1)::int as idx, random() as s,
             random() as t, sqrt(-2 * ln(1 - random())) as rad, 2 * pi() * random() as theta
      from generate_series(1, $4::int)
    ) r
    join public.bench_metrics_workflows w on w.idx = r.idx
  ) x`;

/** How long building the rollups took, and in how many transactions. */
export interface Rebuilt {
  seconds: number;
  transactions: number;
  /** Rollup rows written (differences from empty). */
  rows: number;
  runs: number;
}

/**
 * Builds the rollups from the runs with recountRunMetrics(fix) (rebuildRunMetrics in a
 * repeatable-read transaction): the days in chunks of `chunkDays` (0: all in one call), then
 * everything, which adds the all-time totals. Every difference it writes travels through this
 * process as a row with its histogram, one per rollup row (620,000 for 10 million runs), so
 * the chunks bound its memory.
 */
export async function buildRollups(
  pool: pg.Pool,
  options: { endsAt: Date; days: number; chunkDays: number; out: (line: string) => void },
): Promise<Rebuilt> {
  const started = performance.now();
  const retention = retentionAt(Date.now(), RETENTION_DAYS);
  const first = Math.floor((options.endsAt.getTime() - options.days * DAY_MS) / DAY_MS) * DAY_MS;
  const last = Math.ceil(options.endsAt.getTime() / DAY_MS) * DAY_MS;
  const chunks: Array<{ from: Date; to: Date }> = [];
  if (options.chunkDays > 0) {
    for (let at = first; at < last; at += options.chunkDays * DAY_MS) {
      const to = Math.min(last, at + options.chunkDays * DAY_MS);
      chunks.push({ from: new Date(at), to: new Date(to) });
    }
  }
  let rows = 0;
  let runs = 0;
  const progress = (what: string, written: number) =>
    options.out(
      `  rebuilt ${what}: ${written.toLocaleString('en')} rows written (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  for (const chunk of chunks) {
    const result = await recountRunMetrics(pool, { ...chunk, retention, fix: true });
    rows += result.differences.length;
    runs += result.runs;
    progress(
      `${chunk.from.toISOString().slice(0, 10)} → ${chunk.to.toISOString().slice(0, 10)}`,
      result.differences.length,
    );
  }
  const all = await recountRunMetrics(pool, { retention, fix: true });
  rows += all.differences.length;
  if (chunks.length === 0) runs = all.runs;
  progress('everything', all.differences.length);
  await pool.query(`vacuum (analyze) meshhook.run_metrics`);
  return {
    seconds: (performance.now() - started) / 1000,
    transactions: chunks.length + 1,
    rows,
    runs,
  };
}

/** Compares every rollup with the runs, fixing nothing: how many differ, and how long it took. */
export async function checkRollups(
  pool: pg.Pool,
): Promise<{ differences: number; runs: number; seconds: number }> {
  const started = performance.now();
  const result = await recountRunMetrics(pool, {
    retention: retentionAt(Date.now(), RETENTION_DAYS),
    fix: false,
  });
  return {
    differences: result.differences.length,
    runs: result.runs,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Rows of run_metrics per grain, and the sizes of the two tables. */
export async function describeTables(pool: pg.Pool): Promise<{
  grains: Array<{ grain: string; rows: number }>;
  runsBytes: number;
  metricsBytes: number;
}> {
  const { rows: grains } = await pool.query<{ grain: string; rows: number }>(
    `select grain, count(*)::float8 as rows from meshhook.run_metrics group by grain
     order by array_position(array['minute', 'hour', 'day', 'all'], grain)`,
  );
  const { rows } = await pool.query<{ runs: number; metrics: number }>(
    `select pg_total_relation_size('meshhook.runs')::float8 as runs,
            pg_total_relation_size('meshhook.run_metrics')::float8 as metrics`,
  );
  return { grains, runsBytes: rows[0]!.runs, metricsBytes: rows[0]!.metrics };
}
