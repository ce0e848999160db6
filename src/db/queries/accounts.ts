import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../client.ts';
import type { ProjectRole } from './projects.ts';

/** A user as the API shows it. */
export interface User {
  id: string;
  email: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();
const token = () => randomBytes(32).toString('base64url');

/** Whether nobody has signed up yet: the first sign-up is open, later users are invited. */
export async function signupOpen(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ open: boolean }>(
    `select not exists (select 1 from users) as open`,
  );
  return rows[0]!.open;
}

/**
 * Creates the first user with a project they own, or returns undefined when a user exists. The
 * table lock makes two simultaneous first sign-ups queue, so only one of them gets in.
 */
export async function createFirstUser(
  db: Queryable,
  input: { email: string; passwordHash: string; projectName: string },
): Promise<{ user: User; projectId: string } | undefined> {
  await db.query(`lock table users in exclusive mode`);
  if (!(await signupOpen(db))) return undefined;
  const user = await insertUser(db, input);
  const projectId = await createProjectWithOwner(db, { name: input.projectName, userId: user.id });
  return { user, projectId };
}

/** Inserts a user. */
export async function insertUser(
  db: Queryable,
  input: { email: string; passwordHash: string },
): Promise<User> {
  const { rows } = await db.query<User>(
    `insert into users (email, password_hash) values ($1, $2) returning id, email`,
    [input.email, input.passwordHash],
  );
  return rows[0]!;
}

/** A user and their password hash by e-mail, case-insensitively (service role). */
export async function findUserForLogin(
  db: Queryable,
  email: string,
): Promise<(User & { passwordHash: string }) | undefined> {
  const { rows } = await db.query<{ id: string; email: string; password_hash: string }>(
    `select id, email, password_hash from users where lower(email) = lower($1)`,
    [email],
  );
  const row = rows[0];
  return row && { id: row.id, email: row.email, passwordHash: row.password_hash };
}

/** Creates a project owned by a user (service role: the user is no member yet). */
export async function createProjectWithOwner(
  db: Queryable,
  input: { name: string; userId: string },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `with project as (insert into projects (name) values ($1) returning id),
     member as (
       insert into project_members (project_id, user_id, role)
       select id, $2::uuid, 'owner' from project
     )
     select id from project`,
    [input.name, input.userId],
  );
  return rows[0]!.id;
}

/** A browser session. */
export interface Session {
  userId: string;
  email: string;
  csrfToken: string;
  expiresAt: Date;
}

/** Opens a session; the token goes to the cookie and only its hash is stored. */
export async function createSession(
  db: Queryable,
  input: { userId: string; ttlMs: number },
): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const sessionToken = token();
  const csrfToken = token();
  const { rows } = await db.query<{ expires_at: Date }>(
    `insert into sessions (token_hash, user_id, csrf_token, expires_at)
     values ($1, $2::uuid, $3, now() + make_interval(secs => $4::float8 / 1000))
     returning expires_at`,
    [sha256(sessionToken), input.userId, csrfToken, input.ttlMs],
  );
  return { token: sessionToken, csrfToken, expiresAt: rows[0]!.expires_at };
}

/**
 * The live session of a cookie token (service role), extending it on use. Use is recorded at
 * most once a minute so browsing does not turn every request into a write.
 */
export async function findSession(
  db: Queryable,
  input: { token: string; ttlMs: number },
): Promise<Session | undefined> {
  const { rows } = await db.query<{
    user_id: string;
    email: string;
    csrf_token: string;
    expires_at: Date;
    stale: boolean;
  }>(
    `select s.user_id, u.email, s.csrf_token, s.expires_at,
            s.last_seen_at < now() - interval '1 minute' as stale
     from sessions s join users u on u.id = s.user_id
     where s.token_hash = $1 and s.expires_at > now()`,
    [sha256(input.token)],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) {
    await db.query(
      `update sessions set last_seen_at = now(),
              expires_at = now() + make_interval(secs => $2::float8 / 1000)
       where token_hash = $1`,
      [sha256(input.token), input.ttlMs],
    );
  }
  return {
    userId: row.user_id,
    email: row.email,
    csrfToken: row.csrf_token,
    expiresAt: row.expires_at,
  };
}

/** Ends a session. */
export async function deleteSession(db: Queryable, sessionToken: string): Promise<void> {
  await db.query(`delete from sessions where token_hash = $1`, [sha256(sessionToken)]);
}

/** A user's role in a project, or undefined when they are not a member (service role). */
export async function findMembership(
  db: Queryable,
  input: { userId: string; projectId: string },
): Promise<ProjectRole | undefined> {
  const { rows } = await db.query<{ role: ProjectRole }>(
    `select role from project_members where user_id = $1::uuid and project_id = $2::uuid`,
    [input.userId, input.projectId],
  );
  return rows[0]?.role;
}

/** The projects visible to the caller with their role (tenant). */
export async function listMyProjects(
  db: Queryable,
  userId: string,
): Promise<Array<{ id: string; name: string; role: ProjectRole }>> {
  const { rows } = await db.query<{ id: string; name: string; role: ProjectRole }>(
    `select p.id, p.name, m.role
     from projects p join project_members m on m.project_id = p.id and m.user_id = $1::uuid
     order by p.name, p.id`,
    [userId],
  );
  return rows;
}

/**
 * Whether sign-in for these keys (an e-mail address, a client address) is held back, and for
 * how many seconds more: `limit` failures within `windowMs` hold a key until the window ends.
 */
