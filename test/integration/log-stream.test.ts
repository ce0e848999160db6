import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { openSse } from '../helpers/sse.ts';

const mh = useMeshHook();
let receiver: Receiver;
let key: string;

beforeAll(async () => {
  receiver = await startReceiver();
  ({ key } = await mh.project('stream'));
});
afterAll(() => receiver.close());

const auth = () => ({ authorization: `Bearer ${key}` });

describe('GET /api/runs/:id/logs/stream', () => {
  it('sends the backlog, then live lines in id order, then end once the run is final', async () => {
    let answer: () => void = () => {};
    receiver.on('/gate', (_req, res) => {
      answer = () => res.writeHead(200).end('ok');
    });
    const { hook } = await mh.publish(key, 'live', {
      nodes: [
        { id: 'hook', type: 'webhook', config: {} },
        { id: 'before', type: 'log', config: { level: 'info', message: 'before the gate' } },
        { id: 'gate', type: 'http_call', config: { method: 'GET', url: `${receiver.url}/gate` } },
        {
          id: 'after',
          type: 'log',
          config: { level: 'error', message: 'after the gate', fields: { token: 'abc123secret' } },
        },
      ],
      edges: [
        { from: 'hook', to: 'before' },
        { from: 'before', to: 'gate' },
        { from: 'gate', to: 'after' },
      ],
    });
    const runId = (await mh.trigger(hook, {})).body.run_id;
    // Wait until the run is parked at the gate, so the first line is backlog.
    const deadline = Date.now() + 10_000;
    while (receiver.to('/gate').length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));

    const stream = await openSse(`${mh.url}/api/runs/${runId}/logs/stream`, auth());
    expect(stream.status).toBe(200);
    const [first] = await stream.waitFor(1, 'log');
    expect(JSON.parse(first!.data)).toMatchObject({
      run_id: runId,
      node_id: 'before',
      message: 'before the gate',
    });
    expect(stream.events.some((e) => e.event === 'end')).toBe(false);

    answer();
    await stream.waitFor(1, 'end');
    await stream.ended;
    const logs = stream.events.filter((e) => e.event === 'log');
    const ids = logs.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(logs.map((e) => JSON.parse(e.data).message)).toEqual([
      'before the gate',
      `GET ${receiver.url}/gate → 200`,
      'after the gate',
    ]);
    // Redaction happened before the line was stored.
    expect(JSON.parse(logs[2]!.data).fields).toEqual({ token: '[REDACTED]' });
    expect(JSON.parse(stream.events.at(-1)!.data)).toEqual({ run_id: runId, status: 'succeeded' });
  });

  it('resumes after Last-Event-ID or ?after= with no gap and no duplicate, and filters by level', async () => {
    const { hook } = await mh.publish(key, 'many', {
      nodes: [
        { id: 'hook', type: 'webhook', config: {} },
        { id: 'a', type: 'log', config: { level: 'debug', message: 'one' } },
        { id: 'b', type: 'log', config: { level: 'warn', message: 'two' } },
        { id: 'c', type: 'log', config: { level: 'info', message: 'three' } },
        { id: 'd', type: 'log', config: { level: 'error', message: 'four' } },
      ],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
        { from: 'c', to: 'd' },
      ],
    });
    const runId = (await mh.trigger(hook, {})).body.run_id;
    await mh.finished(key, runId);
    const all = (await mh.api(key, 'GET', `/api/runs/${runId}/logs`)).body.items;
    expect(all.map((l: any) => l.message)).toEqual(['one', 'two', 'three', 'four']);

    const resumed = await openSse(`${mh.url}/api/runs/${runId}/logs/stream`, {
      ...auth(),
      'last-event-id': all[1].id,
    });
    await resumed.ended;
    expect(resumed.events.filter((e) => e.event === 'log').map((e) => e.id)).toEqual([
      all[2].id,
      all[3].id,
    ]);

    const after = await openSse(
      `${mh.url}/api/runs/${runId}/logs/stream?after=${all[2].id}`,
      auth(),
    );
    await after.ended;
    expect(after.events.filter((e) => e.event === 'log').map((e) => e.id)).toEqual([all[3].id]);

    const warn = await openSse(`${mh.url}/api/runs/${runId}/logs/stream?level=warn`, auth());
    await warn.ended;
    expect(
      warn.events.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data).message),
    ).toEqual(['two', 'four']);
    const q = await mh.api(key, 'GET', `/api/runs/${runId}/logs?q=THR`);
    expect(q.body.items.map((l: any) => l.message)).toEqual(['three']);
  });

  it('answers 400 for a bad level or a non-numeric Last-Event-ID', async () => {
    const { hook } = await mh.publish(key, 'params', {
      nodes: [{ id: 'hook', type: 'webhook', config: {} }],
      edges: [],
    });
    const runId = (await mh.trigger(hook, {})).body.run_id;
    const badLevel = await mh.api(key, 'GET', `/api/runs/${runId}/logs/stream?level=loud`);
    expect(badLevel.status).toBe(400);
    const badId = await fetch(`${mh.url}/api/runs/${runId}/logs/stream`, {
      headers: { ...auth(), 'last-event-id': 'abc' },
    });
    expect(badId.status).toBe(400);
    const badAfter = await mh.api(key, 'GET', `/api/runs/${runId}/logs?after=-1`);
    expect(badAfter.status).toBe(400);
  });
});
