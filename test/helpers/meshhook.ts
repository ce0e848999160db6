import { afterAll, afterEach, beforeAll, onTestFailed } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { withTransaction } from '../../src/db/client.ts';
import { createApiKey, createProject, type ProjectRole } from '../../src/db/queries/projects.ts';
import { createProcessLog, silentLog } from '../../src/engine/process-log.ts';
import { startProcess, type Roles, type Running } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { waitFor } from './wait.ts';

/** An HTTP answer: status and parsed JSON body. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A MeshHook process on its own database, with helpers to drive it over real HTTP. */
export interface TestMeshHook {
  db: TestDatabase;
  running: Running;
  url: string;
  /** Calls the API with an API key. */
  api<T = any>(key: string, method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** Creates a project and an API key of the given role. */
  project(name?: string, role?: ProjectRole): Promise<{ id: string; key: string }>;
  /** Creates and publishes a workflow; returns its id and webhook URL. */
  publish(key: string, slug: string, definition: unknown): Promise<{ id: string; hook: string }>;
  /** Posts to a webhook URL. */
  trigger(hook: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** Waits until the run is final and returns it. */
  finished(key: string, runId: string, timeoutMs?: number): Promise<any>;
}

/**
 * Starts MeshHook (web and workers unless told otherwise) on a fresh clone of the migrated
 * template for the current test file, and stops it and drops the database afterwards; the
 * database is kept when a test failed, for inspection.
 */
export function useMeshHook(
  options: {
    roles?: Roles;
    env?: Record<string, string>;
    /** Receives the process log's lines, to assert what is (never) logged. */
    logLines?: string[];
  } = {},
): TestMeshHook {
  let failed = false;
  const handle = {} as TestMeshHook;
  beforeAll(async () => {
    const db = await createTestDatabase();
    const config = loadConfig({
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      MESHHOOK_POLL_INTERVAL_MS: '1000',
      ...options.env,
    });
    const lines = options.logLines;
    const log = lines
      ? createProcessLog({ level: 'debug', sink: (line) => lines.push(line) })
      : process.env.MESHHOOK_TEST_LOG
        ? createProcessLog({ level: 'debug' })
        : silentLog;
    const running = await startProcess({
      config,
      roles: options.roles ?? { web: true, worker: true },
      log,
    });
    Object.assign(handle, makeHandle(db, running));
  });
  afterEach(() => {
    onTestFailed(() => {
      failed = true;
    });
  });
  afterAll(async () => {
    await handle.running?.stop();
    await handle.db?.drop({ keep: failed });
  });
  return handle;
}

function makeHandle(db: TestDatabase, running: Running): TestMeshHook {
  const url = running.url ?? '';
  const api: TestMeshHook['api'] = async (key, method, path, body) => {
    const response = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? JSON.parse(text) : null,
      headers: response.headers,
    };
  };
  return {
    db,
    running,
    url,
    api,
    async project(name = 'test', role = 'admin') {
      return withTransaction(db.pool, async (tx) => {
        const project = await createProject(tx, { name });
        const key = await createApiKey(tx, { projectId: project.id, name: 'test', role });
        return { id: project.id, key: key.key };
      });
    },
    async publish(key, slug, definition) {
      const created = await api(key, 'POST', '/api/workflows', { slug, name: slug, definition });
      if (created.status !== 201)
        throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
      const published = await api(key, 'POST', `/api/workflows/${created.body.id}/publish`);
      if (published.status !== 201)
        throw new Error(`publish: ${published.status} ${JSON.stringify(published.body)}`);
      return { id: created.body.id, hook: published.body.webhook.url };
    },
    async trigger(hook, body, headers = {}) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const response = await fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: raw,
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : null,
        headers: response.headers,
      };
    },
    async finished(key, runId, timeoutMs = 15_000) {
      return waitFor(
        async () => {
          const run = await api(key, 'GET', `/api/runs/${runId}`);
          return ['succeeded', 'failed', 'canceled'].includes(run.body?.status)
            ? run.body
            : undefined;
        },
        { timeoutMs, what: `run ${runId} to finish` },
      );
    },
  };
}

/** A definition whose webhook trigger `hook` leads through the given nodes in order. */
export function chain(...nodes: Array<{ id: string; type: string; config: unknown }>) {
  const ids = ['hook', ...nodes.map((n) => n.id)];
  return {
    nodes: [{ id: 'hook', type: 'webhook', config: {} }, ...nodes],
    edges: ids.slice(1).map((to, i) => ({ from: ids[i]!, to })),
  };
}

/**
 * A definition whose run succeeds when the payload's `ok` is true and fails otherwise: a branch
 * on `trigger.body.ok` to a `log` or to a failing `terminate`.
 * @example await mh.trigger((await mh.publish(key, 'flaky', flaky())).hook, { ok: false });
 */
export function flaky() {
  return {
    nodes: [
      { id: 'hook', type: 'webhook', config: {} },
      { id: 'check', type: 'branch', config: { condition: 'trigger.body.ok' } },
      { id: 'done', type: 'log', config: { level: 'info', message: 'ok' } },
      { id: 'boom', type: 'terminate', config: { status: 'failed', message: 'not ok' } },
    ],
    edges: [
      { from: 'hook', to: 'check' },
      { from: 'check', to: 'done', when: 'true' },
      { from: 'check', to: 'boom', when: 'false' },
    ],
  };
}
