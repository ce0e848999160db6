import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/core/verify-signature.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';

const mh = useMeshHook({ env: { MESHHOOK_WEBHOOK_MAX_BYTES: '2048' } });
let receiver: Receiver;
let key: string;

beforeAll(async () => {
  receiver = await startReceiver();
  ({ key } = await mh.project('runs'));
});
afterAll(() => receiver.close());

const count = async (table: string) =>
  Number((await mh.db.pool.query(`select count(*) from meshhook.${table}`)).rows[0].count);

describe('a webhook run', () => {
  it('executes transform, branch, log, delay and http_call steps and records their outputs', async () => {
    const { hook } = await mh.publish(key, 'orders', {
      nodes: [
        { id: 'hook', type: 'webhook', config: {} },
        {
          id: 'total',
          type: 'transform',
          config: { expression: 'sum(trigger.body.items[].price)' },
        },
        { id: 'big', type: 'branch', config: { condition: 'steps.total.output > `100`' } },
        { id: 'wait', type: 'delay', config: { ms: 50 } },
        {
          id: 'notify',
          type: 'http_call',
          config: {
            method: 'post',
            url: `${receiver.url}/orders`,
            headers: { 'x-order': '{{ trigger.body.id }}' },
            body: { total: '{{ steps.total.output }}', note: 'order {{ trigger.body.id }} is big' },
          },
        },
        { id: 'small', type: 'log', config: { level: 'info', message: 'small order' } },
        {
          id: 'say',
          type: 'log',
          config: {
            level: 'warn',
            message: 'done with {{ trigger.body.id }}',
            fields: { n: '{{ steps.total.output }}' },
          },
        },
      ],
      edges: [
        { from: 'hook', to: 'total' },
        { from: 'total', to: 'big' },
        { from: 'big', to: 'wait', when: 'true' },
        { from: 'wait', to: 'notify' },
        { from: 'big', to: 'small', when: 'false' },
        { from: 'notify', to: 'say' },
        { from: 'small', to: 'say' },
      ],
    });

    const accepted = await mh.trigger(hook, { id: 'A-7', items: [{ price: 60 }, { price: 55 }] });
    expect(accepted.status).toBe(202);
    const run = await mh.finished(key, accepted.body.run_id);

    expect(run.status).toBe('succeeded');
    const steps = Object.fromEntries(run.steps.map((s: any) => [s.node_id, s]));
    expect(steps.total.output).toBe(115);
    expect(steps.big.output).toBe(true);
    expect(steps.small.status).toBe('skipped');
    expect(steps.wait.output).toEqual({ delayed_ms: 50 });
    expect(steps.notify.output).toMatchObject({ status: 200, body: { ok: true } });
    expect(steps.say.status).toBe('succeeded');
    // What each step was given, templates rendered.
    expect(steps.hook.input).toBeNull();
    expect(steps.total.input).toEqual({ expression: 'sum(trigger.body.items[].price)' });
    expect(steps.notify.input).toEqual({
      method: 'POST',
      url: `${receiver.url}/orders`,
      headers: { 'x-order': 'A-7' },
      body: { total: 115, note: 'order A-7 is big' },
    });
    expect(steps.say.input).toMatchObject({ message: 'done with A-7', fields: { n: 115 } });
    // The delay is durable: the step after it started no earlier than 50 ms after it was queued.
    expect(
      Date.parse(steps.notify.started_at) - Date.parse(steps.total.finished_at),
    ).toBeGreaterThanOrEqual(50);

    const sent = receiver.to('/orders');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['x-order']).toBe('A-7');
    expect(sent[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent[0]!.body)).toEqual({ total: 115, note: 'order A-7 is big' });

    const logs = await mh.api(key, 'GET', `/api/runs/${run.id}/logs`);
    expect(logs.body.items.map((l: any) => [l.node_id, l.level, l.message])).toEqual([
      ['notify', 'info', `POST ${receiver.url}/orders → 200`],
      ['say', 'warn', 'done with A-7'],
    ]);
    expect(logs.body.items[1].fields).toEqual({ n: 115 });
    const warnOnly = await mh.api(key, 'GET', `/api/runs/${run.id}/logs?level=warn`);
    expect(warnOnly.body.items.map((l: any) => l.message)).toEqual(['done with A-7']);

    const events = await mh.api(key, 'GET', `/api/runs/${run.id}/events`);
    const types = events.body.items.map((e: any) => `${e.type}${e.node_id ? `:${e.node_id}` : ''}`);
    expect(types[0]).toBe('run_queued');
    expect(types[1]).toBe('run_started');
    expect(types).toContain('step_skipped:small');
    expect(types).toContain('step_waiting:wait');
    expect(types.at(-1)).toBe('run_succeeded');
    expect(types.filter((t: string) => t.startsWith('step_succeeded'))).toHaveLength(6);
  });

  it('retries an http_call that answers 500 twice and succeeds on the third attempt', async () => {
    receiver.on('/flaky', (_req, res, index) => {
      if (index < 2) res.writeHead(500).end('boom');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"third":true}');
    });
    const { hook } = await mh.publish(
      key,
      'flaky',
      chain({
        id: 'call',
        type: 'http_call',
        config: {
          method: 'GET',
          url: `${receiver.url}/flaky`,
          retry: { max_attempts: 3, backoff_ms: 20 },
        },
      }),
    );
    const { body } = await mh.trigger(hook, {});
    const run = await mh.finished(key, body.run_id);

    expect(run.status).toBe('succeeded');
    const call = run.steps.find((s: any) => s.node_id === 'call');
    expect(call).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      output: { status: 200, body: { third: true } },
    });
    expect(receiver.to('/flaky')).toHaveLength(3);

    const events = (await mh.api(key, 'GET', `/api/runs/${run.id}/events`)).body.items.filter(
      (e: any) => e.node_id === 'call',
    );
    expect(events.map((e: any) => e.type)).toEqual([
      'step_started',
      'step_retry_scheduled',
      'step_started',
      'step_retry_scheduled',
      'step_started',
      'step_succeeded',
    ]);
    expect(events[1].payload).toMatchObject({ attempt: 1, error: { type: 'http_5xx' } });
    expect(events[4].payload).toMatchObject({ attempt: 3 });

    const logs = (await mh.api(key, 'GET', `/api/runs/${run.id}/logs?level=warn`)).body.items;
    expect(logs.filter((l: any) => l.message.startsWith('attempt '))).toHaveLength(2);
  });

  it('fails the run when an http_call exhausts its retries, and honours Retry-After on 429', async () => {
    const seen: number[] = [];
    receiver.on('/limited', (_req, res) => {
      seen.push(Date.now());
      res.writeHead(429, { 'retry-after': '1' }).end();
    });
    const { hook } = await mh.publish(
      key,
      'limited',
      chain({
        id: 'call',
        type: 'http_call',
        config: {
          method: 'GET',
          url: `${receiver.url}/limited`,
          retry: { max_attempts: 2, backoff_ms: 1 },
        },
      }),
    );
    const run = await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ node_id: 'call', type: 'http_4xx' });
    expect(seen).toHaveLength(2);
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(950);
  });

  it('fails an http_call that exceeds its timeout_ms with http_timeout', async () => {
    receiver.on('/hang', () => {
      // never answers
    });
    const { hook } = await mh.publish(
      key,
      'hang',
      chain({
        id: 'call',
        type: 'http_call',
        config: {
          method: 'GET',
          url: `${receiver.url}/hang`,
          timeout_ms: 150,
          retry: { max_attempts: 1 },
        },
      }),
    );
    const started = Date.now();
    const run = await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ node_id: 'call', type: 'http_timeout' });
    expect(run.error.message).toContain('timed out after 150 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('masks the workflow secrets and credential-like fields in run logs', async () => {
    const { hook } = await mh.publish(key, 'leaky', {
      nodes: [
        {
          id: 'hook',
          type: 'webhook',
          config: { signature: { scheme: 'hmac-sha256', secret: 'very-secret-signing-key' } },
        },
        {
          id: 'say',
          type: 'log',
          config: {
            level: 'info',
            message: 'key very-secret-signing-key, auth {{ trigger.body.auth }}',
            fields: { password: 'hunter2', card: '4242 4242 4242 4242', note: 'fine' },
          },
        },
      ],
      edges: [{ from: 'hook', to: 'say' }],
    });
    const body = JSON.stringify({ auth: 'Bearer abc.def.ghi' });
    const headers = signWebhook({
      config: { scheme: 'hmac-sha256', secret: 'very-secret-signing-key' },
      body: Buffer.from(body),
      now: new Date(),
    });
    const run = await mh.finished(key, (await mh.trigger(hook, body, headers)).body.run_id);
    expect(run.status).toBe('succeeded');
    const [line] = (await mh.api(key, 'GET', `/api/runs/${run.id}/logs`)).body.items;
    expect(line.message).toBe('key [REDACTED], auth Bearer [REDACTED]');
    expect(line.fields).toEqual({ password: '[REDACTED]', card: '[REDACTED]', note: 'fine' });
    const stored = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.run_logs where run_id = $1
         and (message || fields::text) ~ '(very-secret-signing-key|hunter2|abc[.]def|4242)'`,
      [run.id],
    );
    expect(stored.rows[0].n).toBe(0);
    // The step's recorded input is redacted the same way.
    const say = run.steps.find((step: any) => step.node_id === 'say');
    expect(say.input.message).toBe('key [REDACTED], auth Bearer [REDACTED]');
    expect(say.input.fields).toEqual({ password: '[REDACTED]', card: '[REDACTED]', note: 'fine' });
    const inputs = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.run_steps where run_id = $1
         and input::text ~ '(very-secret-signing-key|hunter2|abc[.]def|4242)'`,
      [run.id],
    );
    expect(inputs.rows[0].n).toBe(0);
  });

  it('writes a message that is one placeholder holding an object as JSON text', async () => {
    const { hook } = await mh.publish(
      key,
      'object-message',
      chain(
        { id: 'say', type: 'log', config: { level: 'info', message: '{{ trigger.body }}' } },
        {
          id: 'stop',
          type: 'terminate',
          config: { status: 'failed', message: '{{ trigger.body }}' },
        },
      ),
    );
    const run = await mh.finished(key, (await mh.trigger(hook, { a: 1 })).body.run_id);
    const logs = (await mh.api(key, 'GET', `/api/runs/${run.id}/logs`)).body.items;
    expect(logs.map((l: any) => l.message)).toEqual(['{"a":1}', '{"a":1}']);
    expect(run.error.message).toBe('{"a":1}');
  });

  it('ends a run failed at a terminate node, with its message as the error', async () => {
    const { hook } = await mh.publish(
      key,
      'reject',
      chain({
        id: 'stop',
        type: 'terminate',
        config: { status: 'failed', message: 'rejected {{ trigger.body.id }}' },
      }),
    );
    const run = await mh.finished(key, (await mh.trigger(hook, { id: 9 })).body.run_id);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ node_id: 'stop', type: 'terminated', message: 'rejected 9' });
    const events = (await mh.api(key, 'GET', `/api/runs/${run.id}/events`)).body.items;
    expect(events.at(-1)).toMatchObject({
      type: 'run_failed',
      payload: { error: { node_id: 'stop' } },
    });
  });

  it('fails a run whose expression errors at run time, naming the node', async () => {
    const { hook } = await mh.publish(
      key,
      'bad-expr',
      chain({ id: 'calc', type: 'transform', config: { expression: 'abs(trigger.body.word)' } }),
    );
    const run = await mh.finished(key, (await mh.trigger(hook, { word: 'x' })).body.run_id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ node_id: 'calc', type: 'expression_error' });
  });
});

