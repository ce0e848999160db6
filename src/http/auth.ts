import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { findMembership, findSession } from '../db/queries/accounts.ts';
import { withTenant } from '../db/client.ts';
import { authenticateApiKey, isProjectVisible, type ProjectRole } from '../db/queries/projects.ts';
import type { StreamAccess } from '../engine/stream-access.ts';
import { AppError } from './app-error.ts';
import type { AppEnv, Caller, HttpDeps } from './context.ts';
import { UUID } from './validate.ts';

/** The session cookie's name. */
export const SESSION_COOKIE = 'meshhook_session';
/** How long a session lives without use; every use extends it. */
export const SESSION_TTL_MS = 14 * 24 * 3600 * 1000;
/** The header a browser session names its project with. */
export const PROJECT_HEADER = 'meshhook-project';
/** The query parameter that may stand for the project header on reads (`?project=<id>`). */
export const PROJECT_QUERY = 'project';
/** The header carrying the session's CSRF token on state-changing requests. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves the caller: `Authorization: Bearer <api key>` for scripts, the session cookie for the
 * browser. A session's state-changing request must carry its CSRF token and, when the browser
 * says where it comes from, come from this origin. Answers 401 when there is neither.
 */
export function authenticate(deps: HttpDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match)
        throw new AppError('unauthorized', 'send an API key as "Authorization: Bearer <key>"');
      const key = await authenticateApiKey(deps.pool, match[1]!);
      if (!key) throw new AppError('unauthorized', 'the API key is unknown or revoked');
      c.set('caller', {
        kind: 'api_key',
        keyId: key.id,
        claims: { key_id: key.id, role: key.role },
        projectId: key.projectId,
        role: key.role,
      });
      return next();
    }

    const token = getCookie(c, SESSION_COOKIE);
    const session = token
      ? await findSession(deps.pool, { token, ttlMs: SESSION_TTL_MS })
      : undefined;
    if (!session) {
      throw new AppError(
        'unauthorized',
        'sign in, or send an API key as "Authorization: Bearer <key>"',
      );
    }
    if (!SAFE_METHODS.has(c.req.method)) checkCsrf(c, session.csrfToken, deps.publicUrl);

    const caller: Caller = {
      kind: 'session',
      userId: session.userId,
      claims: { sub: session.userId },
      session: { email: session.email, csrfToken: session.csrfToken },
    };
    // EventSource cannot send headers, so a read may name its project in the query instead.
    const project =
      c.req.header(PROJECT_HEADER) ??
      (SAFE_METHODS.has(c.req.method) ? c.req.query(PROJECT_QUERY) : undefined);
    if (project !== undefined) {
      const role = UUID.test(project)
        ? await findMembership(deps.pool, { userId: session.userId, projectId: project })
        : undefined;
      if (!role) throw new AppError('not_found', 'project not found');
      caller.projectId = project;
      caller.role = role;
      caller.claims = { sub: session.userId, project_id: project };
    }
    c.set('caller', caller);
    return next();
  };
}

function checkCsrf(c: Context, expected: string, publicUrl: string): void {
  const origin = c.req.header('origin');
  if (
    origin !== undefined &&
    origin !== new URL(c.req.url).origin &&
    origin !== new URL(publicUrl).origin
  ) {
    throw new AppError('csrf_failed', 'cross-site request refused');
  }
  const sent = Buffer.from(c.req.header(CSRF_HEADER) ?? '');
  const wanted = Buffer.from(expected);
  if (sent.length !== wanted.length || !timingSafeEqual(sent, wanted)) {
    throw new AppError(
      'csrf_failed',
      `state-changing requests need the session's ${CSRF_HEADER} header`,
    );
  }
}

/** For routes that act in one project: a browser session must name it. */
export const requireProject: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get('caller').projectId) {
    throw new AppError('project_required', `name the project in the ${PROJECT_HEADER} header`);
  }
  await next();
};

/** The project of a request that passed requireProject. */
export function projectOf(c: Context<AppEnv>): string {
  const projectId = c.get('caller').projectId;
  if (!projectId)
    throw new AppError('project_required', `name the project in the ${PROJECT_HEADER} header`);
  return projectId;
}

const RANK: Record<ProjectRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

/** Whether a role is at least another. */
export const atLeast = (role: ProjectRole | undefined, min: ProjectRole): boolean =>
  role !== undefined && RANK[role] >= RANK[min];

/** Refuses callers whose role is below `min` (viewers read; members run and edit workflows). */
export function requireRole(min: ProjectRole): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!atLeast(c.get('caller').role, min)) {
      throw new AppError('forbidden', `this action needs the ${min} role or above`);
    }
    await next();
  };
}

/**
 * The caller of a stream, for its hub to decide access again whenever it may have changed:
 * the session must still exist and the project must still be visible under the caller's
 * claims (RLS).
 */
export function streamAccessOf(c: Context<AppEnv>, deps: HttpDeps): StreamAccess {
  const caller = c.get('caller');
  const projectId = projectOf(c);
  const sessionToken = caller.kind === 'session' ? getCookie(c, SESSION_COOKIE) : undefined;
  return {
    projectId,
    claims: caller.claims,
    identity: caller.keyId ? { keyId: caller.keyId } : { userId: caller.userId! },
    async authorize() {
      if (caller.kind === 'session') {
        const session = sessionToken
          ? await findSession(deps.pool, { token: sessionToken, ttlMs: SESSION_TTL_MS })
          : undefined;
        if (!session) return false;
      }
      return withTenant(deps.pool, caller.claims, (db) => isProjectVisible(db, projectId));
    },
  };
}

/** Node's response under the Hono context: streams are written to it directly. */
export function nodeResponseOf(c: Context<AppEnv>): ServerResponse {
  const response = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!response) throw new Error('streams are served by the Node.js HTTP server');
  return response;
}
