import { EventEmitter } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { signWebhook } from '../../src/core/verify-signature.ts';
import { ErrorCapture } from '../../src/engine/error-capture.ts';
import { createListener } from '../../src/engine/listener.ts';
import { Notifier } from '../../src/engine/notifier.ts';
import { captureProcessErrors, type ProcessEvents } from '../../src/engine/process-errors.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { createApp } from '../../src/http/app.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

const mh = useMeshHook();

interface StoredEvent {
  source: string;
  error_type: string;
  severity: string;
  message: string;
  project_id: string | null;
  workflow_id: string | null;
  run_id: string | null;
  node_id: string | null;
  user_id: string | null;
  metadata: Record<string, unknown>;
  issue_id: string;
}

/** The stored events matching a condition, oldest first, read as the owner. */
async function events(where: string, params: unknown[]): Promise<StoredEvent[]> {
  const { rows } = await mh.db.pool.query<StoredEvent>(
    `select source, error_type, severity, message, project_id, workflow_id, run_id, node_id,
            user_id, metadata, issue_id
     from meshhook.error_events where ${where} order by ts, error_id`,
    params,
  );
  return rows;
}

/** Waits for `count` events matching the condition (captures outside a run are batched). */
function eventsEventually(where: string, params: unknown[], count: number) {
  return waitFor(
    async () => {
      const found = await events(where, params);
      return found.length >= count ? found : undefined;
    },
    { timeoutMs: 5_000, what: `${count} error events where ${where}` },
  );
}

async function issue(id: string) {
  const { rows } = await mh.db.pool.query(
    `select fingerprint, title, source, error_type, severity, status, count::int
     from meshhook.error_issues where id = $1`,
    [id],
  );
  return rows[0];
}

