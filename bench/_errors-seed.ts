// The error-metrics query's data: millions of error events over the last 90 days, generated in
// SQL from the catalogue into error_events' daily partitions, their issues, and error_counts
// built from those events by one insert … select … group by, so the rollups count exactly the
// events. Run metrics of the same days are seeded too (one folded row per workflow and day),
// since the endpoint reads them beside the errors.
import type pg from 'pg';
import { retentionAt } from '../src/core/metric-range.ts';
import {
  ERROR_KINDS,
  fillTemplate,
  WORKFLOW_SKEW,
  type FixtureProject,
} from './_errors-fixture.ts';
import { RETENTION_DAYS } from './_metrics-seed.ts';

const DAY_MS = 86_400_000;
const CHUNK = 1_000_000;

/** What the seed wrote and how long it took. */
export interface ErrorSeed extends CountsShape {
  /** The events happened in the days before this instant. */
  endsAt: Date;
  seedSeconds: number;
  countsSeconds: number;
}

/** error_counts rows by grain, the sizes with indexes of the two tables, and the issues. */
export interface CountsShape {
  grains: Array<{ grain: string; rows: number }>;
  eventsBytes: number;
  countsBytes: number;
  issues: number;
}

/**
 * Seeds `events` error events over the `days` days before now for these projects: the kinds by
 * their weights, the projects by their shares, workflows unevenly busy, severities by each
 * kind's shares, uniform in time. Counts are spread over `shards` shards, as transactions on
 * that many connections leave them before the sweep folds the closed buckets' (the benchmark
 * runs that sweep itself, after measuring the unfolded rows). Minute and hour counts are kept
 * only within the default retention (2 and 90 days), as the sweep keeps them.
 */
