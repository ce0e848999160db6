import { DURATION_CELLS } from '../../core/duration-cells.ts';
import { GRAIN_MS, type Grain, type Retention } from '../../core/metric-range.ts';
import type pg from 'pg';
import { withTransaction, type Queryable } from '../client.ts';

/**
 * Reads and upkeep of the run-metric rollups (migration 0005). Runs are counted by a trigger on
 * their final status; everything here reads those rows or keeps them tidy, and `rebuild`
 * checks them against the runs.
 */

// Rows inserted into run_metrics (as `m`) add to a row that exists, as meshhook.count_runs does.
const ADD_TO_EXISTING = `on conflict (workflow_id, grain, bucket_start, shard) do update
  set succeeded = m.succeeded + excluded.succeeded,
      failed = m.failed + excluded.failed,
      canceled = m.canceled + excluded.canceled,
      durations = meshhook.add_cells(m.durations, excluded.durations),
      last_finished_at = greatest(m.last_finished_at, excluded.last_finished_at)`;

/** Finished runs summed over shards, and over buckets for range totals. */
export interface MetricRow {
  /** Null when the read was not kept apart by workflow. */
  workflowId: string | null;
  /** The bucket's start (epoch ms) for reads kept apart by bucket. */
  bucketStart?: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Runs by duration cell (src/core/duration-cells.ts), when asked for. */
  durations?: number[];
  lastFinishedAt: Date | null;
}

interface MetricRowRow {
  workflow_id: string | null;
  bucket_start?: Date;
  succeeded: number;
  failed: number;
  canceled: number;
  durations?: number[];
  last_finished_at: Date | null;
}

const toRow = (r: MetricRowRow): MetricRow => ({
  workflowId: r.workflow_id,
  ...(r.bucket_start ? { bucketStart: r.bucket_start.getTime() } : {}),
  succeeded: r.succeeded,
  failed: r.failed,
  canceled: r.canceled,
  ...(r.durations ? { durations: r.durations } : {}),
  lastFinishedAt: r.last_finished_at,
});

const COUNTS = `sum(m.succeeded)::float8 as succeeded, sum(m.failed)::float8 as failed,
  sum(m.canceled)::float8 as canceled, max(m.last_finished_at) as last_finished_at`;

// The histograms summed cell by cell: one native sum per cell, far cheaper than unnesting.
const DURATIONS = `array[${Array.from(
  { length: DURATION_CELLS },
  (_, i) => `sum(m.durations[${i + 1}])`,
).join(', ')}]::float8[] as durations`;

/**
 * The project's `grain` buckets starting in [from, to): of one workflow or some, kept apart by
 * workflow and/or by bucket as asked, with the duration histograms when `durations` is set.
 */
export async function readMetrics(
  db: Queryable,
  input: {
    projectId: string;
    grain: Grain;
    from: number;
    to: number;
    workflowIds?: string[];
    byWorkflow?: boolean;
    byBucket?: boolean;
    durations?: boolean;
  },
): Promise<MetricRow[]> {
  const keys = [
    input.byWorkflow ? 'm.workflow_id' : 'null::uuid as workflow_id',
    ...(input.byBucket ? ['m.bucket_start'] : []),
  ];
  const groups = [
    ...(input.byWorkflow ? ['m.workflow_id'] : []),
    ...(input.byBucket ? ['m.bucket_start'] : []),
  ];
  // One workflow is read through the primary key, the project through its index.
  const { rows } = await db.query<MetricRowRow>(
    `select ${keys.join(', ')}, ${COUNTS}${input.durations ? `, ${DURATIONS}` : ''}
     from run_metrics m
     where m.project_id = $1::uuid and m.grain = $2 and m.bucket_start >= $3 and m.bucket_start < $4
       and ($5::uuid[] is null or m.workflow_id = any($5::uuid[]))
     ${groups.length > 0 ? `group by ${groups.join(', ')}` : ''}`,
    [
      input.projectId,
      input.grain,
      new Date(input.from),
      new Date(input.to),
      input.workflowIds ?? null,
    ],
  );
  // Without groups and without rows, the aggregate still answers one row of nulls.
  return rows.filter((r) => r.last_finished_at !== null).map(toRow);
}

