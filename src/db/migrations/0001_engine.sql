-- MeshHook engine schema: projects, API keys, workflows and their immutable versions, runs,
-- their append-only events, the step-job queue and run logs.
--
-- Every tenant-owned table carries project_id and is guarded by row-level security. API requests
-- run as the non-owner role meshhook_app with the caller's claims in request.jwt.claims (the
-- Supabase convention); the engine's own work runs as the owner (the service role), which RLS
-- does not restrict because the tables are not FORCE ROW LEVEL SECURITY.

-- Roles are cluster-wide: another database (or an administrator, for a user without CREATEROLE)
-- may have created it already, and then neither CREATEROLE nor a new grant is needed.
do $$
begin
  if not exists (select from pg_roles where rolname = 'meshhook_app') then
    create role meshhook_app nologin;
  end if;
exception
  when duplicate_object then null; -- created concurrently by another database's migration
end
$$;

do $$
begin
  if not pg_has_role(current_user, 'meshhook_app', 'member') then
    execute format('grant meshhook_app to %I', current_user);
  end if;
end
$$;
grant usage on schema meshhook to meshhook_app;

create table projects (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  name text not null,
  role text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  -- sha256 of the whole key: keys are 256-bit random, so a fast hash is enough and lookups are
  -- one index probe. The key itself is shown once and never stored.
  token_hash bytea not null unique,
  token_prefix text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index on api_keys (project_id);

create table workflows (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  slug text not null check (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  name text not null check (length(name) between 1 and 200),
  definition jsonb not null,
  -- The unguessable path segment of the webhook URL.
  webhook_token text not null unique,
  published_version integer,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (project_id, slug)
);

create table workflow_versions (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  workflow_id uuid not null references workflows on delete cascade,
  version integer not null check (version > 0),
  definition jsonb not null,
  created_at timestamptz not null default now(),
  unique (workflow_id, version)
);

create function meshhook.forbid_version_update() returns trigger
language plpgsql as $$
begin
  raise exception 'workflow versions are immutable' using errcode = 'restrict_violation';
end
$$;
create trigger workflow_versions_immutable before update on workflow_versions
  for each row execute function meshhook.forbid_version_update();

create table runs (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  workflow_id uuid not null references workflows on delete cascade,
  version_id uuid not null references workflow_versions,
  version integer not null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  trigger jsonb not null,
  error jsonb,
  idempotency_key text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index on runs (project_id, created_at desc, id desc);
create index on runs (workflow_id, created_at desc, id desc);

-- Idempotency-Key → run, per workflow, honoured for 24 hours.
create table webhook_idempotency (
  workflow_id uuid not null references workflows on delete cascade,
  key text not null,
  project_id uuid not null references projects on delete cascade,
  run_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (workflow_id, key)
);

create table run_steps (
  run_id uuid not null references runs on delete cascade,
  node_id text not null,
  project_id uuid not null references projects on delete cascade,
  status text not null
    check (status in ('queued', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'canceled')),
  attempts integer not null default 0,
  output jsonb,
  error jsonb,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (run_id, node_id)
);

create table run_events (
  id bigserial primary key,
  project_id uuid not null references projects on delete cascade,
  run_id uuid not null references runs on delete cascade,
  type text not null,
  node_id text,
  ts timestamptz not null default clock_timestamp(),
  payload jsonb not null default '{}'
);
create index on run_events (run_id, id);

-- The queue. run_at is when the job may next be claimed: a claim pushes it to the end of the
-- lease and a heartbeat pushes it further, so a due job and an expired lease are one condition
-- (run_at <= now()) served by one index.
create table step_jobs (
  id bigserial primary key,
  project_id uuid not null references projects on delete cascade,
  run_id uuid not null references runs on delete cascade,
  node_id text not null,
  run_at timestamptz not null default now(),
  attempt integer not null default 0,
  -- Claims that found an expired lease: the previous worker died or stalled mid-step.
  recoveries integer not null default 0,
  recovered boolean not null default false,
  lease_id uuid,
  locked_by text,
  created_at timestamptz not null default now(),
  unique (run_id, node_id)
);
create index step_jobs_due on step_jobs (run_at, id);

create table run_logs (
  id bigserial primary key,
  project_id uuid not null references projects on delete cascade,
  run_id uuid not null references runs on delete cascade,
  workflow_id uuid not null,
  node_id text,
  ts timestamptz not null default clock_timestamp(),
  level text not null check (level in ('debug', 'info', 'warn', 'error')),
  message text not null,
  fields jsonb not null default '{}'
);
create index on run_logs (run_id, id);
create index on run_logs (project_id, id);

-- The projects the current claims may see. security definer, so it can read api_keys without
-- granting the app role access to key hashes; a revoked key sees nothing from the next statement on.
create function meshhook.claimed_project_ids() returns uuid[]
language sql stable security definer
set search_path = meshhook, pg_temp
as $$
  select coalesce(array_agg(k.project_id), '{}')
  from api_keys k
  where k.id = nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'key_id', '')::uuid
    and k.revoked_at is null
$$;
revoke all on function meshhook.claimed_project_ids() from public;
grant execute on function meshhook.claimed_project_ids() to meshhook_app;

-- Row-level security: the same policy shape on every tenant-owned table.
do $$
declare
  t text;
begin
  foreach t in array array['api_keys', 'workflows', 'workflow_versions', 'runs',
    'webhook_idempotency', 'run_steps', 'run_events', 'step_jobs', 'run_logs']
  loop
    execute format('alter table meshhook.%I enable row level security', t);
    execute format(
      'create policy tenant_isolation on meshhook.%I to meshhook_app
         using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]))
         with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[]))', t);
  end loop;
end
$$;
alter table projects enable row level security;
create policy tenant_isolation on projects to meshhook_app
  using (id = any ((select meshhook.claimed_project_ids())::uuid[]));

-- What the app role may do at all; RLS then narrows it to the caller's projects. The queue,
-- key hashes and idempotency records are the engine's alone.
grant select on projects, workflows, workflow_versions, runs, run_steps, run_events, run_logs
  to meshhook_app;
grant insert, update on workflows to meshhook_app;
grant insert on workflow_versions to meshhook_app;
