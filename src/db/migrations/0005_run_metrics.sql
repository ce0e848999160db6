-- Run metrics: how many runs of each workflow succeeded, failed or were canceled, and how long
-- they took, by minute, hour and UTC day and over all time, counted in the transaction that
-- finishes the run.
--
-- Counting happens in a statement trigger on runs, on the status transition itself: a run is
-- counted when its status goes from queued or running to a final one, whichever code path
-- finishes it, so a run retried after a worker crash, or finished twice by mistake, is counted
-- once. The counters are spread over shards so that concurrent transactions finishing runs of
-- one workflow never wait on one row: each transaction claims a shard of its own for its
-- lifetime with a transaction-scoped advisory lock (see metric_shard), and readers sum the
-- shards. The sweep folds the shards of past buckets into shard 0 and drops minute and hour
-- buckets past their retention.
--
-- Durations are kept as a histogram: each row holds the runs of one duration cell, cells being
-- the R10 series (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8 times a power of ten) from 1 ms to
-- 10,000 s, so quantiles are sums of narrow rows that PostgreSQL aggregates natively.

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

create table run_metrics (
  project_id uuid not null,
  workflow_id uuid not null references workflows on delete cascade,
  grain text not null check (grain in ('minute', 'hour', 'day', 'all')),
  -- The bucket's first instant, UTC-aligned; -infinity for the all-time totals.
  bucket_start timestamptz not null,
  shard smallint not null,
  cell smallint not null,
  succeeded integer not null default 0,
  failed integer not null default 0,
  canceled integer not null default 0,
  last_finished_at timestamptz not null,
  primary key (workflow_id, grain, bucket_start, shard, cell)
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

create function meshhook.count_finished_runs() returns trigger
language plpgsql
set search_path = meshhook, pg_temp
as $$
begin
  perform 1
  from new_runs n join old_runs o on o.id = n.id
  where n.status in ('succeeded', 'failed', 'canceled') and o.status in ('queued', 'running')
  limit 1;
  if not found then
    return null;
  end if;
  -- Rows in key order, so writers that share a shard lock them in one order.
  insert into run_metrics as m
    (project_id, workflow_id, grain, bucket_start, shard, cell, succeeded, failed, canceled,
     last_finished_at)
  select f.project_id, f.workflow_id, g.grain,
         case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, f.finished_at, 'UTC') end,
         s.shard, f.cell,
         count(*) filter (where f.status = 'succeeded'),
         count(*) filter (where f.status = 'failed'),
         count(*) filter (where f.status = 'canceled'),
         max(f.finished_at)
  from (
    select n.project_id, n.workflow_id, n.status, n.finished_at,
           meshhook.duration_cell(n.finished_at - coalesce(n.started_at, n.created_at)) as cell
    from new_runs n join old_runs o on o.id = n.id
    where n.status in ('succeeded', 'failed', 'canceled') and o.status in ('queued', 'running')
  ) f
  cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
  cross join (select meshhook.metric_shard() as shard) s
  group by 1, 2, 3, 4, 5, 6
  order by 2, 3, 4, 5, 6
  on conflict (workflow_id, grain, bucket_start, shard, cell) do update
    set succeeded = m.succeeded + excluded.succeeded,
        failed = m.failed + excluded.failed,
        canceled = m.canceled + excluded.canceled,
        last_finished_at = greatest(m.last_finished_at, excluded.last_finished_at);
  return null;
end
$$;
create trigger runs_count_finished after update on runs
  referencing old table as old_runs new table as new_runs
  for each statement execute function meshhook.count_finished_runs();

create function meshhook.count_settled_steps() returns trigger
language plpgsql
set search_path = meshhook, pg_temp
as $$
begin
  perform 1
  from new_steps n join old_steps o on o.run_id = n.run_id and o.node_id = n.node_id
  where o.status = 'running' and n.status in ('succeeded', 'failed', 'queued')
     or o.status <> 'canceled' and n.status = 'canceled'
  limit 1;
  if not found then
    return null;
  end if;
  insert into step_metrics as m (project_id, workflow_id, status, shard, count)
  select r.project_id, r.workflow_id, t.status, s.shard, count(*)
  from (
    select n.run_id, case n.status when 'queued' then 'retried' else n.status end as status
    from new_steps n join old_steps o on o.run_id = n.run_id and o.node_id = n.node_id
    where o.status = 'running' and n.status in ('succeeded', 'failed', 'queued')
       or o.status <> 'canceled' and n.status = 'canceled'
  ) t
  join runs r on r.id = t.run_id
  cross join (select meshhook.metric_shard() as shard) s
  group by 1, 2, 3, 4
  order by 2, 3, 4
  on conflict (workflow_id, status, shard) do update set count = m.count + excluded.count;
  return null;
end
$$;
create trigger run_steps_count_settled after update on run_steps
  referencing old table as old_steps new table as new_steps
  for each statement execute function meshhook.count_settled_steps();

-- The runs finished before this migration, counted once into shard 0.
insert into run_metrics
  (project_id, workflow_id, grain, bucket_start, shard, cell, succeeded, failed, canceled,
   last_finished_at)
select f.project_id, f.workflow_id, g.grain,
       case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, f.finished_at, 'UTC') end,
       0, f.cell,
       count(*) filter (where f.status = 'succeeded'),
       count(*) filter (where f.status = 'failed'),
       count(*) filter (where f.status = 'canceled'),
       max(f.finished_at)
from (
  select project_id, workflow_id, status, finished_at,
         meshhook.duration_cell(finished_at - coalesce(started_at, created_at)) as cell
  from runs
  where status in ('succeeded', 'failed', 'canceled') and finished_at is not null
) f
cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
group by 1, 2, 3, 4, 6;

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