/** The project's all-time totals by workflow (what each workflow's last run was). */
export async function readAllTime(
  db: Queryable,
  input: { projectId: string },
): Promise<MetricRow[]> {
  const { rows } = await db.query<MetricRowRow>(
    `select m.workflow_id, ${COUNTS}
     from run_metrics m
     where m.project_id = $1::uuid and m.grain = 'all'
     group by m.workflow_id`,
    [input.projectId],
  );
  return rows.map(toRow);
}

/**
 * All-time totals of every workflow of every project, with its slug, for /metrics. Read per
 * workflow through the primary key: a join lets the planner scan the whole table, minute and
 * hour rows included.
 */
export async function readInstanceRunTotals(
  db: Queryable,
): Promise<Array<MetricRow & { workflowId: string; projectId: string; slug: string }>> {
  const { rows } = await db.query<
    MetricRowRow & { workflow_id: string; project_id: string; slug: string }
  >(
    `select w.project_id, w.id as workflow_id, w.slug, m.*
     from workflows w
     cross join lateral (
       select ${COUNTS}, ${DURATIONS}
       from run_metrics m
       where m.workflow_id = w.id and m.grain = 'all'
       having count(*) > 0
     ) m`,
  );
  return rows.map((r) => ({
    ...toRow(r),
    workflowId: r.workflow_id,
    projectId: r.project_id,
    slug: r.slug,
  }));
}

/** All-time step outcomes of every workflow, for /metrics. */
export async function readInstanceStepTotals(db: Queryable): Promise<
  Array<{
    projectId: string;
    workflowId: string;
    slug: string;
    status: string;
    count: number;
  }>
> {
  const { rows } = await db.query<{
    project_id: string;
    workflow_id: string;
    slug: string;
    status: string;
    count: number;
  }>(
    `select m.project_id, m.workflow_id, w.slug, m.status, sum(m.count)::float8 as count
     from step_metrics m join workflows w on w.id = m.workflow_id
     group by m.project_id, m.workflow_id, w.slug, m.status`,
  );
  return rows.map((r) => ({
    projectId: r.project_id,
    workflowId: r.workflow_id,
    slug: r.slug,
    status: r.status,
    count: r.count,
  }));
}

/** The queue now: jobs ready and waiting for a worker, leased, and scheduled for later. */
export async function readQueueDepth(db: Queryable): Promise<{
  ready: number;
  leased: number;
  scheduled: number;
  oldestReadySeconds: number;
}> {
  const { rows } = await db.query<{
    ready: number;
    leased: number;
    scheduled: number;
    oldest: number | null;
  }>(
    `select count(*) filter (where lease_id is null and run_at <= now())::float8 as ready,
            count(*) filter (where lease_id is not null)::float8 as leased,
            count(*) filter (where lease_id is null and run_at > now())::float8 as scheduled,
            extract(epoch from now() - min(run_at) filter (where lease_id is null and run_at <= now()))::float8 as oldest
     from step_jobs`,
  );
  const row = rows[0]!;
  return {
    ready: row.ready,
    leased: row.leased,
    scheduled: row.scheduled,
    oldestReadySeconds: row.oldest ?? 0,
  };
}

/**
 * Folds the shards of buckets that ended over five minutes ago into shard 0, and deletes
 * minute and hour rows older than the retention. The shards exist so that concurrent writers
 * of a live bucket never meet; once a bucket is past, one row per cell reads faster.
 */
export async function compactRunMetrics(
  db: Queryable,
  retention: Retention,
): Promise<{ folded: number; deleted: number }> {
  const folded = await db.query<{ n: number }>(
    `with moved as (
       delete from run_metrics m
       where m.shard <> 0 and m.grain <> 'all'
         and m.bucket_start + ('1 ' || m.grain)::interval < now() - interval '5 minutes'
       returning m.*
     ), merged as (
       insert into run_metrics as m
         (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled,
          durations, last_finished_at)
       select project_id, workflow_id, grain, bucket_start, 0, sum(succeeded), sum(failed),
              sum(canceled), meshhook.sum_cells(durations), max(last_finished_at)
       from moved
       group by project_id, workflow_id, grain, bucket_start
       order by workflow_id, grain, bucket_start
       ${ADD_TO_EXISTING}
     )
     select count(*)::int as n from moved`,
  );
  // Retention boundaries are aligned (src/core/metric-range.ts); rows before them are never read.
  const deleted = await db.query<{ n: number }>(
    `with gone as (
       delete from run_metrics m using projects p
       where m.project_id = p.id
         and (m.grain = 'minute' and m.bucket_start < $1 or m.grain = 'hour' and m.bucket_start < $2)
       returning 1
     )
     select count(*)::int as n from gone`,
    [new Date(retention.minuteSince - GRAIN_MS.hour), new Date(retention.hourSince - GRAIN_MS.day)],
  );
  return { folded: folded.rows[0]!.n, deleted: deleted.rows[0]!.n };
}

