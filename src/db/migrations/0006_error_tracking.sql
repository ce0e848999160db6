-- Error tracking: every captured error is one row of error_events (partitioned by UTC day, so
-- retention drops whole partitions), belongs to one issue of error_issues (events of the same
-- fingerprint, with their count, first and last sight and a status), and is counted in
-- error_counts by minute, hour, UTC day and over all time, by source, type, severity and
-- workflow, for rates that never read the events.
--
-- Everything is written by one function, record_errors, called in the transaction that
-- settles the failed step (so an error commits with its run or not at all) or, for errors of
-- the webhook intake, the API, browsers and the process itself, by the capture's batches.
--
-- Errors that belong to no project (a webhook URL that matches no workflow, a fault of the
-- process) have a null project_id: only the operator sees them, through /metrics and the
-- database. The unique indexes treat null as one value (through coalesce) so those errors group
-- too, on any PostgreSQL version.

create function meshhook.severity_rank(severity text) returns integer
language sql immutable parallel safe
as $$
  select case severity when 'high' then 3 when 'medium' then 2 else 1 end
$$;

create table error_issues (
  id uuid primary key default gen_random_uuid(),
  project_id uuid references projects on delete cascade,
  fingerprint text not null,
  title text not null,
  source text not null,
  error_type text not null,
  -- The highest severity seen.
  severity text not null check (severity in ('low', 'medium', 'high')),
  status text not null default 'unresolved'
    check (status in ('unresolved', 'resolved', 'ignored', 'regressed')),
  count bigint not null default 0,
  first_seen timestamptz not null,
  last_seen timestamptz not null,
  workflow_id uuid references workflows on delete cascade,
  node_id text,
  -- When a user last changed the status, and when a resolved issue last came back.
  status_changed_at timestamptz,
  regressed_at timestamptz
);
create unique index error_issues_fingerprint on error_issues
  ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), fingerprint);
create index error_issues_project on error_issues (project_id, last_seen desc);

create table error_events (
  error_id uuid not null,
  ts timestamptz not null,
  project_id uuid references projects on delete cascade,
  issue_id uuid not null,
  source text not null check (source in ('worker', 'webhook', 'api', 'web', 'system')),
  error_type text not null,
  severity text not null check (severity in ('low', 'medium', 'high')),
  message text not null,
  stack text,
  workflow_id uuid,
  run_id uuid,
  node_id text,
  user_id uuid,
  metadata jsonb not null default '{}',
  primary key (error_id, ts)
) partition by range (ts);
create table error_events_default partition of error_events default;
create index error_events_issue on error_events (issue_id, ts desc);
create index error_events_run on error_events (run_id) where run_id is not null;

create table error_counts (
  project_id uuid references projects on delete cascade,
  grain text not null check (grain in ('minute', 'hour', 'day', 'all')),
  -- The bucket's first instant, UTC-aligned; -infinity for the all-time totals.
  bucket_start timestamptz not null,
  source text not null,
  error_type text not null,
  severity text not null,
  workflow_id uuid references workflows on delete cascade,
  shard smallint not null,
  count integer not null
) with (fillfactor = 80); -- room on the page keeps counter updates HOT
-- The key: a primary key cannot hold the null project or workflow, this index can.
create unique index error_counts_key on error_counts
  ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), grain, bucket_start,
   source, error_type, severity,
   (coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid)), shard);
create index error_counts_range on error_counts (project_id, grain, bucket_start);
-- One workflow's buckets (its page, ?workflow=) without reading the whole project's.
create index error_counts_workflow on error_counts (workflow_id, grain, bucket_start);

-- Records captured errors, given as a JSON array of objects with the columns of error_events
-- (error_id, ts, project_id, source, error_type, severity, message, stack, workflow_id, run_id,
-- node_id, user_id, metadata) plus title and fingerprint: each joins its issue (created, or
-- counted, and reopened as regressed if it was resolved), is stored, and is counted in this
-- transaction's metric shard. Issues are written in key order, so transactions recording the
-- same issues lock them in one order. Returns how many events it stored.
create function meshhook.record_errors(events jsonb) returns integer
language plpgsql volatile
set search_path = meshhook, pg_temp
as $$
declare
  recorded integer;
begin
  if events is null or jsonb_array_length(events) = 0 then
    return 0;
  end if;
  with e as (
    select x.*, coalesce(x.project_id, '00000000-0000-0000-0000-000000000000'::uuid) as tenant
    from jsonb_to_recordset(events) as x(
      error_id uuid, ts timestamptz, project_id uuid, source text, error_type text, severity text,
      title text, message text, stack text, fingerprint text, workflow_id uuid, run_id uuid,
      node_id text, user_id uuid, metadata jsonb)
  ), issues as (
    insert into error_issues as i
      (project_id, fingerprint, title, source, error_type, severity, count, first_seen, last_seen,
       workflow_id, node_id)
    select (array_agg(project_id))[1], fingerprint, (array_agg(title order by ts desc))[1],
           (array_agg(source))[1], (array_agg(error_type))[1],
           (array['low', 'medium', 'high'])[max(meshhook.severity_rank(severity))],
           count(*), min(ts), max(ts), (array_agg(workflow_id))[1], (array_agg(node_id))[1]
    from e
    group by tenant, fingerprint
    order by tenant, fingerprint
    on conflict ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), fingerprint)
    do update set
      count = i.count + excluded.count,
      title = excluded.title,
      last_seen = greatest(i.last_seen, excluded.last_seen),
      severity = (array['low', 'medium', 'high'])[
        greatest(meshhook.severity_rank(i.severity), meshhook.severity_rank(excluded.severity))],
      status = case when i.status = 'resolved' then 'regressed' else i.status end,
      regressed_at = case when i.status = 'resolved' then excluded.last_seen else i.regressed_at end
    returning i.id, coalesce(i.project_id, '00000000-0000-0000-0000-000000000000'::uuid) as tenant,
              i.fingerprint
  ), stored as (
    insert into error_events
      (error_id, ts, project_id, issue_id, source, error_type, severity, message, stack,
       workflow_id, run_id, node_id, user_id, metadata)
    select e.error_id, e.ts, e.project_id, issues.id, e.source, e.error_type, e.severity,
           e.message, e.stack, e.workflow_id, e.run_id, e.node_id, e.user_id,
           coalesce(e.metadata, '{}')
    from e join issues using (tenant, fingerprint)
    returning 1
  ), counted as (
    insert into error_counts as c
      (project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count)
    select e.project_id, g.grain,
           case when g.grain = 'all' then '-infinity' else date_trunc(g.grain, e.ts, 'UTC') end,
           e.source, e.error_type, e.severity, e.workflow_id, s.shard, count(*)
    from e
    cross join (values ('minute'), ('hour'), ('day'), ('all')) g(grain)
    cross join (select meshhook.metric_shard() as shard) s
    group by e.tenant, e.project_id, 2, 3, 4, 5, 6, e.workflow_id, 8
    order by e.tenant, 2, 3, 4, 5, 6, e.workflow_id, 8
    on conflict ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), grain,
                 bucket_start, source, error_type, severity,
                 (coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid)), shard)
    do update set count = c.count + excluded.count
  )
  select count(*) into recorded from stored;
  return recorded;