describe('capturing errors', () => {
  it('records each failed attempt of an http_call: retried ones low, the last one high', async () => {
    const receiver = await startReceiver();
    receiver.on('/fail', (_req, res) => void res.writeHead(500).end('down'));
    try {
      const { key } = await mh.project('http');
      const { id: workflowId, hook } = await mh.publish(
        key,
        'calls',
        chain({
          id: 'call',
          type: 'http_call',
          config: {
            method: 'POST',
            url: `${receiver.url}/fail`,
            retry: { max_attempts: 3, backoff_ms: 10 },
          },
        }),
      );
      const run = await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);
      expect(run.status).toBe('failed');

      const found = await events('run_id = $1', [run.id]);
      expect(found.map((e) => [e.source, e.error_type, e.severity, e.metadata.attempt])).toEqual([
        ['worker', 'http_5xx', 'low', 1],
        ['worker', 'http_5xx', 'low', 2],
        ['worker', 'http_5xx', 'high', 3],
      ]);
      for (const e of found) {
        expect(e).toMatchObject({ workflow_id: workflowId, node_id: 'call', run_id: run.id });
      }
      // One failure, one issue, whatever the attempt.
      expect(new Set(found.map((e) => e.issue_id)).size).toBe(1);
      expect(await issue(found[0]!.issue_id)).toMatchObject({
        source: 'worker',
        error_type: 'http_5xx',
        severity: 'high',
        status: 'unresolved',
        count: 3,
      });
    } finally {
      await receiver.close();
    }
  });

  it('records a JMESPath error, with the workflow secret masked in the message', async () => {
    const { key } = await mh.project('expressions');
    const secret = 'signing-secret-in-an-expression';
    const { hook } = await mh.publish(key, 'exprs', {
      nodes: [
        { id: 'hook', type: 'webhook', config: { signature: { scheme: 'hmac-sha256', secret } } },
        { id: 'shape', type: 'transform', config: { expression: `no_such_fn('${secret}')` } },
      ],
      edges: [{ from: 'hook', to: 'shape' }],
    });
    const body = '{}';
    const headers = signWebhook({
      config: { scheme: 'hmac-sha256', secret },
      body: Buffer.from(body),
      now: new Date(),
    });
    const run = await mh.finished(key, (await mh.trigger(hook, body, headers)).body.run_id);
    const [event, ...more] = await events('run_id = $1', [run.id]);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      source: 'worker',
      error_type: 'expression_error',
      severity: 'high',
      node_id: 'shape',
    });
    expect(event!.message).toContain('no_such_fn');
    const leaked = await mh.db.pool.query(
      `select (select count(*) from meshhook.error_events where (message || metadata::text) like $1)
            + (select count(*) from meshhook.error_issues where title like $1) as n`,
      [`%${secret}%`],
    );
    expect(Number(leaked.rows[0].n)).toBe(0);
  });

  it('groups the same failure of 1,000 runs into one issue, and two failures into two', async () => {
    const { key, id: projectId } = await mh.project('grouping');
    const failing = (expression: string) =>
      chain({ id: 'shape', type: 'transform', config: { expression } });
    const one = await mh.publish(key, 'one', failing('abs(`"x"`)'));
    const two = await mh.publish(key, 'two', failing('no_such_function(`1`)'));
    const runs = [];
    for (let i = 0; i < 1_000; i += 50) {
      const batch = Array.from({ length: 50 }, () => mh.trigger(one.hook, { i }));
      runs.push(...(await Promise.all(batch)));
    }
    const other = await mh.trigger(two.hook, {});
    await mh.finished(key, other.body.run_id);
    await waitFor(
      async () => {
        const { rows } = await mh.db.pool.query(
          `select count(*)::int as n from meshhook.runs where workflow_id = $1 and status = 'failed'`,
          [one.id],
        );
        return rows[0].n === 1_000 || undefined;
      },
      { timeoutMs: 60_000, what: '1,000 failed runs' },
    );
    const { rows } = await mh.db.pool.query(
      `select workflow_id, count::int, severity from meshhook.error_issues
       where project_id = $1 order by count desc`,
      [projectId],
    );
    expect(rows).toEqual([
      { workflow_id: one.id, count: 1_000, severity: 'high' },
      { workflow_id: two.id, count: 1, severity: 'high' },
    ]);
    expect(runs.every((r) => r.status === 202)).toBe(true);
  }, 90_000);

  it('records refused webhooks: a bad signature, an oversized body, an unknown URL', async () => {
    const { key, id: projectId } = await mh.project('intake');
    const { id: workflowId, hook } = await mh.publish(key, 'signed', {
      nodes: [
        {
          id: 'hook',
          type: 'webhook',
          config: { signature: { scheme: 'hmac-sha256', secret: 'the-real-signing-secret' } },
        },
      ],
      edges: [],
    });
    const forged = await mh.trigger(hook, '{}', { 'x-signature': 'sha256=' + 'ab'.repeat(32) });
    expect(forged.status).toBe(401);
    const big = await mh.trigger(hook, JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }));
    expect(big.status).toBe(413);
    const token = 'wh_unknown_token_that_must_not_be_stored';
    const unknown = await mh.trigger(`${mh.url}/hooks/${token}`, '{}');
    expect(unknown.status).toBe(404);

    const mine = await eventsEventually('project_id = $1', [projectId], 2);
    expect(mine.map((e) => [e.source, e.error_type, e.severity])).toEqual([
      ['webhook', 'signature_invalid', 'medium'],
      ['webhook', 'payload_too_large', 'low'],
    ]);
    for (const e of mine) expect(e.workflow_id).toBe(workflowId);
    const [orphan] = await eventsEventually(`error_type = 'workflow_not_found'`, [], 1);
    expect(orphan).toMatchObject({ source: 'webhook', severity: 'low', project_id: null });
    const stored = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.error_events where (message || metadata::text) like $1`,
      [`%${token}%`],
    );
    expect(stored.rows[0].n).toBe(0);
  });

  it('records an exception thrown in an API handler, with the caller', async () => {
    const { key, id: projectId } = await mh.project('handler');
    // A pool whose transactions cannot start, behind a real app: keys still resolve (single
    // queries), but every handler that opens a transaction throws.
    const real = mh.db.pool;
    const pool = new Proxy(real, {
      get(target, property) {
        if (property === 'connect') {
          return () => Promise.reject(new Error('the pool fell over'));
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const listener = await createListener({ connectionString: mh.db.url });
    onTestFinished(() => listener.close());
    const app = createApp({
      pool,
      listener,
      notifier: new Notifier(real),
      log: silentLog,
      errors: mh.running.errors,
      logHub: mh.running.logHub!,
      eventHub: mh.running.eventHub!,
      publicUrl: mh.url,
      webhookMaxBytes: 1024,
    });
    const response = await app.request('/api/workflows', {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: { code: 'internal', message: 'internal error', details: {} },
    });
    const [event] = await eventsEventually('project_id = $1', [projectId], 1);
    expect(event).toMatchObject({
      source: 'api',
      error_type: 'internal',
      severity: 'high',
      message: 'the pool fell over',
      metadata: { method: 'GET', route: '/api/workflows' },
    });
  });

  it('stores an uncaught exception before the process exits', async () => {
    const errors = new ErrorCapture({
      pool: mh.db.pool,
      notifier: new Notifier(mh.db.pool),
      log: silentLog,
    });
    const target = new EventEmitter();
    const exited: Array<{ code: number; stored: number }> = [];
    const remove = captureProcessErrors({
      errors,
      log: silentLog,
      target: target as unknown as ProcessEvents,
      exit: (code) => {
        // What the process would leave behind if it exited now.
        void events(`message = 'crash in a timer'`, []).then((found) =>
          exited.push({ code, stored: found.length }),
        );
      },
    });
    try {
      target.emit('unhandledRejection', new Error('a promise nobody awaited'));
      target.emit('uncaughtException', new Error('crash in a timer'));
      await waitFor(() => exited[0], { timeoutMs: 5_000, what: 'the exit' });
      expect(exited).toEqual([{ code: 1, stored: 1 }]);
      const found = await events(`source = 'system' and message in ($1, $2)`, [
        'a promise nobody awaited',
        'crash in a timer',
      ]);
      // Both may land in one millisecond: compare them in a fixed order.
      const seen = found.map((e) => [e.error_type, e.severity, e.project_id]).sort();
      expect(seen).toEqual([
        ['uncaught_exception', 'high', null],
        ['unhandled_rejection', 'high', null],
      ]);
    } finally {
      remove();
    }
  });

  it("announces captured errors on the project's stream, and only there", async () => {
    const { key, id: projectId } = await mh.project('live');
    const other = await mh.project('elsewhere');
    const elsewhere = await openSse(`${mh.url}/api/errors/stream`, {
      authorization: `Bearer ${other.key}`,
    });
    const { hook } = await mh.publish(
      key,
      'live',
      chain({ id: 'boom', type: 'terminate', config: { status: 'failed', message: 'no' } }),
    );
    const stream = await openSse(`${mh.url}/api/errors/stream`, {
      authorization: `Bearer ${key}`,
    });
    try {
      expect(stream.status).toBe(200);
      await mh.trigger(hook, {});
      const [event] = await stream.waitFor(1, 'errors');
      expect(JSON.parse(event!.data)).toEqual({ at: expect.any(String), project_id: projectId });
      // The other project's stream heard nothing (its own errors would arrive within 250 ms).
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(elsewhere.events.filter((e) => e.event === 'errors')).toEqual([]);
    } finally {
      stream.close();
      elsewhere.close();
    }
  });
});