/** A bucket whose stored counts differ from what its runs say. */
export interface MetricDifference {
  workflowId: string;
  grain: Grain | 'all';
  bucketStart: Date | null;
  expected: BucketCounts;
  stored: BucketCounts;
}

/** A bucket's counts: by outcome, and by duration cell. */
export interface BucketCounts {
  succeeded: number;
  failed: number;
  canceled: number;
  durations: number[];
}

// The runs finished in [from, to), counted as finish_runs counts them, against the stored rows
// of the same buckets. Minute and hour buckets are compared only from their retention on;
// the all-time totals only when the range is everything.
const DIFF = `
  with finished as (
    select project_id, workflow_id, status, finished_at,
           meshhook.duration_cell(finished_at - coalesce(started_at, created_at)) as cell
    from runs
    where status in ('succeeded', 'failed', 'canceled')
      and finished_at >= $1 and finished_at < $2
  ), grains as (
    select * from (values ('minute', $3::timestamptz), ('hour', $4::timestamptz),
                          ('day', '-infinity'::timestamptz)) g(grain, since)
    union all
    select 'all', '-infinity' where $5::boolean
  ), expected as (
    select f.project_id, f.workflow_id, g.grain,
           case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, f.finished_at, 'UTC') end
             as bucket_start,
           count(*) filter (where f.status = 'succeeded')::int as succeeded,
           count(*) filter (where f.status = 'failed')::int as failed,
           count(*) filter (where f.status = 'canceled')::int as canceled,
           meshhook.cell_counts(array_agg(f.cell)) as durations,
           max(f.finished_at) as last_finished_at,
           min(g.since) as since
    from finished f cross join grains g
    group by 1, 2, 3, 4
  ), stored as (
    select m.project_id, m.workflow_id, m.grain, m.bucket_start,
           sum(m.succeeded)::int as succeeded, sum(m.failed)::int as failed,
           sum(m.canceled)::int as canceled, meshhook.sum_cells(m.durations) as durations
    from run_metrics m join grains g on g.grain = m.grain
    where m.grain = 'all' or m.bucket_start >= greatest($1, g.since) and m.bucket_start < $2
    group by 1, 2, 3, 4
  ), zero as (
    select meshhook.cell_counts('{}') as durations
  )
  select coalesce(e.project_id, s.project_id) as project_id,
         coalesce(e.workflow_id, s.workflow_id) as workflow_id,
         coalesce(e.grain, s.grain) as grain,
         coalesce(e.bucket_start, s.bucket_start) as bucket_start,
         coalesce(e.succeeded, 0) as e_succeeded, coalesce(e.failed, 0) as e_failed,
         coalesce(e.canceled, 0) as e_canceled, coalesce(e.durations, z.durations) as e_durations,
         e.last_finished_at,
         coalesce(s.succeeded, 0) as s_succeeded, coalesce(s.failed, 0) as s_failed,
         coalesce(s.canceled, 0) as s_canceled, coalesce(s.durations, z.durations) as s_durations
  from (select * from expected e where e.grain = 'all' or e.bucket_start >= greatest($1, e.since)) e
  full join stored s using (workflow_id, grain, bucket_start)
  cross join zero z
  where coalesce(e.succeeded, 0) <> coalesce(s.succeeded, 0)
     or coalesce(e.failed, 0) <> coalesce(s.failed, 0)
     or coalesce(e.canceled, 0) <> coalesce(s.canceled, 0)
     or coalesce(e.durations, z.durations) <> coalesce(s.durations, z.durations)
  order by 2, 3, 4`;