end
$$;
revoke all on function meshhook.record_errors(jsonb) from public;

-- record_errors for API requests, which run as meshhook_app: every event must belong to one of
-- the caller's projects (42501 otherwise, and nothing is stored).
create function meshhook.report_errors(events jsonb) returns integer
language plpgsql volatile security definer
set search_path = meshhook, pg_temp
as $$
begin
  if exists (
    select from jsonb_array_elements(events) e
    where (e ->> 'project_id') is null
       or not ((e ->> 'project_id')::uuid = any (meshhook.claimed_project_ids()))
  ) then
    raise exception 'error events may only be reported for the caller''s projects'
      using errcode = '42501';
  end if;
  return meshhook.record_errors(events);
end
$$;
revoke all on function meshhook.report_errors(jsonb) from public;
grant execute on function meshhook.report_errors(jsonb) to meshhook_app;

-- Daily partitions of a table partitioned by range of its time column (ts unless told), named
-- <table>_YYYYMMDD (UTC days): creates those from first_day to last_day that do not exist yet,
-- moving their rows out of the default partition; returns how many it created.
create function meshhook.ensure_daily_partitions(
  parent text, first_day date, last_day date, time_column text default 'ts')
returns integer
language plpgsql
set search_path = meshhook, pg_temp
as $$
declare
  day date;
  part text;
  lo timestamptz;
  hi timestamptz;
  created integer := 0;
begin
  for day in select d::date from generate_series(first_day, last_day, interval '1 day') d loop
    part := parent || '_' || to_char(day, 'YYYYMMDD');
    continue when to_regclass('meshhook.' || part) is not null;
    lo := day::timestamp at time zone 'UTC';
    hi := (day + 1)::timestamp at time zone 'UTC';
    execute format(
      'create table meshhook.%I (like meshhook.%I including defaults including constraints)',
      part, parent);
    execute format(
      'with moved as (delete from meshhook.%I where %I >= %L and %I < %L returning *)
       insert into meshhook.%I select * from moved',
      parent || '_default', time_column, lo, time_column, hi, part);
    execute format(
      'alter table meshhook.%I attach partition meshhook.%I for values from (%L) to (%L)',
      parent, part, lo, hi);
    created := created + 1;
  end loop;
  return created;
end
$$;

-- Drops the daily partitions of parent that end on or before cutoff_day, and deletes older
-- rows left in its default partition (by its time column); returns how many it dropped.
create function meshhook.drop_daily_partitions(
  parent text, cutoff_day date, time_column text default 'ts')
returns integer
language plpgsql
set search_path = meshhook, pg_temp
as $$
declare
  part text;
  dropped integer := 0;
begin
  -- Dropping a partition locks the whole table: rather than make every writer queue behind a
  -- long query on it, give up and try again at the next sweep.
  perform set_config('lock_timeout', '500ms', true);
  for part in
    select c.relname
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ('meshhook.' || parent)::regclass
      and c.relname ~ ('^' || parent || '_\d{8}$')
      and to_date(right(c.relname, 8), 'YYYYMMDD') + 1 <= cutoff_day
    order by c.relname
  loop
    execute format('drop table meshhook.%I', part);
    dropped := dropped + 1;
  end loop;
  execute format('delete from meshhook.%I where %I < %L', parent || '_default', time_column,
                 cutoff_day::timestamp at time zone 'UTC');
  return dropped;
end
$$;

-- Run logs' daily partitions (migration 0004) have the same names and column: the two
-- functions above keep them from now on, in place of the two made for them alone.
drop function meshhook.ensure_run_log_partitions(date, date);
drop function meshhook.drop_run_log_partitions(date);

select meshhook.ensure_daily_partitions('error_events',
  (now() at time zone 'UTC')::date - 1, (now() at time zone 'UTC')::date + 7);

alter table error_issues enable row level security;
alter table error_events enable row level security;
alter table error_counts enable row level security;
create policy read on error_issues for select to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
-- Members and above resolve and ignore issues; viewers only look.
create policy triage on error_issues for update to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 2)
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 2);
create policy tenant_isolation on error_events to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy tenant_isolation on error_counts to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
grant select on error_issues, error_events, error_counts to meshhook_app;
grant update (status, status_changed_at) on error_issues to meshhook_app;