export async function seedErrors(
  pool: pg.Pool,
  options: {
    projects: readonly FixtureProject[];
    events: number;
    days: number;
    shards: number;
    out: (line: string) => void;
  },
): Promise<ErrorSeed> {
  const { projects, events, days, out } = options;
  const client = await pool.connect();
  try {
    // Seeding only: no commit flush, no foreign-key triggers, room to group in memory.
    await client.query(`set synchronous_commit = off`);
    await client.query(`set session_replication_role = replica`);
    await client.query(`set work_mem = '1GB'`);
    await client.query(`set maintenance_work_mem = '1GB'`);
    const started = performance.now();
    const endsAt = new Date();
    await insertCatalogue(client, projects);
    const first = new Date(endsAt.getTime() - days * DAY_MS);
    await client.query(
      `select meshhook.ensure_daily_partitions('error_events', ($1::timestamptz at time zone 'UTC')::date,
                                               ($2::timestamptz at time zone 'UTC')::date)`,
      [first, endsAt],
    );
    for (let done = 0; done < events; done += CHUNK) {
      const n = Math.min(CHUNK, events - done);
      await client.query(INSERT_EVENTS, [n, endsAt, days]);
      out(
        `  ${(done + n).toLocaleString('en')} events (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
    await client.query(
      `update meshhook.error_issues i
       set count = e.n, first_seen = e.first_seen, last_seen = e.last_seen,
           severity = (array['low', 'medium', 'high'])[e.rank]
       from (select issue_id, count(*) as n, min(ts) as first_seen, max(ts) as last_seen,
                    max(meshhook.severity_rank(severity)) as rank
             from meshhook.error_events group by issue_id) e
       where e.issue_id = i.id`,
    );
    await client.query(`delete from meshhook.error_issues where count = 0`);
    const seedSeconds = (performance.now() - started) / 1000;

    const countsStarted = performance.now();
    const kept = retentionAt(Date.now(), RETENTION_DAYS);
    await client.query(INSERT_COUNTS, [
      options.shards,
      new Date(kept.minuteSince),
      new Date(kept.hourSince),
    ]);
    await client.query(INSERT_RUN_METRICS);
    await client.query(`reset session_replication_role`);
    for (const table of ['error_events', 'error_issues', 'error_counts', 'run_metrics'])
      await client.query(`vacuum (analyze) meshhook.${table}`);
    const countsSeconds = (performance.now() - countsStarted) / 1000;

    const shape = await countsShape(client);
    return {
      endsAt,
      seedSeconds,
      countsSeconds,
      ...shape,
    };
  } finally {
    client.release();
  }
}

/**
 * The catalogue, the projects and their workflows as lookup tables (one row per thousandth for
 * the weighted draws), and one issue per project, kind and (for workflow kinds) workflow.
 */
async function insertCatalogue(
  db: pg.PoolClient,
  projects: readonly FixtureProject[],
): Promise<void> {
  await db.query(
    `create table public.bench_error_kinds (
       idx int primary key, source text not null, error_type text not null,
       in_workflow boolean not null, node_id text, high float8 not null, medium float8 not null,
       template text not null, title text not null, stack text)`,
  );
  await db.query(
    `insert into public.bench_error_kinds
     select * from unnest($1::int[], $2::text[], $3::text[], $4::boolean[], $5::text[],
                          $6::float8[], $7::float8[], $8::text[], $9::text[], $10::text[])`,
    [
      ERROR_KINDS.map((_, i) => i),
      ERROR_KINDS.map((k) => k.source),
      ERROR_KINDS.map((k) => k.errorType),
      ERROR_KINDS.map((k) => k.inWorkflow),
      ERROR_KINDS.map((k) => k.nodeId),
      ERROR_KINDS.map((k) => k.high),
      ERROR_KINDS.map((k) => k.medium),
      ERROR_KINDS.map((k) => k.template),
      ERROR_KINDS.map((k) => fillTemplate(k.template, 0, '<uuid>').slice(0, 200)),
      // A thrown error's stack: its message line and a few frames of the process.
      ERROR_KINDS.map((k) =>
        k.thrown ? `${k.thrown.name ?? 'Error'}: %s\n${STACK_FRAMES}` : null,
      ),
    ],
  );
  const kinds = ERROR_KINDS.flatMap((k, i) => Array.from({ length: k.weight }, () => i));
  await db.query(
    `create table public.bench_error_kind_slots as
     select s.n::int - 1 as slot, s.kind from unnest($1::int[]) with ordinality as s(kind, n)`,
    [kinds],
  );
  const workflows = projects.flatMap((p, i) =>
    p.workflows.map((w, widx) => ({ project: i, projectId: p.id, widx, id: w.id })),
  );
  await db.query(
    `create table public.bench_error_workflows as
     select * from unnest($1::int[], $2::uuid[], $3::int[], $4::uuid[])
       as w(project_idx, project_id, widx, workflow_id)`,
    [
      workflows.map((w) => w.project),
      workflows.map((w) => w.projectId),
      workflows.map((w) => w.widx),
      workflows.map((w) => w.id),
    ],
  );
  const owners = projects.flatMap((p, i) =>
    Array.from({ length: Math.round(p.share * 1000) }, () => i),
  );
  await db.query(
    `create table public.bench_error_project_slots as
     select s.n::int - 1 as slot, s.project_idx, w.workflows
     from unnest($1::int[]) with ordinality as s(project_idx, n)
     join (select project_idx, count(*)::int as workflows from public.bench_error_workflows
           group by 1) w using (project_idx)`,
    [owners],
  );
  // An issue per project and kind, and per workflow for the kinds that happen in one; its
  // counts, times and severity are set from the events once they are in.
  await db.query(
    `create table public.bench_error_issue_keys as
     select w.project_idx, k.idx as kind_idx, case when k.in_workflow then w.widx else -1 end as widx,
            gen_random_uuid() as issue_id,
            min(w.project_id::text)::uuid as project_id,
            min(case when k.in_workflow then w.workflow_id::text end)::uuid as workflow_id
     from public.bench_error_kinds k cross join public.bench_error_workflows w
     group by 1, 2, 3`,
  );
  await db.query(
    `insert into meshhook.error_issues
       (id, project_id, fingerprint, title, source, error_type, severity, count, first_seen,
        last_seen, workflow_id, node_id)
     select i.issue_id, i.project_id, md5(i.issue_id::text), k.title, k.source, k.error_type,
            'low', 0, now(), now(), i.workflow_id, k.node_id
     from public.bench_error_issue_keys i join public.bench_error_kinds k on k.idx = i.kind_idx`,
  );
  for (const table of ['kinds', 'kind_slots', 'workflows', 'project_slots', 'issue_keys'])
    await db.query(`analyze public.bench_error_${table}`);
}

const STACK_FRAMES = [
  '    at readRun (file:///srv/meshhook/src/db/queries/runs.ts:88:21)',
  '    at async withTransaction (file:///srv/meshhook/src/db/client.ts:45:20)',
  '    at async file:///srv/meshhook/src/http/api/runs.ts:61:19',
  '    at async dispatch (file:///srv/meshhook/node_modules/hono/dist/compose.js:22:17)',
  '    at async cors (file:///srv/meshhook/node_modules/hono/dist/middleware/cors/index.js:79:5)',
].join('\n');

// One chunk of events: each draws a kind, a project, one of its workflows (skewed), a severity
// and an instant uniform over the days; ids vary in the messages as in the capture part.
const INSERT_EVENTS = `
  insert into meshhook.error_events
    (error_id, ts, project_id, issue_id, source, error_type, severity, message, stack,
     workflow_id, run_id, node_id, user_id, metadata)
  select gen_random_uuid(), r.ts, w.project_id, i.issue_id, k.source, k.error_type,
         case when r.s < k.high then 'high' when r.s < k.high + k.medium then 'medium' else 'low' end,
         x.message,
         replace(k.stack, '%s', x.message),
         case when k.in_workflow then w.workflow_id end,
         case when k.source = 'worker' then gen_random_uuid() end,
         k.node_id, null,
         case when k.source = 'worker' then '{"attempt": 1, "max_attempts": 1}'::jsonb
              else '{}'::jsonb end
  from (
    select floor(random() * 1000)::int as kind_slot, floor(random() * 1000)::int as project_slot,
           random() as u, random() as s, floor(random() * 1000000)::int as n,
           $2::timestamptz - random() * $3::int * interval '1 day' as ts
    from generate_series(1, $1::int)
  ) r
  join public.bench_error_kind_slots ks on ks.slot = r.kind_slot
  join public.bench_error_kinds k on k.idx = ks.kind
  join public.bench_error_project_slots ps on ps.slot = r.project_slot
  join public.bench_error_workflows w
    on w.project_idx = ps.project_idx
   and w.widx = least(floor(ps.workflows * power(r.u, ${WORKFLOW_SKEW}))::int, ps.workflows - 1)
  join public.bench_error_issue_keys i
    on i.project_idx = ps.project_idx and i.kind_idx = k.idx
   and i.widx = case when k.in_workflow then w.widx else -1 end
  cross join lateral (select format(k.template, r.n, gen_random_uuid()) as message) x`;

// The rollups, from the events: every grain in one statement, each event in one shard (a hash
// of its id). Rows go in by day, shuffled within it, as live writes interleave them.
const INSERT_COUNTS = `
  insert into meshhook.error_counts
    (project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count)
  select project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count(*)
  from (
    select e.project_id, g.grain,
           case when g.grain = 'all' then '-infinity'::timestamptz
                else date_trunc(g.grain, e.ts, 'UTC') end as bucket_start,
           e.source, e.error_type, e.severity, e.workflow_id,
           (get_byte(uuid_send(e.error_id), 15) % $1::int)::smallint as shard
    from meshhook.error_events e
    cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
    where g.grain in ('day', 'all')
       or (g.grain = 'minute' and e.ts >= $2::timestamptz)
       or (g.grain = 'hour' and e.ts >= $3::timestamptz)
  ) x
  group by 1, 2, 3, 4, 5, 6, 7, 8
  order by date_trunc('day', bucket_start, 'UTC'), random()`;

// Runs of the same days, as the sweep leaves them (shard 0): nine succeeded per error of the
// workflow that day, and as many failed as high-severity step errors.
const INSERT_RUN_METRICS = `
  with days as (
    select project_id, workflow_id, bucket_start, sum(count)::int as errors,
           (sum(count) filter (where source = 'worker' and severity = 'high'))::int as failed
    from meshhook.error_counts
    where grain = 'day' and workflow_id is not null
    group by 1, 2, 3
  ), rows as (
    insert into meshhook.run_metrics
      (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled, durations,
       last_finished_at)
    select project_id, workflow_id, 'day', bucket_start, 0, 9 * errors, coalesce(failed, 0), 0,
           array_fill(0, array[72]), bucket_start + interval '1 day' - interval '1 second'
    from days
    returning *
  )
  insert into meshhook.run_metrics
    (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled, durations,
     last_finished_at)
  select project_id, workflow_id, 'all', '-infinity', 0, sum(succeeded), sum(failed), 0,
         array_fill(0, array[72]), max(last_finished_at)
  from rows
  group by 1, 2`;

/** What error_counts and error_events hold now: rows by grain and sizes with indexes. */
export async function countsShape(db: pg.Pool | pg.PoolClient): Promise<CountsShape> {
  const { rows: grains } = await db.query<{ grain: string; rows: number }>(
    `select grain, count(*)::float8 as rows from meshhook.error_counts group by grain
     order by array_position(array['minute', 'hour', 'day', 'all'], grain)`,
  );
  const { rows } = await db.query<{ events: number; counts: number; issues: number }>(
    `select pg_total_relation_size('meshhook.error_counts')::float8 as counts,
            (select coalesce(sum(pg_total_relation_size(inhrelid)), 0)::float8 from pg_inherits
             where inhparent = 'meshhook.error_events'::regclass) as events,
            (select count(*)::int from meshhook.error_issues) as issues`,
  );
  const sizes = rows[0]!;
  return {
    grains,
    eventsBytes: sizes.events,
    countsBytes: sizes.counts,
    issues: sizes.issues,
  };
}
