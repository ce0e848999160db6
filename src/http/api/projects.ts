import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { withTenant, withTransaction, type Claims } from '../../db/client.ts';
import {
  createInvitation,
  createProjectWithOwner,
  findMembership,
  listInvitations,
  listMembers,
  listMyProjects,
  lockOwners,
  removeMember,
  setMemberRole,
} from '../../db/queries/accounts.ts';
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
  type ProjectRole,
} from '../../db/queries/projects.ts';
import { AppError, notFound } from '../app-error.ts';
import { atLeast } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { readJson, uuidParam } from '../validate.ts';

const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
const INVITATION_TTL_MS = 7 * 24 * 3600 * 1000;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The project named in the path as the caller sees it: its role there and the claims that
 * narrow RLS to it. Another tenant's project is a 404, whatever the caller.
 */
async function access(
  c: Context<AppEnv>,
  deps: HttpDeps,
  min: ProjectRole,
): Promise<{ projectId: string; role: ProjectRole; claims: Claims }> {
  const projectId = uuidParam(c, 'id', 'project');
  const caller = c.get('caller');
  let role: ProjectRole | undefined;
  let claims: Claims;
  if (caller.kind === 'api_key') {
    role = caller.projectId === projectId ? caller.role : undefined;
    claims = caller.claims;
  } else {
    role = await findMembership(deps.pool, { userId: caller.userId!, projectId });
    claims = { sub: caller.userId, project_id: projectId };
  }
  if (!role) throw notFound('project');
  if (!atLeast(role, min))
    throw new AppError('forbidden', `this action needs the ${min} role or above`);
  return { projectId, role, claims };
}

