import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { firstClosedFolder, freePort } from '../../src/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

const cli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['bin/meshhook.js', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });

describe('meshhook CLI against DATABASE_URL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('migrate is idempotent and projects create --json prints one JSON line with a working key', async () => {
    const env = { DATABASE_URL: db.url };
    const migrated = cli(['migrate'], env);
    expect(migrated.status).toBe(0);
    expect(migrated.stdout.trim()).toBe('up to date');

    const created = cli(['projects', 'create', 'Acme Inc', '--json'], env);
    expect(created.status).toBe(0);
    const lines = created.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const project = JSON.parse(lines[0]!);
    expect(project).toEqual({
      id: expect.any(String),
      name: 'Acme Inc',
      api_key: expect.stringMatching(/^mh_/),
    });
    const { rows } = await db.pool.query(
      `select k.role, p.name from meshhook.api_keys k join meshhook.projects p on p.id = k.project_id`,
    );
    expect(rows).toEqual([{ role: 'admin', name: 'Acme Inc' }]);
    // Only a hash is stored.
    const stored = await db.pool.query(`select token_hash::text as h from meshhook.api_keys`);
    expect(stored.rows[0].h).not.toContain(project.api_key);
  });

  it('finishes the steps in flight on SIGTERM before it exits 0', async () => {
    const receiver = await startReceiver();
    receiver.on('/slow', (_req, res) => {
      setTimeout(() => res.writeHead(200).end('late'), 700);
    });
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/meshhook.js', 'start'], {
      env: { ...process.env, DATABASE_URL: db.url, PORT: String(port), MESHHOOK_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, {
        what: 'readyz',
      });
      const { api_key: key } = JSON.parse(
        cli(['projects', 'create', 'graceful', '--json'], { DATABASE_URL: db.url }).stdout,
      );
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const created: any = await (
        await fetch(`${url}/api/workflows`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            slug: 'slow',
            name: 'slow',
            definition: {
              nodes: [
                { id: 'hook', type: 'webhook', config: {} },
                {
                  id: 'call',
                  type: 'http_call',
                  config: { method: 'GET', url: `${receiver.url}/slow` },
                },
              ],
              edges: [{ from: 'hook', to: 'call' }],
            },
          }),
        })
      ).json();
      const published: any = await (
        await fetch(`${url}/api/workflows/${created.id}/publish`, { method: 'POST', headers })
      ).json();
      const accepted: any = await (
        await fetch(published.webhook.url, { method: 'POST', body: '{}' })
      ).json();
      await waitFor(() => receiver.to('/slow').length === 1, { what: 'the step to start' });
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      const { rows } = await db.pool.query(`select status from meshhook.runs where id = $1`, [
        accepted.run_id,
      ]);
      expect(rows).toEqual([{ status: 'succeeded' }]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await receiver.close();
    }
  });

  it('reports every configuration problem at once and exits non-zero', () => {
    const result = cli(['migrate'], {
      DATABASE_URL: 'mysql://nope',
      PORT: 'eighty',
      MESHHOOK_LEASE_MS: '1',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('invalid configuration');
    for (const key of ['DATABASE_URL', 'PORT', 'MESHHOOK_LEASE_MS'])
      expect(result.stderr).toContain(key);
  });

  it('users create adds a user with a hashed password, and a member with --project', async () => {
    const project = JSON.parse(
      cli(['projects', 'create', 'Team', '--json'], { DATABASE_URL: db.url }).stdout,
    );
    const result = spawnSync(
      process.execPath,
      [
        'bin/meshhook.js',
        'users',
        'create',
        'dev@example.com',
        '--project',
        project.id,
        '--role',
        'admin',
        '--json',
      ],
      {
        env: { ...process.env, DATABASE_URL: db.url },
        input: 'a long enough password\n',
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(0);
    const user = JSON.parse(result.stdout.trim());
    expect(user).toEqual({ id: expect.any(String), email: 'dev@example.com' });
    const { rows } = await db.pool.query(
      `select u.password_hash, m.role from meshhook.users u
       join meshhook.project_members m on m.user_id = u.id where u.id = $1`,
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].role).toBe('admin');
    expect(rows[0].password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(rows[0].password_hash).not.toContain('a long enough password');

    const again = spawnSync(
      process.execPath,
      ['bin/meshhook.js', 'users', 'create', 'DEV@example.com'],
      {
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          MESHHOOK_USER_PASSWORD: 'a long enough password',
        },
        encoding: 'utf8',
      },
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('exists already');
    const short = spawnSync(
      process.execPath,
      ['bin/meshhook.js', 'users', 'create', 'x@example.com'],
      {
        env: { ...process.env, DATABASE_URL: db.url },
        input: 'short\n',
        encoding: 'utf8',
      },
    );
    expect(short.status).toBe(2);
  });

  it('answers usage errors with exit code 2', () => {
    expect(cli(['frobnicate'], {}).status).toBe(2);
    expect(cli(['projects', 'create'], { DATABASE_URL: db.url }).status).toBe(2);
  });
});

// As root the embedded PostgreSQL runs as the user postgres, which a checkout inside a closed
// folder (mode 700) keeps out: there MeshHook must say so rather than start.
const closedToPostgres =
  process.getuid?.() === 0 ? await firstClosedFolder(process.cwd()) : undefined;

describe('meshhook start without DATABASE_URL', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meshhook-start-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it.runIf(closedToPostgres)('says which folder keeps PostgreSQL out, and exits 1', () => {
    const env: Record<string, string> = { MESHHOOK_DATA_DIR: dataDir, PORT: '0' };
    const result = spawnSync(process.execPath, ['bin/meshhook.js', 'start'], {
      env: Object.fromEntries(
        Object.entries({ ...process.env, ...env }).filter(([k]) => k !== 'DATABASE_URL'),
      ),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`cannot enter ${closedToPostgres}`);
    expect(result.stderr).toContain('DATABASE_URL');
  });

  it.runIf(!closedToPostgres)(
    'runs on an embedded PostgreSQL under MESHHOOK_DATA_DIR and stops it on SIGTERM',
    async () => {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        MESHHOOK_DATA_DIR: dataDir,
        PORT: String(port),
        MESHHOOK_LOG_LEVEL: 'info',
      };
      delete env.DATABASE_URL;
      const child = spawn(process.execPath, ['bin/meshhook.js', 'start'], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // What the process said, shown when the test fails (a start that never gets ready, a stop
      // that hangs).
      let said = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
      onTestFailed(() => console.error(`meshhook start said:\n${said}`));
      try {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok,
          { timeoutMs: 30_000, what: 'readyz' },
        );
        expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({
          status: 'ok',
        });
        expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);
      } finally {
        child.kill('SIGTERM');
      }
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      // A clean stop removes the server's pid file.
      expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    },
  );
});
