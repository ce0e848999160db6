import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { hashPassword, PASSWORD_LIMITS, verifyPassword } from '../../core/password.ts';
import { withTransaction } from '../../db/client.ts';
import {
  addMember,
  clearLoginFailures,
  createFirstUser,
  createSession,
  deleteSession,
  findSession,
  findUserForLogin,
  insertUser,
  listMyProjects,
  loginRetryAfter,
  recordLoginFailure,
  signupOpen,
  takeInvitation,
  type User,
} from '../../db/queries/accounts.ts';
import { withTenant } from '../../db/client.ts';
import { AppError } from '../app-error.ts';
import { SESSION_COOKIE, SESSION_TTL_MS } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { readJson } from '../validate.ts';

const email = z
  .string()
  .trim()
  .min(3)
  .max(254)
  .regex(/^[^@\s]+@[^@\s]+$/, 'an e-mail address');
const password = z.string().min(PASSWORD_LIMITS.min).max(PASSWORD_LIMITS.max);

const signupSchema = z.strictObject({
  email,
  password,
  project_name: z.string().trim().min(1).max(200).optional(),
});
const loginSchema = z.strictObject({ email, password: z.string().min(1).max(PASSWORD_LIMITS.max) });
const acceptSchema = z.strictObject({ token: z.string().min(10).max(200), password });

// Failed sign-ins allowed per window, per account and per client address. The address limit is
// higher: several people behind one NAT share it.
const LOGIN_WINDOW_MS = 15 * 60 * 1000;
const LOGIN_LIMIT_ACCOUNT = 5;
const LOGIN_LIMIT_ADDRESS = 30;

/** /api/auth: first sign-up, sign-in and out, the current user, accepting an invitation. */
export function authRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  // Checking a password for an unknown e-mail costs the same as for a known one, so response
  // times do not tell which addresses have accounts.
  const dummyHash = hashPassword('meshhook-no-such-account');

  const startSession = async (c: Context, user: User) => {
    const session = await createSession(deps.pool, { userId: user.id, ttlMs: SESSION_TTL_MS });
    setCookie(c, SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: new URL(c.req.url).protocol === 'https:' || deps.publicUrl.startsWith('https:'),
      path: '/',
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return session;
  };

  app.get('/status', async (c) => c.json({ signup_open: await signupOpen(deps.pool) }));

  app.post('/signup', async (c) => {
    const input = await readJson(c, signupSchema);
    const passwordHash = await hashPassword(input.password);
    const created = await withTransaction(deps.pool, (db) =>
      createFirstUser(db, {
        email: input.email,
        passwordHash,
        projectName: input.project_name ?? 'My project',
      }),
    );
    if (!created) {
      throw new AppError(
        'signup_closed',
        'sign-up is closed: ask a project admin for an invitation',
      );
    }
    await startSession(c, created.user);
    return c.json(
      {
        user: created.user,
        project: { id: created.projectId, name: input.project_name ?? 'My project' },
      },
      201,
    );
  });

  app.post('/login', async (c) => {
    const input = await readJson(c, loginSchema);
    const keys = [
      { key: `email:${input.email.toLowerCase()}`, limit: LOGIN_LIMIT_ACCOUNT },
      { key: `address:${clientAddress(c)}`, limit: LOGIN_LIMIT_ADDRESS },
    ];
    const wait = await loginRetryAfter(deps.pool, { keys, windowMs: LOGIN_WINDOW_MS });
    if (wait > 0) {
      c.header('retry-after', String(wait));
      throw new AppError('rate_limited', `too many failed sign-ins; try again in ${wait} s`, {
        retry_after_s: wait,
      });
    }
    const user = await findUserForLogin(deps.pool, input.email);
    const valid = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash));
    if (!user || !valid) {
      await recordLoginFailure(deps.pool, {
        keys: keys.map((k) => k.key),
        windowMs: LOGIN_WINDOW_MS,
      });
      throw new AppError('invalid_credentials', 'wrong e-mail address or password');
    }
    await clearLoginFailures(deps.pool, keys[0]!.key);
    await startSession(c, user);
    return c.json({ user: { id: user.id, email: user.email } });
  });

  app.post('/logout', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await deleteSession(deps.pool, token);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  });

  app.get('/me', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    const session = token
      ? await findSession(deps.pool, { token, ttlMs: SESSION_TTL_MS })
      : undefined;
    if (!session) throw new AppError('unauthorized', 'not signed in');
    const projects = await withTenant(deps.pool, { sub: session.userId }, (db) =>
      listMyProjects(db, session.userId),
    );
    return c.json({
      user: { id: session.userId, email: session.email },
      csrf_token: session.csrfToken,
      projects,
    });
  });

  app.post('/accept-invitation', async (c) => {
    const input = await readJson(c, acceptSchema);
    const passwordHash = await hashPassword(input.password);
    const accepted = await withTransaction(deps.pool, async (db) => {
      const invitation = await takeInvitation(db, input.token);
      if (!invitation) return undefined;
      const existing = await findUserForLogin(db, invitation.email);
      if (existing && !(await verifyPassword(input.password, existing.passwordHash))) {
        // The address has an account: joining takes that account's password.
        throw new AppError('invalid_credentials', 'this address has an account: use its password');
      }
      const user = existing
        ? { id: existing.id, email: existing.email }
        : await insertUser(db, { email: invitation.email, passwordHash });
      await addMember(db, {
        projectId: invitation.projectId,
        userId: user.id,
        role: invitation.role,
      });
      return { user, projectId: invitation.projectId, role: invitation.role };
    });
    if (!accepted) throw new AppError('not_found', 'this invitation is unknown, used or expired');
    await startSession(c, accepted.user);
    return c.json({
      user: accepted.user,
      project: { id: accepted.projectId, role: accepted.role },
    });
  });

  return app;
}

/** The client's address as the socket sees it (a proxy in front shows its own). */
function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
