-- Failure alerts: channels (where alerts go), rules (which failures, or which threshold, alert
-- whom), silences, and the delivery log; plus the outbox that failures are written to in their
-- own transactions, and the worker registry the watchdog reads.
--
-- The path of an alert: a run that fails (finish_runs), a step failure or a refused webhook
-- (record_errors) inserts an alert_outbox row in the same statement, when its project has an
-- enabled rule at all. Evaluators (in every process) take outbox rows with SKIP LOCKED, match
-- them against the rules, and in the same transaction write the alert_logs rows: a delivery
-- per channel, or a row saying why nothing was sent (suppressed by throttling and covered by a
-- later message, or muted by a silence or quiet hours). Dispatchers take due deliveries with
-- SKIP LOCKED under a lease, send them, and record every attempt. Nothing is decided in a
-- process's memory, so several processes never double-send and a crash loses nothing.

create table alert_channels (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null check (length(name) between 1 and 200),
  type text not null check (type in ('email', 'webhook', 'slack', 'sms')),
  config jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- The outcome of the last delivery (or test) on this channel.
  last_status text check (last_status in ('sent', 'failed')),
  last_attempt_at timestamptz,
  last_error text,
  -- Set when a send failed for good (a revoked Slack hook, a 4xx answer), until one succeeds.
  failing_since timestamptz
);
create index alert_channels_project on alert_channels (project_id);

