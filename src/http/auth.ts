import type { MiddlewareHandler } from 'hono';
import { authenticateApiKey } from '../db/queries/projects.ts';
import { AppError } from './app-error.ts';
import type { AppEnv, HttpDeps } from './context.ts';

/** Resolves `Authorization: Bearer <api key>` into the caller's claims, or answers 401. */
export function requireApiKey(deps: HttpDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      throw new AppError('unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    const key = await authenticateApiKey(deps.pool, match[1]!);
    if (!key) throw new AppError('unauthorized', 'the API key is unknown or revoked');
    c.set('caller', {
      claims: { key_id: key.id, role: key.role },
      projectId: key.projectId,
      role: key.role,
    });
    await next();
  };
}

const RANK = { viewer: 0, member: 1, admin: 2, owner: 3 } as const;

/** Refuses callers whose role is below `min` (viewers read; members run and edit workflows). */
export function requireRole(min: keyof typeof RANK): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (RANK[c.get('caller').role] < RANK[min]) {
      throw new AppError('forbidden', `this action needs the ${min} role or above`);
    }
    await next();
  };
}
