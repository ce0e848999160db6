-- Run metrics: how many runs of each workflow succeeded, failed or were canceled, and how long
-- they took, by minute, hour and UTC day and over all time, counted in the transaction that
-- finishes the run.
--
-- Runs are finished by one function, finish_runs, which sets the final status only where the
-- run is still queued or running and counts exactly the runs it finished, in the same
-- statement: a run retried after a worker crash, or finished twice by mistake, is counted
-- once. The counters are spread over shards so that concurrent transactions finishing runs of
-- one workflow never wait on one row: each transaction claims a shard of its own for its
-- lifetime with a transaction-scoped advisory lock (see metric_shard), and readers sum the
-- shards. The sweep folds the shards of past buckets into shard 0 and drops minute and hour
-- buckets past their retention.
--
-- Durations are kept as a histogram in each row: the runs by duration cell, cells being the R10
-- series (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8 times a power of ten) from 1 ms to 10,000 s.
-- One row per workflow and bucket keeps range reads short: a 30-day summary of 200 workflows
-- sums some 6,000 rows.

-- The lower bounds (ms) of duration cells 1..71; cell 0 holds runs shorter than 1 ms.
-- src/core/duration-cells.ts holds the same list; a test keeps the two equal.
create function meshhook.duration_cell_bounds() returns float8[]
language sql immutable parallel safe
as $$
  select array_agg(b order by b) from (
    select round((m * 10 ^ k)::numeric, 3)::float8 as b
    from generate_series(0, 6) k,
         unnest(array[1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8]::float8[]) m
    union all
    select 1e7
  ) bounds
$$;

-- The duration cell of a run that took `took`.
create function meshhook.duration_cell(took interval) returns smallint
language sql immutable parallel safe
as $$
  select width_bucket(extract(epoch from took)::float8 * 1000, meshhook.duration_cell_bounds())::smallint
$$;

-- Counts by duration cell as the rows keep them: element i + 1 holds cell i, for cells 0..71.
-- (PL/pgSQL on purpose: its in-place array updates are 20 times faster here than SQL's joins.)
create function meshhook.cell_counts(cells smallint[]) returns integer[]
language plpgsql immutable parallel safe
as $$
declare
  counts integer[] := array_fill(0, array[72]);
  cell smallint;
begin
  foreach cell in array coalesce(cells, '{}') loop
    counts[cell + 1] := counts[cell + 1] + 1;
  end loop;
  return counts;
end
$$;

-- Element-wise sum (b negated with sign = -1) of two cell-count arrays.
create function meshhook.add_cells(a integer[], b integer[], sign integer default 1)
returns integer[]
language plpgsql immutable parallel safe
as $$
begin
  for i in 1..72 loop
    if b[i] <> 0 then
      a[i] := a[i] + sign * b[i];
    end if;
  end loop;
  return a;
end
$$;
create function meshhook.add_cells_state(a integer[], b integer[]) returns integer[]
language sql immutable strict parallel safe
as $$ select meshhook.add_cells(a, b) $$;
create aggregate meshhook.sum_cells(integer[]) (sfunc = meshhook.add_cells_state, stype = integer[]);

create table run_metrics (
  project_id uuid not null,
  workflow_id uuid not null references workflows on delete cascade,
  grain text not null check (grain in ('minute', 'hour', 'day', 'all')),
  -- The bucket's first instant, UTC-aligned; -infinity for the all-time totals.
  bucket_start timestamptz not null,
  shard smallint not null,
  succeeded integer not null default 0,
  failed integer not null default 0,
  canceled integer not null default 0,
  -- The runs by duration cell (see cell_counts).
  durations integer[] not null,
  last_finished_at timestamptz not null,
  primary key (workflow_id, grain, bucket_start, shard)
) with (fillfactor = 80); -- room on the page keeps counter updates HOT
create index run_metrics_project on run_metrics (project_id, grain, bucket_start);

-- Steps by outcome, over all time (for /metrics): succeeded, failed (the last attempt failed),
-- retried (an attempt failed and another was scheduled) and canceled.
create table step_metrics (
  project_id uuid not null,
  workflow_id uuid not null references workflows on delete cascade,
  status text not null check (status in ('succeeded', 'failed', 'retried', 'canceled')),
  shard smallint not null,
  count bigint not null default 0,
  primary key (workflow_id, status, shard)
);

-- The totals per workflow, in the shape of the original design's table.
create view workflow_run_metrics with (security_invoker = true) as
  select project_id, workflow_id,
         sum(succeeded)::bigint as success_count,
         sum(failed)::bigint as failure_count,
         sum(canceled)::bigint as canceled_count,
         max(last_finished_at) as last_updated
  from run_metrics
  where grain = 'all'
  group by project_id, workflow_id;

-- Metric shards. A transaction takes the first free one of 16, starting from one that depends
-- on its backend, and holds it until it ends, so two open transactions never write the same
-- counter row; past 16 concurrent writers, they share.
create function meshhook.metric_shard() returns smallint
language plpgsql volatile
as $$
declare
  base integer := pg_backend_pid() % 16;
begin
  for i in 0..15 loop
    if pg_try_advisory_xact_lock(1296583496, (base + i) % 16) then
      return (base + i) % 16;
    end if;
  end loop;
  return base;
end
$$;

-- Adds finished runs to their minute, hour, day and all-time rows, in this transaction's shard.
-- Rows go in key order, so writers that share a shard lock them in one order.
create function meshhook.count_runs(
  project_ids uuid[], workflow_ids uuid[], statuses text[], finished timestamptz[],
  cells smallint[])
returns void
language sql volatile
set search_path = meshhook, pg_temp
as $$
  insert into run_metrics as m
    (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled, durations,
     last_finished_at)
  select f.project_id, f.workflow_id, g.grain,
         case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, f.finished_at, 'UTC') end,
         s.shard,
         count(*) filter (where f.status = 'succeeded'),
         count(*) filter (where f.status = 'failed'),
         count(*) filter (where f.status = 'canceled'),
         meshhook.cell_counts(array_agg(f.cell)),
         max(f.finished_at)
  from unnest(project_ids, workflow_ids, statuses, finished, cells)
         as f(project_id, workflow_id, status, finished_at, cell)
  cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
  cross join (select meshhook.metric_shard() as shard) s
  group by 1, 2, 3, 4, 5
  order by 2, 3, 4, 5
  on conflict (workflow_id, grain, bucket_start, shard) do update
    set succeeded = m.succeeded + excluded.succeeded,
        failed = m.failed + excluded.failed,
        canceled = m.canceled + excluded.canceled,
        durations = meshhook.add_cells(m.durations, excluded.durations),
        last_finished_at = greatest(m.last_finished_at, excluded.last_finished_at)
