-- Run logs made fit for streaming: partitioned by day so retention drops whole partitions,
-- indexed for the reads of the streams (by run, by project, by workflow, warnings and errors,
-- text search), and with ids that the streams can resume from.
--
-- Ids and commit order: a log id is drawn while its transaction runs, so two transactions can
-- commit their lines out of id order. A stream that sent id 11 must never be handed id 10
-- later, so the stream hub only delivers up to a horizon below which every id is final (see
-- readLogHorizon in src/db/queries/run-logs.ts). That horizon is sound because every log id is
-- drawn by next_run_log_id(), which gives its transaction an xid first: a transaction holding a
-- drawn id then shows among the running transactions (pg_stat_activity.backend_xid) until it
-- ends.

create extension if not exists pg_trgm schema meshhook;

create function meshhook.next_run_log_id() returns bigint
language plpgsql volatile
set search_path = meshhook, pg_temp
as $$
begin
  perform pg_current_xact_id();
  return nextval('meshhook.run_logs_id_seq');
end
$$;

alter table run_logs rename to run_logs_unpartitioned;
alter sequence run_logs_id_seq owned by none;

create table run_logs (
  id bigint not null default meshhook.next_run_log_id(),
  project_id uuid not null references projects on delete cascade,
  run_id uuid not null references runs on delete cascade,
  workflow_id uuid not null,
  node_id text,
  ts timestamptz not null default clock_timestamp(),
  level text not null check (level in ('debug', 'info', 'warn', 'error')),
  message text not null,
  fields jsonb not null default '{}',
  primary key (id, ts)
) partition by range (ts);
alter sequence run_logs_id_seq owned by run_logs.id;

-- Rows of a day that has no partition yet land here; ensure_run_log_partitions moves them out.
create table run_logs_default partition of run_logs default;

-- Creates the daily partitions (UTC days) from first_day to last_day that do not exist yet;
-- returns how many it created.
create function meshhook.ensure_run_log_partitions(first_day date, last_day date)
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
    part := 'run_logs_' || to_char(day, 'YYYYMMDD');
    continue when to_regclass('meshhook.' || part) is not null;
    lo := day::timestamp at time zone 'UTC';
    hi := (day + 1)::timestamp at time zone 'UTC';
    execute format(
      'create table meshhook.%I (like meshhook.run_logs including defaults including constraints)',
      part);
    execute format(
      'with moved as (delete from meshhook.run_logs_default where ts >= %L and ts < %L returning *)
       insert into meshhook.%I select * from moved', lo, hi, part);
    execute format(
      'alter table meshhook.run_logs attach partition meshhook.%I for values from (%L) to (%L)',
      part, lo, hi);
    created := created + 1;
  end loop;
  return created;
end
$$;

-- Drops the daily partitions that end on or before cutoff_day, and deletes older rows left in
-- the default partition; returns how many partitions it dropped.
create function meshhook.drop_run_log_partitions(cutoff_day date)
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
    where i.inhparent = 'meshhook.run_logs'::regclass
      and c.relname ~ '^run_logs_\d{8}$'
      and to_date(substr(c.relname, 10), 'YYYYMMDD') + 1 <= cutoff_day
    order by c.relname
  loop
    execute format('drop table meshhook.%I', part);
    dropped := dropped + 1;
  end loop;
  delete from meshhook.run_logs_default where ts < cutoff_day::timestamp at time zone 'UTC';
  return dropped;
end
$$;

select meshhook.ensure_run_log_partitions(d::date, d::date)
from (
  select distinct (ts at time zone 'UTC')::date as d from run_logs_unpartitioned
) days;
select meshhook.ensure_run_log_partitions(
  (now() at time zone 'UTC')::date - 1, (now() at time zone 'UTC')::date + 7);

insert into run_logs (id, project_id, run_id, workflow_id, node_id, ts, level, message, fields)
select id, project_id, run_id, workflow_id, node_id, ts, level, message, fields
from run_logs_unpartitioned;
drop table run_logs_unpartitioned;

-- The streams' reads: a run's lines, a project's tail, a workflow's tail, warnings and errors
-- (the usual level filter), and substring search (ILIKE '%…%' through trigrams).
create index run_logs_run on run_logs (run_id, id);
create index run_logs_project on run_logs (project_id, id);
create index run_logs_workflow on run_logs (workflow_id, id);
create index run_logs_problems on run_logs (project_id, id) where level in ('warn', 'error');
create index run_logs_message on run_logs using gin (message gin_trgm_ops);

alter table run_logs enable row level security;
create policy tenant_isolation on run_logs to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
grant select on run_logs to meshhook_app;

-- Open streams re-check their caller's access when it may have changed: a key revoked or
-- deleted, a member removed or their role changed, a session ended.
create function meshhook.announce_access_change() returns trigger
language plpgsql
as $$
begin
  if tg_table_name = 'api_keys' then
    perform pg_notify('meshhook_access', 'key:' || old.id);
  else
    perform pg_notify('meshhook_access', 'user:' || old.user_id);
  end if;
  return null;
end
$$;
create trigger api_keys_access after update of revoked_at or delete on api_keys
  for each row execute function meshhook.announce_access_change();
create trigger project_members_access after update of role or delete on project_members
  for each row execute function meshhook.announce_access_change();
create trigger sessions_access after delete on sessions
  for each row execute function meshhook.announce_access_change();