create table alert_rules (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  -- null: every workflow of the project.
  workflow_id uuid references workflows on delete cascade,
  name text not null check (length(name) between 1 and 200),
  kind text not null check (kind in ('events', 'threshold')),
  enabled boolean not null default true,
  channels uuid[] not null,
  -- The rule as validated (src/core/alert-rules.ts), durations in ms included.
  definition jsonb not null,
  -- Threshold rules: ok, pending (past the value, waiting out `for`) or firing.
  state text not null default 'ok' check (state in ('ok', 'pending', 'firing')),
  state_since timestamptz,
  last_value float8,
  last_evaluated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index alert_rules_project on alert_rules (project_id) where enabled;

create table alert_silences (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  -- Both null: every alert of the project.
  rule_id uuid references alert_rules on delete cascade,
  workflow_id uuid references workflows on delete cascade,
  starts_at timestamptz not null default now(),
  ends_at timestamptz not null,
  comment text,
  created_by uuid,
  created_at timestamptz not null default now(),
  check (ends_at > starts_at)
);
create index alert_silences_project on alert_silences (project_id, ends_at);

-- Failures waiting for the evaluators; a row is deleted in the transaction that acted on it.
create table alert_outbox (
  id bigint generated always as identity primary key,
  project_id uuid not null,
  type text not null,
  workflow_id uuid,
  run_id uuid,
  node_id text,
  -- {error: {type, message}, attempts, …}, redacted by the writer.
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);

-- Throttling state per rule and group (the workflow, or '' for alerts of no workflow), in the
-- manner of Alertmanager; the columns are src/core/alert-throttle.ts's GroupState. Failures
-- held back wait as suppressed rows of alert_logs with no covered_by yet, and the message that
-- goes out at due_at covers them.
create table alert_groups (
  rule_id uuid not null references alert_rules on delete cascade,
  group_key text not null,
  project_id uuid not null,
  first_pending_at timestamptz,
  pending_count integer not null default 0,
  last_sent_at timestamptz,
  observed text check (observed in ('firing', 'resolved')),
  announced text check (announced in ('firing', 'resolved')),
  due_at timestamptz,
  primary key (rule_id, group_key)
);
create index alert_groups_due on alert_groups (due_at) where due_at is not null;

-- Every alert decision, one row each: a delivery (pending → sending → sent or failed), or a
-- failure that was suppressed (covered by a later delivery: covered_by) or muted (reason).
-- Partitioned by UTC day of created_at and kept MESHHOOK_ALERT_LOG_RETENTION_DAYS days.
create table alert_logs (
  id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now(),
  project_id uuid not null references projects on delete cascade,
  rule_id uuid,
  channel_id uuid,
  group_key text,
  event text not null,
  status text not null
    check (status in ('pending', 'sending', 'sent', 'failed', 'suppressed', 'muted')),
  -- How many failures the message summarises (deliveries), 1 for the others.
  covers integer not null default 1,
  -- The message (deliveries to each channel share it); suppressed rows name the one covering them.
  message_id uuid,
  covered_by uuid,
  reason text,
  workflow_id uuid,
  run_id uuid,
  -- What the message is made of: the alert as src/core/alert-message.ts takes it.
  alert jsonb not null,
  attempts integer not null default 0,
  last_error text,
  permanent boolean not null default false,
  -- pending: when it is due; sending: when the dispatcher's lease ends.
  due_at timestamptz,
  locked_by text,
  sent_at timestamptz,
  primary key (id, created_at)
) partition by range (created_at);
create table alert_logs_default partition of alert_logs default;
create index alert_logs_due on alert_logs (due_at) where status in ('pending', 'sending');
create index alert_logs_project on alert_logs (project_id, created_at desc);
create index alert_logs_id on alert_logs (id);
create index alert_logs_held on alert_logs (rule_id, group_key)
  where status = 'suppressed' and covered_by is null;
select meshhook.ensure_daily_partitions('alert_logs',
  (now() at time zone 'UTC')::date - 1, (now() at time zone 'UTC')::date + 7, 'created_at');

-- One row per attempt to send a delivery.
create table alert_attempts (
  log_id uuid not null,
  attempt integer not null,
  project_id uuid not null references projects on delete cascade,
  at timestamptz not null default now(),
  outcome text not null check (outcome in ('sent', 'failed')),
  status_code integer,
  error text,
  duration_ms integer not null,
  primary key (log_id, attempt)
);

-- What the watchdog raised and has not seen end: one row per project and kind (worker_missing,
-- queue_stalled), or per run (run_timed_out), so each is raised once.
create table alert_watch (
  project_id uuid not null references projects on delete cascade,
  kind text not null,
  subject text not null default '',
  raised_at timestamptz not null default now(),
  primary key (project_id, kind, subject)
);

-- Workers announce themselves every few seconds; the watchdog raises worker_missing when jobs
-- wait and none has been seen lately.
create table workers (
  id text primary key,
  hostname text not null,
  pid integer not null,
  concurrency integer not null,
  started_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now()
);

-- Whether a project has an enabled rule at all: failures of projects without alerts write no
-- outbox rows.
create function meshhook.alerting(project uuid) returns boolean
language sql stable parallel safe
set search_path = meshhook, pg_temp
as $$
  select exists (select from alert_rules r where r.project_id = project and r.enabled)
$$;

-- finish_runs (migration 0005) now also puts each failed run in the alert outbox, in the same
-- statement, so an alert commits with its failure or not at all.
create or replace function meshhook.finish_runs(
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
    returning r.id, r.project_id, r.workflow_id, r.status, r.finished_at, r.error,
              meshhook.duration_cell(r.finished_at - coalesce(r.started_at, r.created_at)) as cell
  )
  select array_agg(id) as ids, array_agg(project_id) as projects, array_agg(workflow_id) as workflows,
         array_agg(status) as statuses, array_agg(finished_at) as finished, array_agg(cell) as cells,
         array_agg(error) as errors
  into done
  from finished;
  if done.ids is null then
    return;
  end if;
  perform meshhook.count_runs(done.projects, done.workflows, done.statuses, done.finished, done.cells);
  insert into alert_outbox (project_id, type, workflow_id, run_id, node_id, details)
  select f.project_id, 'run_failed', f.workflow_id, f.id, f.error ->> 'node_id',
         jsonb_build_object('error', coalesce(f.error, '{}'))
  from unnest(done.ids, done.projects, done.workflows, done.statuses, done.errors)
         as f(id, project_id, workflow_id, status, error)
  where f.status = 'failed' and meshhook.alerting(f.project_id);
  return query select unnest(done.ids);
end
$$;

-- record_errors (migration 0006) now also puts the failures that rules can name in the alert
-- outbox: a step failure that ended its run (step_failed) and a refused delivery of a known
-- workflow (webhook_rejected).
create or replace function meshhook.record_errors(events jsonb) returns integer
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
  ), alerted as (
    insert into alert_outbox (project_id, type, workflow_id, run_id, node_id, details)
    select e.project_id,
           case when e.source = 'webhook' then 'webhook_rejected' else 'step_failed' end,
           e.workflow_id, e.run_id, e.node_id,
           jsonb_build_object('error', jsonb_build_object('type', e.error_type, 'message', e.message),
                              'attempts', e.metadata -> 'attempt', 'error_id', e.error_id)
    from e
    where e.workflow_id is not null
      and ((e.source = 'webhook')
           or (e.source = 'worker' and e.severity = 'high' and e.run_id is not null
               and e.error_type <> 'lease_lost'))
      and meshhook.alerting(e.project_id)
  )
  select count(*) into recorded from stored;
  return recorded;
end
$$;

alter table alert_channels enable row level security;
alter table alert_rules enable row level security;
alter table alert_silences enable row level security;
alter table alert_logs enable row level security;
alter table alert_attempts enable row level security;
-- Channels hold credentials (a webhook secret, a Slack URL): members and above read them (the
-- API masks the secrets), admins and owners change them. Rules and silences: viewers read,
-- members and above change. The log: viewers read; only the engine writes it.
create policy read on alert_channels for select to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 2);
create policy manage on alert_channels for all to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 3)
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 3);
do $$
declare
  t text;
begin
  foreach t in array array['alert_rules', 'alert_silences'] loop
    execute format(
      'create policy read on meshhook.%I for select to meshhook_app
         using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]))', t);
    execute format(
      'create policy manage on meshhook.%I for all to meshhook_app
         using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
                and meshhook.claimed_rank(project_id) >= 2)
         with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
                     and meshhook.claimed_rank(project_id) >= 2)', t);
  end loop;
  foreach t in array array['alert_logs', 'alert_attempts'] loop
    execute format(
      'create policy read on meshhook.%I for select to meshhook_app
         using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]))', t);
  end loop;
end
$$;
grant select, insert, update, delete on alert_channels, alert_rules, alert_silences
  to meshhook_app;
grant select on alert_logs, alert_attempts to meshhook_app;
