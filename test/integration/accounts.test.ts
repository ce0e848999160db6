import { beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/db/client.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';

const logLines: string[] = [];
const mh = useMeshHook({ logLines });

const PASSWORD = 'correct horse battery';
const flow = chain({ id: 'say', type: 'log', config: { level: 'info', message: 'hi' } });

let owner: SessionClient;
let projectId: string;

beforeAll(async () => {
  owner = sessionClient(mh.url);
  const status = await owner.request('GET', '/api/auth/status');
  expect(status.body).toEqual({ signup_open: true });
  const signup = await owner.enter('/api/auth/signup', {
    email: 'Owner@Example.com',
    password: PASSWORD,
    project_name: 'Acme',
  });
  expect(signup.status).toBe(201);
  projectId = signup.body.project.id;
});

/** Invites an address with a role and accepts as a new user; returns their client. */
async function invite(email: string, role: string): Promise<SessionClient> {
  const invitation = await owner.request('POST', `/api/projects/${projectId}/invitations`, {
    email,
    role,
  });
  expect(invitation.status).toBe(201);
  expect(invitation.body.url).toBe(`${mh.url}/invite/${invitation.body.token}`);
  const client = sessionClient(mh.url);
  const accepted = await client.enter('/api/auth/accept-invitation', {
    token: invitation.body.token,
    password: PASSWORD,
  });
  expect(accepted.status).toBe(200);
  expect(accepted.body.project).toEqual({ id: projectId, role });
  return client;
}

describe('sign-up and sessions', () => {
  it('opens sign-up only to the first user, with an httpOnly SameSite session cookie', async () => {
    const [cookie] = owner.setCookie;
    expect(cookie).toMatch(/^meshhook_session=[\w-]{40,};/);
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Lax/i);
    expect(cookie).toMatch(/; Path=\//);

    expect((await owner.request('GET', '/api/auth/status')).body).toEqual({ signup_open: false });
    const second = await sessionClient(mh.url).request('POST', '/api/auth/signup', {
      email: 'intruder@example.com',
      password: PASSWORD,
    });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('signup_closed');

    const me = await owner.request('GET', '/api/auth/me');
    expect(me.body).toMatchObject({
      user: { email: 'Owner@Example.com' },
      projects: [{ id: projectId, name: 'Acme', role: 'owner' }],
    });
    expect(me.body.csrf_token).toMatch(/^[\w-]{40,}$/);
  });

  it('refuses weak passwords at sign-up and malformed addresses with 422', async () => {
    const client = sessionClient(mh.url);
    const unknown = await client.request('POST', '/api/auth/login', {
      email: 'a@b.c',
      password: 'x',
    });
    expect(unknown.status).toBe(401);
    const malformed = await client.request('POST', '/api/auth/login', {
      email: 'not-an-address',
      password: PASSWORD,
    });
    expect(malformed.status).toBe(422);
    const weak = await client.request('POST', '/api/auth/signup', {
      email: 'x@y.z',
      password: 'short',
    });
    expect(weak.status).toBe(422);
  });

  it('needs the CSRF token and this origin for state-changing requests', async () => {
    const body = { slug: 'csrf', name: 'csrf', definition: flow };
    const noToken = await owner.request('POST', '/api/workflows', body, { 'x-csrf-token': '' });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error.code).toBe('csrf_failed');
    const crossSite = await owner.request('POST', '/api/workflows', body, {
      origin: 'https://evil.example',
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('csrf_failed');
    const ok = await owner.request('POST', '/api/workflows', body, { origin: mh.url });
    expect(ok.status).toBe(201);
    // Reads need no token.
    expect(
      (await owner.request('GET', '/api/workflows', undefined, { 'x-csrf-token': '' })).status,
    ).toBe(200);
  });

  it('asks a session to name its project for project-scoped routes', async () => {
    const project = owner.project;
    owner.project = undefined;
    try {
      const response = await owner.request('GET', '/api/workflows');
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('project_required');
    } finally {
      owner.project = project;
    }
  });

  it('ends the session on logout', async () => {
    const client = sessionClient(mh.url);
    expect(
      (await client.enter('/api/auth/login', { email: 'owner@example.com', password: PASSWORD }))
        .status,
    ).toBe(200);
    expect((await client.request('GET', '/api/workflows')).status).toBe(200);
    expect((await client.request('POST', '/api/auth/logout')).status).toBe(204);
    expect((await client.request('GET', '/api/workflows')).status).toBe(401);
  });
});

describe('login throttling', () => {
  it('holds an account back after 5 failures in the window, even with the right password', async () => {
    await invite('throttled@example.com', 'viewer');
    const client = sessionClient(mh.url);
    for (let i = 0; i < 5; i++) {
      const failed = await client.request('POST', '/api/auth/login', {
        email: 'throttled@example.com',
        password: 'wrong password!',
      });
      expect(failed.status).toBe(401);
      expect(failed.body.error.code).toBe('invalid_credentials');
    }
    const held = await client.request('POST', '/api/auth/login', {
      email: 'THROTTLED@example.com',
      password: PASSWORD,
    });
    expect(held.status).toBe(429);
    expect(held.body.error.code).toBe('rate_limited');
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(800);
    // Another account from the same address is not held by this one's failures.
    const other = await sessionClient(mh.url).request('POST', '/api/auth/login', {
      email: 'owner@example.com',
      password: PASSWORD,
    });
    expect(other.status).toBe(200);
  });

  it('holds an address back after 30 failures across accounts', async () => {
    const client = sessionClient(mh.url);
    await mh.db.pool.query(`delete from meshhook.login_throttle`);
    for (let i = 0; i < 30; i++) {
      await client.request('POST', '/api/auth/login', {
        email: `nobody${i}@example.com`,
        password: 'nope nope nope',
      });
    }
    const held = await client.request('POST', '/api/auth/login', {
      email: 'owner@example.com',
      password: PASSWORD,
    });
    expect(held.status).toBe(429);
    await mh.db.pool.query(`delete from meshhook.login_throttle`);
  });
});

describe('roles over the API', () => {
  const allowed = (status: number) => status < 400;

  it('lets each role, as a member or as an API key, do exactly what it may', async () => {
    /** An API key of the project with a role, driven like a session. */
    const keyOf = async (role: string): Promise<Pick<SessionClient, 'request'>> => {
      const created = await owner.request('POST', `/api/projects/${projectId}/api-keys`, {
        name: `${role} key`,
        role,
      });
      return { request: (method, path, body) => mh.api(created.body.key, method, path, body) };
    };
    const members: Record<string, Pick<SessionClient, 'request'>> = {
      owner,
      admin: await invite('admin@example.com', 'admin'),
      member: await invite('member@example.com', 'member'),
      viewer: await invite('viewer@example.com', 'viewer'),
      'admin key': await keyOf('admin'),
      'member key': await keyOf('member'),
      'viewer key': await keyOf('viewer'),
    };
    const created = await owner.request('POST', '/api/workflows', {
      slug: 'roles',
      name: 'roles',
      definition: flow,
    });
    const id = created.body.id;
    await owner.request('POST', `/api/workflows/${id}/publish`);
    const viewerId = (
      await owner.request('GET', `/api/projects/${projectId}/members`)
    ).body.items.find((m: any) => m.email === 'viewer@example.com').user_id;

    const actions: Array<
      [string, (c: Pick<SessionClient, 'request'>) => Promise<{ status: number }>, string]
    > = [
      ['list workflows', (c) => c.request('GET', '/api/workflows'), 'viewer'],
      ['read runs', (c) => c.request('GET', '/api/runs'), 'viewer'],
      ['list members', (c) => c.request('GET', `/api/projects/${projectId}/members`), 'viewer'],
      [
        'edit a workflow',
        (c) => c.request('PUT', `/api/workflows/${id}`, { definition: flow }),
        'member',
      ],
      ['publish', (c) => c.request('POST', `/api/workflows/${id}/publish`), 'member'],
      [
        'send a test event',
        (c) => c.request('POST', `/api/workflows/${id}/test-event`, { body: { n: 1 } }),
        'member',
      ],
      ['list API keys', (c) => c.request('GET', `/api/projects/${projectId}/api-keys`), 'admin'],
      [
        'create an API key',
        (c) =>
          c.request('POST', `/api/projects/${projectId}/api-keys`, { name: 'k', role: 'viewer' }),
        'admin',
      ],
      [
        'invite',
        (c) =>
          c.request('POST', `/api/projects/${projectId}/invitations`, {
            email: `x${Math.random()}@example.com`,
            role: 'viewer',
          }),
        'admin',
      ],
      [
        'change a role',
        (c) =>
          c.request('PATCH', `/api/projects/${projectId}/members/${viewerId}`, { role: 'viewer' }),
        'admin',
      ],
    ];
    const rank = { viewer: 1, member: 2, admin: 3, owner: 4 } as const;
    const table: string[] = [];
    for (const [action, call, min] of actions) {
      for (const [role, client] of Object.entries(members)) {
        const { status } = await call(client);
        const roleName = role.replace(' key', '') as keyof typeof rank;
        const expected = rank[roleName] >= rank[min as keyof typeof rank];
        table.push(
          `${action} as ${role}: ${allowed(status) === expected ? 'ok' : `WRONG (${status})`}`,
        );
        if (!expected) expect([action, role, status]).toEqual([action, role, 403]);
      }
    }
    expect(table.filter((line) => line.includes('WRONG'))).toEqual([]);
  });

  it('keeps a viewer from writing in SQL too (RLS), not only in the handlers', async () => {
    const { rows } = await mh.db.pool.query(
      `select id from meshhook.users where email = 'viewer@example.com'`,
    );
    const claims = { sub: rows[0].id, project_id: projectId };
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        db.query(
          `insert into meshhook.workflows (project_id, slug, name, definition, webhook_token)
           values ($1, 'by-viewer', 'x', '{}', 'tok-viewer')`,
          [projectId],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    const updated = await withTenant(mh.db.pool, claims, (db) =>
      db.query(`update meshhook.workflows set name = 'renamed by viewer'`),
    );
    expect(updated.rowCount).toBe(0);
    const seen = await withTenant(mh.db.pool, claims, (db) =>
      db.query(`select count(*)::int as n from meshhook.workflows`),
    );
    expect(seen.rows[0].n).toBeGreaterThan(0);
    await expect(
      withTenant(mh.db.pool, claims, (db) => db.query(`select password_hash from meshhook.users`)),
    ).rejects.toThrow(/permission denied/);
  });

  it('keeps the last owner, and lets only owners touch owners', async () => {
    const admin = sessionClient(mh.url);
    await admin.enter('/api/auth/login', { email: 'admin@example.com', password: PASSWORD });
    const ownerId = (await owner.request('GET', '/api/auth/me')).body.user.id;
    const demoteByAdmin = await admin.request(
      'PATCH',
      `/api/projects/${projectId}/members/${ownerId}`,
      { role: 'member' },
    );
    expect(demoteByAdmin.status).toBe(403);
    const lastOwner = await owner.request(
      'PATCH',
      `/api/projects/${projectId}/members/${ownerId}`,
      { role: 'admin' },
    );
    expect(lastOwner.status).toBe(409);
    const removeLast = await owner.request(
      'DELETE',
      `/api/projects/${projectId}/members/${ownerId}`,
    );
    expect(removeLast.status).toBe(409);
  });
});

describe('API keys', () => {
  it('shows a key once, lists it without secret, and revokes it', async () => {
    const created = await owner.request('POST', `/api/projects/${projectId}/api-keys`, {
      name: 'ci',
      role: 'member',
    });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(key).toMatch(/^mh_/);
    const viaKey = await mh.api(key, 'GET', '/api/workflows');
    expect(viaKey.status).toBe(200);

    const list = await owner.request('GET', `/api/projects/${projectId}/api-keys`);
    const listed = list.body.items.find((k: any) => k.id === created.body.id);
    expect(listed).toMatchObject({
      name: 'ci',
      role: 'member',
      prefix: key.slice(0, 11),
      revoked_at: null,
    });
    expect(listed.last_used_at).not.toBeNull();
    expect(JSON.stringify(list.body)).not.toContain(key);

    expect(
      (await owner.request('DELETE', `/api/projects/${projectId}/api-keys/${created.body.id}`))
        .status,
    ).toBe(204);
    expect((await mh.api(key, 'GET', '/api/workflows')).status).toBe(401);
  });

  it('never writes passwords, session tokens or API keys to the process log', async () => {
    const created = await owner.request('POST', `/api/projects/${projectId}/api-keys`, {
      name: 'log',
      role: 'viewer',
    });
    const everything = logLines.join('\n');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(created.body.key);
    for (const cookie of owner.setCookie)
      expect(everything).not.toContain(cookie.split(';')[0]!.split('=')[1]!);
  });
});

describe('tenant isolation for users', () => {
  it('answers 404 to every URL of a project the user is not in', async () => {
    const other = await mh.project('Other tenant');
    const otherWorkflow = await mh.publish(other.key, 'theirs', flow);
    const urls: Array<[string, string, unknown?]> = [
      ['GET', `/api/projects/${other.id}/members`],
      ['GET', `/api/projects/${other.id}/api-keys`],
      ['POST', `/api/projects/${other.id}/invitations`, { email: 'a@b.c', role: 'viewer' }],
      ['GET', `/api/workflows/${otherWorkflow.id}`],
    ];
    for (const [method, path, body] of urls) {
      const response = await owner.request(method, path, body);
      expect([path, response.status]).toEqual([path, 404]);
    }
    const named = await owner.request('GET', '/api/workflows', undefined, {
      'meshhook-project': other.id,
    });
    expect(named.status).toBe(404);
  });
});
