-- Accounts: users with password sign-in, browser sessions, project members with roles,
-- invitations, and the login throttle. Roles now narrow what each caller may write, in the
-- database as well as in the handlers: a viewer reads, a member edits and runs workflows, an
-- admin manages keys, members and settings, an owner everything an admin can plus owners.

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
  -- scrypt, in the self-describing form written by src/core/password.ts
  password_hash text not null,
  created_at timestamptz not null default now()
);
create unique index users_email on users (lower(email));

create table project_members (
  project_id uuid not null references projects on delete cascade,
  user_id uuid not null references users on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz not null default now(),
  primary key (project_id, user_id)
);
create index on project_members (user_id);

-- The session token lives only in the browser's cookie; the database keeps its sha256.
create table sessions (
  token_hash bytea primary key,
  user_id uuid not null references users on delete cascade,
  csrf_token text not null,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index on sessions (user_id);
create index on sessions (expires_at);

create table invitations (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references projects on delete cascade,
  email text not null,
  role text not null check (role in ('admin', 'member', 'viewer')),
  token_hash bytea not null unique,
  invited_by uuid references users on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz
);
create index on invitations (project_id);

-- Failed sign-ins per key (an e-mail address or a client address) in a sliding window.
create table login_throttle (
  key text primary key,
  window_start timestamptz not null,
  failures integer not null
);

-- The projects the current claims may see: those of the API key, or the user's memberships,
-- narrowed to the project the request names when it names one.
create or replace function meshhook.claimed_project_ids() returns uuid[]
language sql stable security definer
set search_path = meshhook, pg_temp
as $$
  with c as (
    select nullif(current_setting('request.jwt.claims', true), '')::jsonb as claims
  )
  select coalesce(array_agg(distinct project_id), '{}')
  from (
    select k.project_id
    from api_keys k, c
    where k.id = nullif(c.claims ->> 'key_id', '')::uuid and k.revoked_at is null
    union all
    select m.project_id
    from project_members m, c
    where m.user_id = nullif(c.claims ->> 'sub', '')::uuid
      and (c.claims ->> 'project_id' is null or m.project_id = (c.claims ->> 'project_id')::uuid)
  ) visible
$$;

-- The caller's role in a project as a rank (viewer 1, member 2, admin 3, owner 4; 0: none).
create function meshhook.claimed_rank(project uuid) returns integer
language sql stable security definer
set search_path = meshhook, pg_temp
as $$
  with c as (
    select nullif(current_setting('request.jwt.claims', true), '')::jsonb as claims
  )
  select coalesce(max(case role when 'owner' then 4 when 'admin' then 3 when 'member' then 2
                                when 'viewer' then 1 else 0 end), 0)
  from (
    select k.role
    from api_keys k, c
    where k.id = nullif(c.claims ->> 'key_id', '')::uuid and k.revoked_at is null
      and k.project_id = project
    union all
    select m.role
    from project_members m, c
    where m.user_id = nullif(c.claims ->> 'sub', '')::uuid and m.project_id = project
  ) roles
$$;
revoke all on function meshhook.claimed_rank(uuid) from public;
grant execute on function meshhook.claimed_rank(uuid) to meshhook_app;

-- Workflows: everyone in the project reads; members and above write.
drop policy tenant_isolation on workflows;
create policy read on workflows for select to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy write on workflows for insert to meshhook_app
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 2);
create policy edit on workflows for update to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 2);

drop policy tenant_isolation on workflow_versions;
create policy read on workflow_versions for select to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy write on workflow_versions for insert to meshhook_app
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 2);

-- API keys: admins see (without the hash) and manage them.
drop policy tenant_isolation on api_keys;
create policy manage on api_keys to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 3)
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 3);
grant select (id, project_id, name, role, token_prefix, created_at, last_used_at, revoked_at),
  insert (project_id, name, role, token_hash, token_prefix), update (revoked_at)
  on api_keys to meshhook_app;

-- Members: everyone in the project sees the members; admins manage them.
alter table project_members enable row level security;
create policy read on project_members for select to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy manage on project_members for all to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 3)
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 3);
grant select, insert, update, delete on project_members to meshhook_app;

-- Invitations: admins.
alter table invitations enable row level security;
create policy manage on invitations to meshhook_app
  using (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
         and meshhook.claimed_rank(project_id) >= 3)
  with check (project_id = any ((select meshhook.claimed_project_ids())::uuid[])
              and meshhook.claimed_rank(project_id) >= 3);
grant select (id, project_id, email, role, invited_by, created_at, expires_at, accepted_at),
  insert (project_id, email, role, token_hash, invited_by, expires_at)
  on invitations to meshhook_app;

-- Users: a user sees themself and the members of projects they see; never a password hash.
alter table users enable row level security;
create policy read on users for select to meshhook_app
  using (
    id = nullif(current_setting('request.jwt.claims', true)::jsonb ->> 'sub', '')::uuid
    or exists (
      select 1 from project_members m
      where m.user_id = users.id
        and m.project_id = any ((select meshhook.claimed_project_ids())::uuid[])
    )
  );
grant select (id, email, created_at) on users to meshhook_app;

-- Projects: members read, admins rename.
drop policy tenant_isolation on projects;
create policy read on projects for select to meshhook_app
  using (id = any ((select meshhook.claimed_project_ids())::uuid[]));
create policy rename on projects for update to meshhook_app
  using (id = any ((select meshhook.claimed_project_ids())::uuid[]) and meshhook.claimed_rank(id) >= 3);
grant update (name) on projects to meshhook_app;

-- sessions and login_throttle stay the engine's alone: no grants, RLS on as a second fence.
alter table sessions enable row level security;
alter table login_throttle enable row level security;