describe('webhook intake', () => {
  const signed = {
    nodes: [
      {
        id: 'hook',
        type: 'webhook',
        config: { signature: { scheme: 'github', secret: 'gh-secret-value' } },
      },
      { id: 'echo', type: 'log', config: { level: 'info', message: 'got {{ trigger.body.n }}' } },
    ],
    edges: [{ from: 'hook', to: 'echo' }],
  };

  it('answers the same run id for a replayed Idempotency-Key and creates one run', async () => {
    const { hook, id } = await mh.publish(key, 'idem', {
      ...signed,
      nodes: [{ id: 'hook', type: 'webhook', config: {} }, signed.nodes[1]],
    });
    const replies = await Promise.all(
      [1, 2, 3].map(() => mh.trigger(hook, { n: 1 }, { 'idempotency-key': 'delivery-42' })),
    );
    expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(replies.map((r) => r.body.run_id)).size).toBe(1);
    const other = await mh.trigger(hook, { n: 2 }, { 'idempotency-key': 'delivery-43' });
    expect(other.body.run_id).not.toBe(replies[0]!.body.run_id);
    const runs = await mh.api(key, 'GET', `/api/runs?workflow=${id}`);
    expect(runs.body.items).toHaveLength(2);
  });

  it('accepts a valid signature and refuses a bad one with 401, creating nothing', async () => {
    const { hook, id } = await mh.publish(key, 'signed', signed);
    // Counted for this workflow only: runs of earlier tests may still be settling.
    const ofWorkflow = async () =>
      (
        await mh.db.pool.query(
          `select (select count(*) from meshhook.runs where workflow_id = $1)::int as runs,
                  (select count(*) from meshhook.step_jobs j join meshhook.runs r on r.id = j.run_id
                    where r.workflow_id = $1)::int as jobs`,
          [id],
        )
      ).rows[0];
    const body = JSON.stringify({ n: 5 });
    const good = signWebhook({
      config: { scheme: 'github', secret: 'gh-secret-value' },
      body: Buffer.from(body),
      now: new Date(),
    });

    const bad = await mh.trigger(hook, body, { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('signature_invalid');
    const missing = await mh.trigger(hook, body);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('signature_missing');
    expect(await ofWorkflow()).toEqual({ runs: 0, jobs: 0 });

    const ok = await mh.trigger(hook, body, good);
    expect(ok.status).toBe(202);
    const run = await mh.finished(key, ok.body.run_id);
    expect(run.status).toBe('succeeded');
    // The signature header is not kept with the run.
    expect(run.trigger.headers['x-hub-signature-256']).toBe('[REDACTED]');
  });

  it.each([
    ['slack', { scheme: 'slack', secret: 'slack-signing-secret' }],
    ['jwt-hs256', { scheme: 'jwt-hs256', secret: 'jwt-shared-secret' }],
  ] as const)(
    'verifies %s deliveries over HTTP and refuses forged ones',
    async (scheme, signature) => {
      const { hook, id } = await mh.publish(key, `signed-${scheme}`, {
        nodes: [{ id: 'hook', type: 'webhook', config: { signature } }],
        edges: [],
      });
      const body = '{"n":7}';
      const good = signWebhook({ config: signature, body: Buffer.from(body), now: new Date() });
      const forged = signWebhook({
        config: { ...signature, secret: 'not-the-secret' },
        body: Buffer.from(body),
        now: new Date(),
      });
      const refused = await mh.trigger(hook, body, forged);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('signature_invalid');
      const accepted = await mh.trigger(hook, body, good);
      expect(accepted.status).toBe(202);
      const runs = await mh.api(key, 'GET', `/api/runs?workflow=${id}`);
      expect(runs.body.items.map((r: any) => r.id)).toEqual([accepted.body.run_id]);
    },
  );

  it('refuses bodies over the limit with 413, bad JSON with 400 and unknown hooks with 404', async () => {
    const { hook } = await mh.publish(key, 'limits', {
      nodes: [{ id: 'hook', type: 'webhook', config: {} }],
      edges: [],
    });
    const before = await count('runs');
    const big = await mh.trigger(hook, { pad: 'x'.repeat(4096) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({
      code: 'payload_too_large',
      details: { limit_bytes: 2048 },
    });
    const chunked = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode('y'.repeat(1000)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const badJson = await mh.trigger(hook, '{"n":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('invalid_json');
    const unknown = await mh.trigger(`${mh.url}/hooks/nope`, { pad: 'x'.repeat(4096) });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    expect(await count('runs')).toBe(before);

    const form = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=two',
    });
    expect(form.status).toBe(202);
    const run = await mh.finished(key, ((await form.json()) as any).run_id);
    expect(run.trigger.body).toEqual({ a: '1', b: 'two' });
  });

  it('stores no credentials from the query string or a custom signature header', async () => {
    const secret = 'shopify-like-secret';
    const { hook } = await mh.publish(key, 'custom-header', {
      nodes: [
        {
          id: 'hook',
          type: 'webhook',
          config: { signature: { scheme: 'hmac-sha256', secret, header: 'X-Shop-Hmac' } },
        },
      ],
      edges: [],
    });
    const body = '{"n":1}';
    const signed = signWebhook({
      config: { scheme: 'hmac-sha256', secret, header: 'X-Shop-Hmac' },
      body: Buffer.from(body),
      now: new Date(),
    });
    const accepted = await mh.trigger(`${hook}?token=abc123&shop=demo`, body, signed);
    expect(accepted.status).toBe(202);
    const run = await mh.finished(key, accepted.body.run_id);
    expect(run.trigger.query).toEqual({ token: '[REDACTED]', shop: 'demo' });
    expect(run.trigger.headers['x-shop-hmac']).toBe('[REDACTED]');
  });

  it('does not run an unpublished workflow', async () => {
    const created = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'draft-only',
      name: 'draft',
      definition: { nodes: [{ id: 'hook', type: 'webhook', config: {} }], edges: [] },
    });
    expect(created.status).toBe(201);
    expect(created.body.webhook).toBeNull();
  });
});
