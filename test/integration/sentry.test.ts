import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedError } from '../../src/core/error-events.ts';
import { signWebhook } from '../../src/core/verify-signature.ts';
import { createPool } from '../../src/db/client.ts';
import { freePort } from '../../src/db/embedded.ts';
import { ErrorCapture, type ErrorSink } from '../../src/engine/error-capture.ts';
import { Notifier } from '../../src/engine/notifier.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { chain, useMeshHook, type TestMeshHook } from '../helpers/meshhook.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { startSentryReceiver } from '../helpers/sentry-receiver.ts';
import { sessionClient } from '../helpers/session.ts';
import { waitFor } from '../helpers/wait.ts';

// One receiver for the whole file: the SDK is set up once per process, with one DSN.
const sentry = await startSentryReceiver();
const DSN_KEY = 'f00dfeed0123456789abcdef01234567';
const lines: string[] = [];
const mh = useMeshHook({
  env: {
    SENTRY_DSN: sentry.dsn({ key: DSN_KEY, project: '42' }),
    SENTRY_ENVIRONMENT: 'test',
    SENTRY_RELEASE: 'meshhook@9.9.9-test',
  },
  logLines: lines,
});
// The same MeshHook without Sentry: what runs cost when nothing is sent.
const plain = useMeshHook();

afterAll(async () => {
  await sentry.close();
});

/** The Sentry events of one run, once the capture has flushed. */
async function eventsOf(runId: string): Promise<any[]> {
  await mh.running.errors.flush();
  return sentry.events().filter((event) => event.tags?.run_id === runId);
}

const failing = (expression = 'no_such_fn(`1`)') =>
  chain({ id: 'shape', type: 'transform', config: { expression } });

async function failedRun(target: TestMeshHook, key: string, hook: string): Promise<any> {
  const run = await target.finished(key, (await target.trigger(hook, {})).body.run_id);
  expect(run.status).toBe('failed');
  return run;
}