interface DiffRow {
  project_id: string;
  workflow_id: string;
  grain: Grain | 'all';
  bucket_start: Date;
  e_succeeded: number;
  e_failed: number;
  e_canceled: number;
  e_durations: number[];
  last_finished_at: Date | null;
  s_succeeded: number;
  s_failed: number;
  s_canceled: number;
  s_durations: number[];
}

/**
 * Compares the rollups of [from, to) (whole UTC days) with a count over the runs. Run it in a
 * repeatable-read transaction: runs and their counts commit together, so one snapshot sees
 * both or neither of every run. With `fix`, adds the differences into shard 0, which is exact
 * even while runs keep finishing: a concurrent run adds its own count on top.
 */
export async function rebuildRunMetrics(
  db: Queryable,
  input: { from: Date; to: Date; everything: boolean; retention: Retention; fix: boolean },
): Promise<{ differences: MetricDifference[]; runs: number }> {
  const { rows } = await db.query<DiffRow>(DIFF, [
    input.from,
    input.to,
    new Date(input.retention.minuteSince),
    new Date(input.retention.hourSince),
    input.everything,
  ]);
  const runs = await db.query<{ n: number }>(
    `select count(*)::float8 as n from runs
     where status in ('succeeded', 'failed', 'canceled') and finished_at >= $1 and finished_at < $2`,
    [input.from, input.to],
  );
  if (input.fix && rows.length > 0) {
    await db.query(
      `insert into run_metrics as m
         (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled,
          durations, last_finished_at)
       select d.project_id, d.workflow_id, d.grain, d.bucket_start, 0, d.succeeded, d.failed,
              d.canceled, (select array_agg(x) from jsonb_array_elements_text(d.durations) x)::int[],
              coalesce(d.last_finished_at, d.bucket_start)
       from jsonb_to_recordset($1::jsonb)
         as d(project_id uuid, workflow_id uuid, grain text, bucket_start timestamptz,
              succeeded int, failed int, canceled int, durations jsonb,
              last_finished_at timestamptz)
       order by d.workflow_id, d.grain, d.bucket_start
       ${ADD_TO_EXISTING}`,
      [
        JSON.stringify(
          rows.map((r) => ({
            project_id: r.project_id,
            workflow_id: r.workflow_id,
            grain: r.grain,
            bucket_start: r.grain === 'all' ? '-infinity' : r.bucket_start,
            succeeded: r.e_succeeded - r.s_succeeded,
            failed: r.e_failed - r.s_failed,
            canceled: r.e_canceled - r.s_canceled,
            durations: r.e_durations.map((n, i) => n - r.s_durations[i]!),
            last_finished_at: r.last_finished_at,
          })),
        ),
      ],
    );
  }
  const counts = (r: DiffRow, side: 'e' | 's'): BucketCounts => ({
    succeeded: r[`${side}_succeeded`],
    failed: r[`${side}_failed`],
    canceled: r[`${side}_canceled`],
    durations: r[`${side}_durations`],
  });
  return {
    runs: runs.rows[0]!.n,
    differences: rows.map((r) => ({
      workflowId: r.workflow_id,
      grain: r.grain,
      bucketStart: r.grain === 'all' ? null : r.bucket_start,
      expected: counts(r, 'e'),
      stored: counts(r, 's'),
    })),
  };
}

/**
 * rebuildRunMetrics in a repeatable-read transaction of its own, over [from, to) or, without
 * them, everything (all-time totals included).
 */
export async function recountRunMetrics(
  pool: pg.Pool,
  input: { from?: Date; to?: Date; retention: Retention; fix: boolean },
): Promise<{ differences: MetricDifference[]; runs: number }> {
  return withTransaction(pool, async (tx) => {
    // One snapshot for the runs and their counts: they commit together.
    await tx.query('set transaction isolation level repeatable read');
    return rebuildRunMetrics(tx, {
      from: input.from ?? new Date(0),
      to: input.to ?? new Date(Date.UTC(9999, 0, 1)),
      everything: input.from === undefined && input.to === undefined,
      retention: input.retention,
      fix: input.fix,
    });
  });
}
