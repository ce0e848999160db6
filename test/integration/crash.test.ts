import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

// The API and webhooks run in this process; the steps run in separate worker processes that
// the test kills for real.
const mh = useMeshHook({ roles: { web: true, worker: false } });
let receiver: Receiver;
const children: ChildProcess[] = [];

const LEASE_MS = 1500;

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['bin/meshhook.js', 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: mh.db.url,
      MESHHOOK_LEASE_MS: String(LEASE_MS),
      MESHHOOK_POLL_INTERVAL_MS: '200',
      MESHHOOK_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await receiver.close();
});

describe('a worker killed with SIGKILL mid-step', () => {
  it('loses nothing: another worker retakes the step after the lease expires, once', async () => {
    const { key } = await mh.project('crash');
    let release: () => void = () => {};
    receiver.on('/slow', (_req, res, index) => {
      if (index === 0) {
        // Hold the first request open: the worker that sent it dies before it is answered.
        release = () => res.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}');
    });
    const { hook } = await mh.publish(
      key,
      'crashy',
      chain(
        {
          id: 'call',
          type: 'http_call',
          config: { method: 'POST', url: `${receiver.url}/slow`, body: {} },
        },
        {
          id: 'after',
          type: 'log',
          config: { level: 'info', message: 'after {{ steps.call.output.status }}' },
        },
      ),
    );

    const first = startWorker();
    const runId = (await mh.trigger(hook, {})).body.run_id;
    await waitFor(() => receiver.to('/slow').length === 1, {
      what: 'the first worker to call out',
    });
    first.kill('SIGKILL');
    await once(first, 'exit');
    release();

    startWorker();
    const run = await mh.finished(key, runId, 20_000);
    expect(run.status).toBe('succeeded');
    expect(receiver.to('/slow')).toHaveLength(2);

    const call = run.steps.find((s: any) => s.node_id === 'call');
    expect(call).toMatchObject({ status: 'succeeded', attempts: 2, output: { status: 200 } });

    const events = (await mh.api(key, 'GET', `/api/runs/${runId}/events`)).body.items;
    const forCall = events.filter((e: any) => e.node_id === 'call');
    expect(forCall.map((e: any) => [e.type, e.payload.recovered ?? null])).toEqual([
      ['step_started', false],
      ['step_started', true],
      ['step_succeeded', null],
    ]);
    // The retake waited for the lease to expire.
    expect(Date.parse(forCall[1].ts) - Date.parse(forCall[0].ts)).toBeGreaterThanOrEqual(
      LEASE_MS - 50,
    );
    expect(events.filter((e: any) => e.type === 'step_succeeded')).toHaveLength(3);
    expect(events.filter((e: any) => e.type === 'run_succeeded')).toHaveLength(1);

    const { rows } = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.step_jobs where run_id = $1`,
      [runId],
    );
    expect(rows[0].n).toBe(0);
    const logs = (await mh.api(key, 'GET', `/api/runs/${runId}/logs?level=warn`)).body.items;
    expect(logs.map((l: any) => l.message)).toContain(
      'step retaken after its lease expired (attempt 2)',
    );

    // The run is counted once in the metrics, though its step ran twice.
    const metrics = await mh.api(key, 'GET', '/api/metrics/workflows/summary?range=1h');
    expect(metrics.body.totals).toMatchObject({ total: 1, succeeded: 1, failed: 0 });
  });
});
