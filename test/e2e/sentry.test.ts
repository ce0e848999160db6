import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachErrorCapture } from '../../src/engine/web-app-errors.ts';
import type * as builtHooks from '../../src/hooks.server.ts';
import { hasChromium, signUp, useBrowser, useServerLog, visit } from '../helpers/browser.ts';
import { chain, useMeshHook, type TestMeshHook } from '../helpers/meshhook.ts';
import { startSentryReceiver } from '../helpers/sentry-receiver.ts';
import { sessionClient, type SessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

// Two receivers, so what the pages send and what the server sends can be told apart: the pages'
// DSN (PUBLIC_SENTRY_DSN) and the server's (SENTRY_DSN), with keys of their own.
const pages = await startSentryReceiver();
const server = await startSentryReceiver();
const PUBLIC_KEY = 'cafe0123456789abcdef0123456789ab';
const SERVER_KEY = 'f00dfeed0123456789abcdef01234567';
const PUBLIC_DSN = pages.dsn({ key: PUBLIC_KEY, project: '7' });

const serverLog = useServerLog();
const reporting = useMeshHook({
  roles: { web: true, worker: false },
  env: {
    PUBLIC_SENTRY_DSN: PUBLIC_DSN,
    SENTRY_DSN: server.dsn({ key: SERVER_KEY, project: '42' }),
    SENTRY_ENVIRONMENT: 'e2e',
    SENTRY_RELEASE: 'meshhook@9.9.9-e2e',
  },
  logLines: serverLog,
});
// The same MeshHook without either DSN: the pages must not even load the SDK.
const plain = useMeshHook({ roles: { web: true, worker: false } });

afterAll(async () => {
  await pages.close();
  await server.close();
});

const BUILD_CLIENT = fileURLToPath(new URL('../../build/client/', import.meta.url));

/** Every JavaScript file the web app serves under /_app, as its path. */
async function appScripts(): Promise<string[]> {
  const files = await readdir(join(BUILD_CLIENT, '_app'), { recursive: true });
  return files
    .filter((file) => file.endsWith('.js'))
    .map((file) => `/${relative(BUILD_CLIENT, join(BUILD_CLIENT, '_app', file))}`)
    .sort();
}

/** GETs a path and answers its status and body as text. */
async function fetchText(base: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(base + path);
  return { status: response.status, text: await response.text() };
}

/** The paths of the Sentry SDK's chunks: those holding its transport's auth parameter. */
async function sdkChunks(base: string): Promise<string[]> {
  const found: string[] = [];
  for (const path of await appScripts()) {
    if ((await fetchText(base, path)).text.includes('sentry_key')) found.push(path);
  }
  return found;
}

/** Records the paths of the scripts a page fetches from its own server, and every URL it asks for. */
function recordRequests(page: Page, origin: string): { scripts: string[]; urls: string[] } {
  const seen = { scripts: [] as string[], urls: [] as string[] };
  page.on('request', (request) => {
    const url = new URL(request.url());
    seen.urls.push(request.url());
    if (url.origin === origin && url.pathname.endsWith('.js')) seen.scripts.push(url.pathname);
  });
  return seen;
}

/** Signs a new owner up through the pages and gives the same account over the API. */
async function owner(
  mh: TestMeshHook,
  page: Page,
  email: string,
): Promise<{ client: SessionClient; userId: string; projectId: string }> {
  const account = { email, password: 'correct horse battery' };
  await visit(page, `${mh.url}/sign-up`);
  await signUp(page, account);
  const client = sessionClient(mh.url);
  expect((await client.enter('/api/auth/login', account)).status).toBe(200);
  const me = await client.request('GET', '/api/auth/me');
  return { client, userId: me.body.user.id, projectId: client.project! };
}

/** The error events MeshHook stored for a project, once there are `count`. */
async function storedErrors(mh: TestMeshHook, projectId: string, count: number): Promise<any[]> {
  return waitFor(
    async () => {
      const { rows } = await mh.db.pool.query(
        `select source, error_type, message, run_id, workflow_id, metadata
         from meshhook.error_events where project_id = $1 order by ts`,
        [projectId],
      );
      return rows.length >= count ? rows : undefined;
    },
    { what: `${count} stored errors` },
  );
}

describe('the server’s Sentry DSN', () => {
  it('is in nothing the web app serves; the pages get their own DSN at run time', async () => {
    const scripts = await appScripts();
    expect(scripts.length).toBeGreaterThan(10);
    const served: string[] = [];
    for (const path of ['/', '/sign-in', '/errors', ...scripts, '/api/client-config']) {
      const { status, text } = await fetchText(reporting.url, path);
      expect(status, path).toBe(200);
      served.push(text);
    }
    for (const text of served) expect(text).not.toContain(SERVER_KEY);
    expect(served.join('\n')).not.toContain(`127.0.0.1:${new URL(server.url).port}`);
    // The build holds neither DSN: the public one comes from the endpoint alone.
    expect(served.slice(0, -1).join('\n')).not.toContain(PUBLIC_KEY);

    const config = await fetch(`${reporting.url}/api/client-config`);
    expect(config.headers.get('cache-control')).toBe('no-store');
    expect(await config.json()).toEqual({
      sentry: {
        dsn: PUBLIC_DSN,
        environment: 'e2e',
        release: 'meshhook@9.9.9-e2e',
        sample_rate: 1,
      },
    });
    const none = await fetch(`${plain.url}/api/client-config`);
    expect(none.headers.get('cache-control')).toBe('no-store');
    expect(await none.json()).toEqual({ sentry: null });
  });
});

describe.skipIf(!hasChromium)('the pages’ errors in Sentry, in Chromium', () => {
  const web = useBrowser();
  let chunks: string[] = [];

  beforeAll(async () => {
    chunks = await sdkChunks(reporting.url);
  });

  it('sends an error thrown in a page from the page, with its context, scrubbed', async () => {
    const { page } = await web.open();
    const requests = recordRequests(page, reporting.url);
    const { client, userId, projectId } = await owner(reporting, page, 'owner@example.com');
    const created = await client.request('POST', '/api/workflows', {
      slug: 'shop',
      name: 'shop',
      definition: chain({ id: 'note', type: 'log', config: { level: 'info', message: 'hi' } }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const workflowId: string = created.body.id;
    const published = await client.request('POST', `/api/workflows/${workflowId}/publish`);
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    const started = await reporting.trigger(published.body.webhook.url, {});
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const runId: string = started.body.run_id;

    // A query string and a hash may hold tokens: neither may leave.
    await visit(page, `${reporting.url}/workflows/${workflowId}?token=secret-in-the-address#pw`);
    await page.locator('html[data-sentry=on]').waitFor({ state: 'attached' });
    await page.evaluate(() =>
      setTimeout(() => {
        throw new Error('boom with Bearer abc.def.ghi and password=hunter2-secret');
      }),
    );
    const [event] = await waitFor(() => {
      const found = pages.events();
      return found.length > 0 ? found : undefined;
    });
    expect(event.exception.values).toHaveLength(1);
    expect(event.exception.values[0]).toMatchObject({
      type: 'Error',
      value: 'boom with Bearer [REDACTED] and password=[REDACTED]',
      mechanism: { type: 'auto.browser.global_handlers.onerror', handled: false },
    });
    expect(event.tags).toEqual({ source: 'web', project_id: projectId, workflow_id: workflowId });
    expect(event.request).toEqual({ url: `${reporting.url}/workflows/${workflowId}` });
    expect(event.user).toEqual({ id: userId });
    expect(event.transaction).toBe('/workflows/[id]');
    expect(event).toMatchObject({
      environment: 'e2e',
      release: 'meshhook@9.9.9-e2e',
      platform: 'javascript',
    });
    expect(event.sdk.settings).toEqual({ infer_ip: 'never' });
    // From the page itself: a cross-origin request of Chromium's, to the pages' own DSN.
    const sent = pages.requests.find((r) =>
      r.envelope?.items.some((i) => i.header.type === 'event'),
    );
    expect(sent!.project).toBe('7');
    expect(sent!.headers.origin).toBe(reporting.url);
    expect(new URL(sent!.url, pages.url).searchParams.get('sentry_key')).toBe(PUBLIC_KEY);
    expect(sent!.headers).not.toHaveProperty('cookie');

    // The rejection of a run's page names the run.
    await visit(page, `${reporting.url}/runs/${runId}`);
    await page.locator('html[data-sentry=on]').waitFor({ state: 'attached' });
    await page.evaluate(() => {
      void Promise.reject(new Error('rejected on the run page'));
    });
    const rejected = await waitFor(() =>
      pages.events().find((e) => e.exception?.values?.[0]?.value === 'rejected on the run page'),
    );
    expect(rejected.tags).toEqual({ source: 'web', project_id: projectId, run_id: runId });
    expect(rejected.request).toEqual({ url: `${reporting.url}/runs/${runId}` });
    expect(rejected.exception.values[0].mechanism).toMatchObject({
      type: 'auto.browser.global_handlers.onunhandledrejection',
      handled: false,
    });

    const received = pages.text();
    for (const secret of [
      'abc.def.ghi',
      'hunter2-secret',
      'secret-in-the-address',
      '#pw',
      'owner@example.com',
      SERVER_KEY,
    ]) {
      expect(received).not.toContain(secret);
    }
    // The SDK's chunk came with Sentry on.
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(requests.scripts).toContain(chunk);

    // MeshHook's own reporter still has both, and the server does not send them a second time.
    const stored = await storedErrors(reporting, projectId, 2);
    expect(stored.map((e) => [e.source, e.error_type, e.run_id, e.workflow_id])).toEqual([
      ['web', 'browser_error', null, workflowId],
      // The server finds the run's workflow.
      ['web', 'unhandled_rejection', runId, workflowId],
    ]);
    expect(stored[0].message).toMatch(/^boom with Bearer \[REDACTED\] and password=/);
    await reporting.running.errors.flush();
    expect(server.events().filter((e) => e.tags?.source === 'web')).toEqual([]);
    await page.context().close();
  });

  it('loads nothing of Sentry and sends nothing without PUBLIC_SENTRY_DSN', async () => {
    const before = pages.requests.length + server.requests.length;
    const { page } = await web.open();
    const requests = recordRequests(page, plain.url);
    const { projectId } = await owner(plain, page, 'plain@example.com');
    await visit(page, `${plain.url}/errors?token=secret-in-the-address`);
    await page.locator('html[data-sentry=off]').waitFor({ state: 'attached' });
    await page.evaluate(() =>
      setTimeout(() => {
        throw new Error('boom without Sentry');
      }),
    );
    // MeshHook hears of it as ever.
    const stored = await storedErrors(plain, projectId, 1);
    expect(stored.map((e) => [e.source, e.message, e.metadata.page])).toEqual([
      ['web', 'boom without Sentry', '/errors'],
    ]);
    await plain.running.errors.flush();
    expect(pages.requests.length + server.requests.length).toBe(before);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(requests.scripts).not.toContain(chunk);
    expect(requests.scripts.length).toBeGreaterThan(0);
    expect(requests.urls.filter((url) => !url.startsWith(plain.url))).toEqual([]);
    await page.context().close();
  });
});

describe('the web app’s own server errors', () => {
  it('are captured as the API’s and sent through the server’s sink; expected ones are not', async () => {
    // The hooks as built (their own copy of web-app-errors.ts), handed a request as
    // routeRequests hands it to the web app.
    const hooks = (await import(
      new URL('../../build/server/entries/hooks.server.js', import.meta.url).href
    )) as typeof builtHooks;
    const req = {};
    attachErrorCapture(req, reporting.running.errors);
    const event = {
      request: new Request(`${reporting.url}/invite/a-secret-token`),
      route: { id: '/invite/[token]' },
      platform: { req },
    } as never;
    void hooks.handleError({ kind: 'unknown', error: new Error('shell failed to render'), event });
    void hooks.handleError({
      kind: 'framework',
      error: { status: 404, message: 'Not Found' },
      event,
    });
    await reporting.running.errors.flush();
    const { rows } = await reporting.db.pool.query(
      `select source, error_type, message, metadata from meshhook.error_events
       where message in ('shell failed to render', 'Not Found')`,
    );
    expect(rows).toEqual([
      {
        source: 'api',
        error_type: 'internal',
        message: 'shell failed to render',
        metadata: { method: 'GET', route: '/invite/[token]', component: 'web_app' },
      },
    ]);
    const sent = await waitFor(() =>
      server.events().find((e) => e.exception?.values?.[0]?.value === 'shell failed to render'),
    );
    expect(sent.tags).toMatchObject({ source: 'api' });
    expect(sent.extra).toEqual({ method: 'GET', route: '/invite/[token]', component: 'web_app' });
    expect(server.text()).not.toContain('a-secret-token');
  });
});