describe('errors sent to Sentry', () => {
  it('sends a failed step as one event, with the run’s tags and MeshHook’s fingerprint', async () => {
    const { key, id: projectId } = await mh.project('steps');
    const { id: workflowId, hook } = await mh.publish(key, 'broken', failing());
    const run = await failedRun(mh, key, hook);
    const events = await waitFor(async () => {
      const found = await eventsOf(run.id);
      return found.length > 0 ? found : undefined;
    });
    expect(events).toHaveLength(1);
    const [event] = events;
    const { rows } = await mh.db.pool.query(
      `select e.error_id, i.fingerprint from meshhook.error_events e
       join meshhook.error_issues i on i.id = e.issue_id where e.run_id = $1`,
      [run.id],
    );
    expect(rows).toHaveLength(1);
    expect(event).toMatchObject({
      event_id: rows[0].error_id.replace(/-/g, ''),
      level: 'error',
      environment: 'test',
      release: 'meshhook@9.9.9-test',
      fingerprint: [rows[0].fingerprint],
      tags: {
        project_id: projectId,
        workflow_id: workflowId,
        run_id: run.id,
        node_id: 'shape',
        source: 'worker',
        error_type: 'expression_error',
        severity: 'high',
      },
      contexts: { meshhook: { error_id: rows[0].error_id, fingerprint: rows[0].fingerprint } },
    });
    expect(event.exception.values[0].type).toBe('expression_error');
    expect(event.exception.values[0].value).toContain('no_such_fn');
    // Nobody acted: no user; and nothing of the SDK's own collection beyond technical context.
    expect(event).not.toHaveProperty('user');
    expect(event).not.toHaveProperty('request');
    expect(event.contexts).toHaveProperty('runtime');
  });

  it('sends only the attempt that ended the run, not those retried', async () => {
    const upstream = await startReceiver();
    upstream.on('/fail', (_req, res) => void res.writeHead(500).end('down'));
    try {
      const { key } = await mh.project('retries');
      const { hook } = await mh.publish(
        key,
        'calls',
        chain({
          id: 'call',
          type: 'http_call',
          config: {
            method: 'POST',
            url: `${upstream.url}/fail`,
            retry: { max_attempts: 3, backoff_ms: 10 },
          },
        }),
      );
      const run = await failedRun(mh, key, hook);
      const stored = await mh.db.pool.query(
        `select severity from meshhook.error_events where run_id = $1`,
        [run.id],
      );
      expect(stored.rows.map((r) => r.severity).sort()).toEqual(['high', 'low', 'low']);
      const events = await waitFor(async () => {
        const found = await eventsOf(run.id);
        return found.length > 0 ? found : undefined;
      });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        level: 'error',
        tags: { error_type: 'http_5xx', node_id: 'call' },
        extra: { attempt: 3 },
      });
    } finally {
      await upstream.close();
    }
  });

  it('sends a burst of one issue’s events, then holds the rest back and counts them', async () => {
    const { key } = await mh.project('storm');
    const { id: workflowId, hook } = await mh.publish(key, 'storm', failing('abs(`"x"`)'));
    const runs = [];
    for (let i = 0; i < 14; i++) runs.push((await failedRun(mh, key, hook)).id);
    await mh.running.errors.flush();
    const sent = sentry.events().filter((event) => event.tags?.workflow_id === workflowId);
    // The default allows 10 events of an issue at once (then 10 a minute); all 14 are stored.
    expect(sent).toHaveLength(10);
    expect(new Set(sent.map((event) => event.fingerprint[0])).size).toBe(1);
    const { rows } = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.error_events where workflow_id = $1`,
      [workflowId],
    );
    expect(rows[0].n).toBe(14);
  });

  it('stores a refused webhook (4xx) but does not send it', async () => {
    const { key, id: projectId } = await mh.project('refusals');
    const { id: workflowId, hook } = await mh.publish(key, 'signed', {
      nodes: [
        {
          id: 'hook',
          type: 'webhook',
          config: { signature: { scheme: 'hmac-sha256', secret: 'a-signing-secret-of-refusals' } },
        },
      ],
      edges: [],
    });
    const forged = await mh.trigger(hook, '{}', { 'x-signature': 'sha256=' + 'ab'.repeat(32) });
    expect(forged.status).toBe(401);
    await mh.running.errors.flush();
    const { rows } = await mh.db.pool.query(
      `select error_type, metadata->>'status' as status from meshhook.error_events
       where project_id = $1`,
      [projectId],
    );
    expect(rows).toEqual([{ error_type: 'signature_invalid', status: '401' }]);
    expect(sentry.events().filter((e) => e.tags?.workflow_id === workflowId)).toEqual([]);
  });

  it('sends the acting user’s id and nothing else of them', async () => {
    const browser = sessionClient(mh.url);
    const email = 'someone.reporting@example.com';
    const signup = await browser.enter('/api/auth/signup', {
      email,
      password: 'correct horse battery',
      project_name: 'Browsers',
    });
    expect(signup.status).toBe(201);
    const posted = await browser.request('POST', '/api/error-events', {
      source: 'web',
      error_type: 'browser_error',
      severity: 'medium',
      message: 'Cannot read properties of undefined (reading "status")',
    });
    expect(posted.status).toBe(202);
    await mh.running.errors.flush();
    const event = sentry.events().find((e) => e.contexts?.meshhook?.error_id === posted.body.id);
    expect(event).toMatchObject({
      level: 'warning',
      platform: 'javascript',
      user: { id: signup.body.user.id },
      tags: { source: 'web', project_id: signup.body.project.id },
    });
    expect(Object.keys(event.user)).toEqual(['id']);
    expect(sentry.text()).not.toContain(email);
  });

  it('lets no secret through: a signature secret, a bearer token, a password field', async () => {
    const { key } = await mh.project('secrets');
    const secret = 'whsec-signing-secret-never-sent-1234';
    const bearer = 'tok_0123456789abcdefNEVERSENT';
    const password = 'pw-hunter2-never-sent';
    const { hook } = await mh.publish(key, 'leaky', {
      nodes: [
        { id: 'hook', type: 'webhook', config: { signature: { scheme: 'hmac-sha256', secret } } },
        {
          id: 'shape',
          type: 'transform',
          config: { expression: `no_such_fn('${secret}', 'Bearer ${bearer}')` },
        },
      ],
      edges: [{ from: 'hook', to: 'shape' }],
    });
    const body = '{}';
    const headers = signWebhook({
      config: { scheme: 'hmac-sha256', secret },
      body: Buffer.from(body),
      now: new Date(),
    });
    // A console line the SDK keeps as a breadcrumb of the next event, and enough breadcrumbs
    // to take the event past 32 KiB, which the SDK gzips.
    console.warn(`calling upstream with Authorization: Bearer ${bearer} password=${password}`);
    const Sentry = await import('@sentry/node');
    for (let i = 0; i < 40; i++) {
      const padding = `line ${i} `.padEnd(1_000, '.');
      Sentry.addBreadcrumb({ message: `${padding} Bearer ${bearer}`, data: { password } });
    }
    const run = await mh.finished(key, (await mh.trigger(hook, body, headers)).body.run_id);
    const reported = await mh.api(key, 'POST', '/api/error-events', {
      source: 'api',
      error_type: 'internal',
      severity: 'high',
      message: `login failed for Bearer ${bearer}`,
      metadata: { password, request: { headers: { authorization: `Bearer ${bearer}` } } },
    });
    expect(reported.status).toBe(202);
    await mh.running.errors.flush();

    const step = sentry.events().find((e) => e.tags?.run_id === run.id);
    const report = sentry.events().find((e) => e.contexts?.meshhook?.error_id === reported.body.id);
    // They arrived, masked: the absence below is not for want of an event.
    expect(step.exception.values[0].value).toContain('[REDACTED]');
    expect(report.extra.password).toBe('[REDACTED]');
    expect(step.breadcrumbs.some((b: any) => b.message?.includes('calling upstream'))).toBe(true);
    expect(sentry.requests.some((r) => r.headers['content-encoding'] === 'gzip')).toBe(true);
    const received = sentry.text();
    expect(received).toContain('line 39 ');
    for (const planted of [secret, bearer, password]) expect(received).not.toContain(planted);
  });

  it('never writes the DSN to the process log', () => {
    expect(lines.some((line) => line.includes('sending errors to Sentry'))).toBe(true);
    expect(lines.join('\n')).not.toContain(DSN_KEY);
  });
});

describe('the capture’s sinks', () => {
  function recordingSink(flushMs = 0): ErrorSink & { sent: CapturedError[]; flushes: number } {
    const sink = {
      sent: [] as CapturedError[],
      flushes: 0,
      send: (error: CapturedError) => void sink.sent.push(error),
      flush: async () => {
        sink.flushes++;
        await new Promise((resolve) => setTimeout(resolve, flushMs));
      },
    };
    return sink;
  }

  it('get an error the database could not store, and are waited for by flush', async () => {
    const pool = createPool({
      connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`,
    });
    const sink = recordingSink(150);
    const errors = new ErrorCapture({ pool, notifier: new Notifier(pool), log: silentLog });
    const remove = errors.addSink(sink);
    try {
      errors.capture(new Error('the database is gone'), { source: 'system' });
      const started = Date.now();
      await errors.flush(10_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(errors.counts).toMatchObject({ stored: 0, dropped: 1 });
      expect(sink.sent.map((e) => e.message)).toEqual(['the database is gone']);
      expect(sink.flushes).toBe(1);
      remove();
      errors.committed(sink.sent);
      expect(sink.sent).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });

  it('do not hold flush past its timeout', async () => {
    const sink = recordingSink(5_000);
    const errors = new ErrorCapture({
      pool: mh.db.pool,
      notifier: new Notifier(mh.db.pool),
      log: silentLog,
      sinks: [sink],
    });
    const started = Date.now();
    await errors.flush(100);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

/** Runs the worker fixture against the plain MeshHook's database; resolves on its exit. */
async function runFixture(env: Record<string, string>) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/SENTRY/.test(name)),
  );
  const child = spawn(process.execPath, ['test/fixtures/sentry-worker.ts', 'worker'], {
    env: {
      ...inherited,
      DATABASE_URL: plain.db.url,
      MESHHOOK_LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('Sentry in a process of its own', () => {
  it('reports an uncaught exception of a worker before the process exits with 1', async () => {
    const token = 'crash0123456789abcdefTOKEN';
    const { code, stderr } = await runFixture({
      SENTRY_DSN: sentry.dsn({ project: '9' }),
      FIXTURE_MODE: 'throw',
      FIXTURE_TOKEN: token,
    });
    expect(code, stderr).toBe(1);
    // Read as the process exited: nothing may arrive later.
    const events = sentry.requests
      .filter((r) => r.project === '9')
      .flatMap((r) => r.envelope?.items ?? [])
      .filter((item) => item.header.type === 'event')
      .map((item) => item.payload);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      level: 'error',
      tags: { source: 'system', error_type: 'uncaught_exception', severity: 'high' },
    });
    expect(events[0].exception.values[0]).toMatchObject({
      value: 'the worker broke while calling with Bearer [REDACTED]',
      mechanism: { type: 'meshhook', handled: false },
    });
    // Frames, but no source lines around them and no local variables.
    const frames: any[] = events[0].exception.values[0].stacktrace.frames;
    expect(frames.some((f) => f.in_app && f.filename.endsWith('sentry-worker.ts'))).toBe(true);
    for (const frame of frames) {
      expect(frame).not.toHaveProperty('context_line');
      expect(frame).not.toHaveProperty('vars');
    }
    expect(sentry.text()).not.toContain(token);
  });

  it('loads no Sentry code and sends nothing without SENTRY_DSN, or when switched off', async () => {
    const before = sentry.requests.length;
    const unset = await runFixture({
      FIXTURE_MODE: 'report',
      // The browser's DSN alone turns nothing on in the server.
      PUBLIC_SENTRY_DSN: sentry.dsn({ project: '7' }),
    });
    expect(unset.code, unset.stderr).toBe(0);
    expect(JSON.parse(unset.stdout)).toEqual({ sentryModules: 0, carrier: 'undefined' });
    const off = await runFixture({
      FIXTURE_MODE: 'report',
      SENTRY_DSN: sentry.dsn({ project: '7' }),
      MESHHOOK_SENTRY_ENABLED: 'false',
    });
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toEqual({ sentryModules: 0, carrier: 'undefined' });
    expect(sentry.requests.slice(before)).toEqual([]);

    // The same probe sees the SDK when it is on, and its error arrives.
    const on = await runFixture({
      FIXTURE_MODE: 'report',
      SENTRY_DSN: sentry.dsn({ project: '8' }),
    });
    expect(on.code, on.stderr).toBe(0);
    const seen = JSON.parse(on.stdout);
    expect(seen.sentryModules).toBeGreaterThan(0);
    expect(seen.carrier).toBe('object');
    const arrived = sentry.requests
      .filter((r) => r.project === '8')
      .flatMap((r) => r.envelope?.items ?? [])
      .filter((item) => item.header.type === 'event');
    expect(arrived.map((item) => item.payload.exception.values[0].value)).toEqual([
      'an error captured in the fixture',
    ]);
  }, 60_000);
});

describe('a Sentry that refuses or is gone', () => {
  const RUNS = 20;

  /** Starts RUNS failing runs at once; returns how long until all are final. */
  async function timeRuns(target: TestMeshHook): Promise<{ ms: number; runIds: string[] }> {
    const { key } = await target.project('timed');
    const { hook } = await target.publish(key, `timed-${Date.now()}`, failing());
    const started = Date.now();
    const triggered = await Promise.all(
      Array.from({ length: RUNS }, () => target.trigger(hook, {})),
    );
    const runs = await Promise.all(triggered.map((t) => target.finished(key, t.body.run_id)));
    const ms = Date.now() - started;
    expect(runs.map((r) => r.status)).toEqual(Array(RUNS).fill('failed'));
    return { ms, runIds: runs.map((r) => r.id) };
  }

  async function storedFor(runIds: string[]): Promise<number> {
    const { rows } = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.error_events where run_id = any($1::uuid[])`,
      [runIds],
    );
    return rows[0].n;
  }

  it('neither slows nor breaks runs: connection refused, hung up, 429', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const baseline = await timeRuns(plain);
      // Generous: runs on a loaded machine vary; a Sentry that held runs up would add seconds.
      const bound = baseline.ms * 3 + 2_000;

      await sentry.down();
      const refused = await timeRuns(mh);
      await mh.running.errors.flush(2_000);
      await sentry.up();
      sentry.respond('hang-up');
      const beforeHangUps = sentry.requests.length;
      const hungUp = await timeRuns(mh);
      await mh.running.errors.flush(2_000);
      const hangUps = sentry.requests.length - beforeHangUps;
      sentry.respond('rate-limited', { retryAfter: 60 });
      const beforeLimited = sentry.requests.length;
      const limited = await timeRuns(mh);
      const limitedRequests = sentry.requests.length - beforeLimited;
      // Each phase was tried for real: the hung-up sends arrived (the 10 events one issue may
      // send at once), so did the one answered 429.
      expect(hangUps).toBeGreaterThanOrEqual(10);
      expect(limitedRequests).toBeGreaterThanOrEqual(1);

      for (const { ms, runIds } of [refused, hungUp, limited]) {
        expect(ms).toBeLessThan(bound);
        expect(await storedFor(runIds)).toBe(RUNS);
      }
      // And shutting down is not held up either: the flush gives up at its timeout.
      const started = Date.now();
      await mh.running.errors.flush(2_000);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(mh.running.errors.counts.dropped).toBe(0);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
      sentry.respond('ok');
    }
  }, 120_000);
});