$$;

-- Finishes runs: sets the final status, error and finish time of those still queued or
-- running, counts them, and returns their ids. The only way a run becomes final.
create function meshhook.finish_runs(
  ids uuid[], statuses text[], errors jsonb[], at timestamptz default now())
returns setof uuid
language plpgsql volatile
set search_path = meshhook, pg_temp
as $$
declare
  done record;
begin
  with finished as (
    update runs r set status = f.status, error = f.error, finished_at = at
    from unnest(ids, statuses, errors) as f(id, status, error)
    where r.id = f.id and r.status in ('queued', 'running')
    returning r.id, r.project_id, r.workflow_id, r.status, r.finished_at,
              meshhook.duration_cell(r.finished_at - coalesce(r.started_at, r.created_at)) as cell
  )
  select array_agg(id) as ids, array_agg(project_id) as projects, array_agg(workflow_id) as workflows,
         array_agg(status) as statuses, array_agg(finished_at) as finished, array_agg(cell) as cells
  into done
  from finished;
  if done.ids is null then
    return;
  end if;
  perform meshhook.count_runs(done.projects, done.workflows, done.statuses, done.finished, done.cells);
  return query select unnest(done.ids);
end
$$;

-- Adds step outcomes, in this transaction's shard.
create function meshhook.count_steps(
  project_ids uuid[], workflow_ids uuid[], statuses text[], counts integer[])
returns void
language sql volatile
set search_path = meshhook, pg_temp
as $$
  insert into step_metrics as m (project_id, workflow_id, status, shard, count)
  select c.project_id, c.workflow_id, c.status, s.shard, sum(c.n)
  from unnest(project_ids, workflow_ids, statuses, counts) as c(project_id, workflow_id, status, n)
  cross join (select meshhook.metric_shard() as shard) s
  group by 1, 2, 3, 4
  order by 2, 3
  on conflict (workflow_id, status, shard) do update set count = m.count + excluded.count
$$;

-- The runs finished before this migration, counted once into shard 0.
insert into run_metrics
  (project_id, workflow_id, grain, bucket_start, shard, succeeded, failed, canceled, durations,
   last_finished_at)
select f.project_id, f.workflow_id, g.grain,
       case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, f.finished_at, 'UTC') end,
       0,
       count(*) filter (where f.status = 'succeeded'),
       count(*) filter (where f.status = 'failed'),
       count(*) filter (where f.status = 'canceled'),
       meshhook.cell_counts(array_agg(f.cell)),
       max(f.finished_at)
from (
  select project_id, workflow_id, status, finished_at,
         meshhook.duration_cell(finished_at - coalesce(started_at, created_at)) as cell
  from runs
  where status in ('succeeded', 'failed', 'canceled') and finished_at is not null
) f
cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
group by 1, 2, 3, 4;

insert into step_metrics (project_id, workflow_id, status, shard, count)
select s.project_id, r.workflow_id, t.status, 0, sum(t.n)
from run_steps s
join runs r on r.id = s.run_id
cross join lateral (
  values (s.status, 1), ('retried', greatest(s.attempts - 1, 0))
) t(status, n)
where t.status in ('succeeded', 'failed', 'canceled', 'retried') and t.n > 0
group by 1, 2, 3;

alter table run_metrics enable row level security;
alter table step_metrics enable row level security;
create policy tenant_isolation on run_metrics to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy tenant_isolation on step_metrics to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
grant select on run_metrics, step_metrics, workflow_run_metrics to meshhook_app;
