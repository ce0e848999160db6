import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../client.ts';

/** A project as the API shows it. */
export interface Project {
  id: string;
  name: string;
  createdAt: Date;
}

/** Roles of project members and API keys, weakest last. */
export type ProjectRole = 'owner' | 'admin' | 'member' | 'viewer';

/** An API key's stored facts; the key itself is never stored. */
export interface ApiKey {
  id: string;
  projectId: string;
  name: string;
  role: ProjectRole;
  prefix: string;
}

const KEY_PREFIX = 'mh_';

/** sha256 of an API key, the form it is looked up by. */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Creates a project. */
export async function createProject(db: Queryable, input: { name: string }): Promise<Project> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date }>(
    `insert into projects (name) values ($1) returning id, name, created_at`,
    [input.name],
  );
  const row = rows[0]!;
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

/** Creates an API key; the returned `key` is the only time the secret exists outside a hash. */
export async function createApiKey(
  db: Queryable,
  input: { projectId: string; name: string; role: ProjectRole },
): Promise<ApiKey & { key: string }> {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, 11);
  const { rows } = await db.query<{ id: string }>(
    `insert into api_keys (project_id, name, role, token_hash, token_prefix)
     values ($1::uuid, $2, $3, $4, $5) returning id`,
    [input.projectId, input.name, input.role, hashApiKey(key), prefix],
  );
  return {
    id: rows[0]!.id,
    projectId: input.projectId,
    name: input.name,
    role: input.role,
    prefix,
    key,
  };
}

/**
 * Resolves a presented API key to its row, or undefined when it is unknown or revoked. Runs as
 * the service role: the caller has no claims yet. Records use at most once a minute, so a busy
 * key does not turn every request into a write.
 */
export async function authenticateApiKey(db: Queryable, key: string): Promise<ApiKey | undefined> {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    name: string;
    role: ProjectRole;
    token_prefix: string;
    stale: boolean;
  }>(
    `select id, project_id, name, role, token_prefix,
            last_used_at is null or last_used_at < now() - interval '1 minute' as stale
     from api_keys where token_hash = $1 and revoked_at is null`,
    [hashApiKey(key)],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.stale) {
    await db.query(`update api_keys set last_used_at = now() where id = $1::uuid`, [row.id]);
  }
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    role: row.role,
    prefix: row.token_prefix,
  };
}

/** An API key as its project's admins see it; never the hash. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  role: ProjectRole;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** The project's API keys, newest first (tenant, admins). */
export async function listApiKeys(db: Queryable, projectId: string): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<{
    id: string;
    name: string;
    role: ProjectRole;
    token_prefix: string;
    created_at: Date;
    last_used_at: Date | null;
    revoked_at: Date | null;
  }>(
    `select id, name, role, token_prefix, created_at, last_used_at, revoked_at
     from api_keys where project_id = $1::uuid order by created_at desc, id`,
    [projectId],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    role: r.role,
    prefix: r.token_prefix,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revokes a key (tenant, admins); false when there is no such live key. */
export async function revokeApiKey(
  db: Queryable,
  input: { projectId: string; keyId: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update api_keys set revoked_at = now()
     where project_id = $1::uuid and id = $2::uuid and revoked_at is null`,
    [input.projectId, input.keyId],
  );
  return rowCount === 1;
}

/** Whether the caller's claims see the project (run it under withTenant: RLS decides). */
export async function isProjectVisible(db: Queryable, projectId: string): Promise<boolean> {
  const { rows } = await db.query(`select 1 from projects where id = $1::uuid`, [projectId]);
  return rows.length > 0;
}