/** /api/projects: the caller's projects, members, invitations and API keys. */
export function projectRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const caller = c.get('caller');
    if (caller.kind === 'api_key') {
      const rows = await withTenant(deps.pool, caller.claims, (db) =>
        db.query<{ id: string; name: string }>(`select id, name from projects`),
      );
      return c.json({ items: rows.rows.map((p) => ({ ...p, role: caller.role })) });
    }
    const items = await withTenant(deps.pool, { sub: caller.userId }, (db) =>
      listMyProjects(db, caller.userId!),
    );
    return c.json({ items });
  });

  app.post('/', async (c) => {
    const caller = c.get('caller');
    if (caller.kind !== 'session') {
      throw new AppError('forbidden', 'projects are created by users, not by API keys');
    }
    const { name } = await readJson(c, z.strictObject({ name: z.string().trim().min(1).max(200) }));
    const id = await withTransaction(deps.pool, (db) =>
      createProjectWithOwner(db, { name, userId: caller.userId! }),
    );
    return c.json({ id, name, role: 'owner' }, 201);
  });

  app.get('/:id/members', async (c) => {
    const { projectId, claims } = await access(c, deps, 'viewer');
    const members = await withTenant(deps.pool, claims, (db) => listMembers(db, projectId));
    return c.json({
      items: members.map((m) => ({
        user_id: m.userId,
        email: m.email,
        role: m.role,
        created_at: iso(m.createdAt),
      })),
    });
  });

  app.patch('/:id/members/:userId', async (c) => {
    const { projectId, role, claims } = await access(c, deps, 'admin');
    const userId = uuidParam(c, 'userId', 'member');
    const input = await readJson(c, z.strictObject({ role: z.enum(ROLES) }));
    await withTenant(deps.pool, claims, async (db) => {
      const owners = await lockOwners(db, projectId);
      checkOwnerRules({ callerRole: role, owners, target: userId, newRole: input.role });
      if (!(await setMemberRole(db, { projectId, userId, role: input.role })))
        throw notFound('member');
    });
    return c.json({ user_id: userId, role: input.role });
  });

  app.delete('/:id/members/:userId', async (c) => {
    const { projectId, role, claims } = await access(c, deps, 'admin');
    const userId = uuidParam(c, 'userId', 'member');
    await withTenant(deps.pool, claims, async (db) => {
      const owners = await lockOwners(db, projectId);
      checkOwnerRules({ callerRole: role, owners, target: userId });
      if (!(await removeMember(db, { projectId, userId }))) throw notFound('member');
    });
    return c.body(null, 204);
  });

  app.get('/:id/invitations', async (c) => {
    const { projectId, claims } = await access(c, deps, 'admin');
    const items = await withTenant(deps.pool, claims, (db) => listInvitations(db, projectId));
    return c.json({
      items: items.map((i) => ({
        id: i.id,
        email: i.email,
        role: i.role,
        created_at: iso(i.createdAt),
        expires_at: iso(i.expiresAt),
      })),
    });
  });

  app.post('/:id/invitations', async (c) => {
    const { projectId, role, claims } = await access(c, deps, 'admin');
    const input = await readJson(
      c,
      z.strictObject({
        email: z
          .string()
          .trim()
          .min(3)
          .max(254)
          .regex(/^[^@\s]+@[^@\s]+$/, 'an e-mail address'),
        role: z.enum(['admin', 'member', 'viewer']),
      }),
    );
    if (!atLeast(role, input.role))
      throw new AppError('forbidden', 'you cannot invite above your own role');
    const caller = c.get('caller');
    const invitation = await withTenant(deps.pool, claims, (db) =>
      createInvitation(db, {
        projectId,
        email: input.email,
        role: input.role,
        invitedBy: caller.userId ?? null,
        ttlMs: INVITATION_TTL_MS,
      }),
    );
    return c.json(
      {
        id: invitation.id,
        email: input.email,
        role: input.role,
        token: invitation.token,
        url: `${deps.publicUrl.replace(/\/+$/, '')}/invite/${invitation.token}`,
        expires_at: iso(invitation.expiresAt),
      },
      201,
    );
  });

  app.get('/:id/api-keys', async (c) => {
    const { projectId, claims } = await access(c, deps, 'admin');
    const keys = await withTenant(deps.pool, claims, (db) => listApiKeys(db, projectId));
    return c.json({
      items: keys.map((k) => ({
        id: k.id,
        name: k.name,
        role: k.role,
        prefix: k.prefix,
        created_at: iso(k.createdAt),
        last_used_at: iso(k.lastUsedAt),
        revoked_at: iso(k.revokedAt),
      })),
    });
  });

  app.post('/:id/api-keys', async (c) => {
    const { projectId, role, claims } = await access(c, deps, 'admin');
    const input = await readJson(
      c,
      z.strictObject({
        name: z.string().trim().min(1).max(100),
        role: z.enum(['admin', 'member', 'viewer']),
      }),
    );
    if (!atLeast(role, input.role))
      throw new AppError('forbidden', 'a key cannot have more rights than you');
    const key = await withTenant(deps.pool, claims, (db) =>
      createApiKey(db, { projectId, name: input.name, role: input.role }),
    );
    return c.json(
      { id: key.id, name: key.name, role: key.role, prefix: key.prefix, key: key.key },
      201,
    );
  });

  app.delete('/:id/api-keys/:keyId', async (c) => {
    const { projectId, claims } = await access(c, deps, 'admin');
    const keyId = uuidParam(c, 'keyId', 'API key');
    const revoked = await withTenant(deps.pool, claims, (db) =>
      revokeApiKey(db, { projectId, keyId }),
    );
    if (!revoked) throw notFound('API key');
    return c.body(null, 204);
  });

  return app;
}

/** Only owners touch owners, and a project always keeps one. */
function checkOwnerRules(input: {
  callerRole: ProjectRole;
  owners: string[];
  target: string;
  newRole?: ProjectRole;
}): void {
  const targetIsOwner = input.owners.includes(input.target);
  if ((targetIsOwner || input.newRole === 'owner') && input.callerRole !== 'owner') {
    throw new AppError('forbidden', 'only an owner can grant or take the owner role');
  }
  if (targetIsOwner && input.newRole !== 'owner' && input.owners.length === 1) {
    throw new AppError('conflict', 'a project needs an owner: make someone else owner first');
  }
}