export async function loginRetryAfter(
  db: Queryable,
  input: { keys: Array<{ key: string; limit: number }>; windowMs: number },
): Promise<number> {
  const { rows } = await db.query<{ wait: number | null }>(
    `select max(ceil(extract(epoch from
              (t.window_start + make_interval(secs => $3::float8 / 1000)) - now())))::int as wait
     from login_throttle t
     join unnest($1::text[], $2::int[]) as k(key, lim) on k.key = t.key
     where t.failures >= k.lim
       and t.window_start + make_interval(secs => $3::float8 / 1000) > now()`,
    [input.keys.map((k) => k.key), input.keys.map((k) => k.limit), input.windowMs],
  );
  return Math.max(0, rows[0]?.wait ?? 0);
}

/** Counts a failed sign-in against each key, starting a new window when the last one ended. */
export async function recordLoginFailure(
  db: Queryable,
  input: { keys: string[]; windowMs: number },
): Promise<void> {
  await db.query(
    `insert into login_throttle (key, window_start, failures)
     select key, now(), 1 from unnest($1::text[]) as key
     on conflict (key) do update set
       failures = case when login_throttle.window_start + make_interval(secs => $2::float8 / 1000) > now()
                       then login_throttle.failures + 1 else 1 end,
       window_start = case when login_throttle.window_start + make_interval(secs => $2::float8 / 1000) > now()
                           then login_throttle.window_start else now() end`,
    [input.keys, input.windowMs],
  );
}

/** Forgets the failures of a key after a successful sign-in. */
export async function clearLoginFailures(db: Queryable, key: string): Promise<void> {
  await db.query(`delete from login_throttle where key = $1`, [key]);
}

/** Members of the caller's project (tenant). */
export async function listMembers(
  db: Queryable,
  projectId: string,
): Promise<Array<{ userId: string; email: string; role: ProjectRole; createdAt: Date }>> {
  const { rows } = await db.query<{
    user_id: string;
    email: string;
    role: ProjectRole;
    created_at: Date;
  }>(
    `select m.user_id, u.email, m.role, m.created_at
     from project_members m join users u on u.id = m.user_id
     where m.project_id = $1::uuid
     order by m.created_at, u.email`,
    [projectId],
  );
  return rows.map((r) => ({
    userId: r.user_id,
    email: r.email,
    role: r.role,
    createdAt: r.created_at,
  }));
}

/** Changes a member's role (tenant); false when there is no such member. */
export async function setMemberRole(
  db: Queryable,
  input: { projectId: string; userId: string; role: ProjectRole },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update project_members set role = $3 where project_id = $1::uuid and user_id = $2::uuid`,
    [input.projectId, input.userId, input.role],
  );
  return rowCount === 1;
}

/** Removes a member (tenant); false when there is no such member. */
export async function removeMember(
  db: Queryable,
  input: { projectId: string; userId: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `delete from project_members where project_id = $1::uuid and user_id = $2::uuid`,
    [input.projectId, input.userId],
  );
  return rowCount === 1;
}

/** How many owners a project has, locking the membership rows of its owners. */
export async function lockOwners(db: Queryable, projectId: string): Promise<string[]> {
  const { rows } = await db.query<{ user_id: string }>(
    `select user_id from project_members where project_id = $1::uuid and role = 'owner' for update`,
    [projectId],
  );
  return rows.map((r) => r.user_id);
}

/** Creates an invitation (tenant, admins); the token is returned once and stored hashed. */
export async function createInvitation(
  db: Queryable,
  input: {
    projectId: string;
    email: string;
    role: ProjectRole;
    invitedBy: string | null;
    ttlMs: number;
  },
): Promise<{ id: string; token: string; expiresAt: Date }> {
  const invitationToken = token();
  const { rows } = await db.query<{ id: string; expires_at: Date }>(
    `insert into invitations (project_id, email, role, token_hash, invited_by, expires_at)
     values ($1::uuid, $2, $3, $4, $5::uuid, now() + make_interval(secs => $6::float8 / 1000))
     returning id, expires_at`,
    [
      input.projectId,
      input.email,
      input.role,
      sha256(invitationToken),
      input.invitedBy,
      input.ttlMs,
    ],
  );
  return { id: rows[0]!.id, token: invitationToken, expiresAt: rows[0]!.expires_at };
}

/** Open invitations of the caller's project (tenant). */
export async function listInvitations(
  db: Queryable,
  projectId: string,
): Promise<
  Array<{ id: string; email: string; role: ProjectRole; createdAt: Date; expiresAt: Date }>
> {
  const { rows } = await db.query<{
    id: string;
    email: string;
    role: ProjectRole;
    created_at: Date;
    expires_at: Date;
  }>(
    `select id, email, role, created_at, expires_at from invitations
     where project_id = $1::uuid and accepted_at is null and expires_at > now()
     order by created_at desc`,
    [projectId],
  );
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    role: r.role,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  }));
}

/**
 * Takes an open invitation by its token (service role), marking it accepted, or undefined when
 * it is unknown, used or expired. The row lock makes a token good for one acceptance.
 */
export async function takeInvitation(
  db: Queryable,
  invitationToken: string,
): Promise<{ projectId: string; email: string; role: ProjectRole } | undefined> {
  const { rows } = await db.query<{ project_id: string; email: string; role: ProjectRole }>(
    `update invitations set accepted_at = now()
     where token_hash = $1 and accepted_at is null and expires_at > now()
     returning project_id, email, role`,
    [sha256(invitationToken)],
  );
  const row = rows[0];
  return row && { projectId: row.project_id, email: row.email, role: row.role };
}

/** Adds a member, or raises their role if they already are one (service role). */
export async function addMember(
  db: Queryable,
  input: { projectId: string; userId: string; role: ProjectRole },
): Promise<void> {
  await db.query(
    `insert into project_members (project_id, user_id, role) values ($1::uuid, $2::uuid, $3)
     on conflict (project_id, user_id) do nothing`,
    [input.projectId, input.userId, input.role],
  );
}
