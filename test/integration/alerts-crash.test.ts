import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createChannelSenders } from '../../src/engine/alerts/channels/index.ts';
import { AlertDispatcher } from '../../src/engine/alerts/dispatcher.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { alertLog, createChannel } from '../helpers/alert-fixtures.ts';
import { useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

// The deliveries are first sent by a separate web process that the test kills for real; this
// process's own alerter is stopped, so the only dispatcher left is the one the test runs.
const mh = useMeshHook({
  roles: { web: true, worker: false },
  env: { MESHHOOK_ALERT_POLL_INTERVAL_MS: '200' },
});

const LEASE_MS = 1500;

function startWeb(): ChildProcess {
  return spawn(process.execPath, ['bin/meshhook.js', 'web'], {
    env: {
      ...process.env,
      DATABASE_URL: mh.db.url,
      PORT: '0',
      MESHHOOK_ALERT_LEASE_MS: String(LEASE_MS),
      MESHHOOK_ALERT_POLL_INTERVAL_MS: '200',
      MESHHOOK_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('alert delivery across a crash', () => {
  it('a dispatcher killed mid-send: the alert is still delivered, once', async () => {
    await mh.running.alerter.stop();
    const receiver = await startReceiver();
    const arrivals: number[] = [];
    const answered: number[] = [];
    let held: ServerResponse | undefined;
    receiver.on('/crash', (_req, res, index) => {
      arrivals.push(Date.now());
      // The first request is never answered: its sender dies waiting for the answer.
      if (index === 0) {
        held = res;
        return;
      }
      res.on('finish', () => answered.push(res.statusCode));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const senders = createChannelSenders({});
    let child: ChildProcess | undefined;
    try {
      const project = await mh.project('alerts crash');
      const channel = await createChannel(mh.db.pool, project.id, {
        type: 'webhook',
        config: { url: `${receiver.url}/crash` },
      });
      const id = crypto.randomUUID();
      await mh.db.pool.query(
        `insert into meshhook.alert_logs (id, project_id, channel_id, event, status, alert, due_at)
         values ($1, $2, $3, 'test', 'pending', $4, now())`,
        [id, project.id, channel, JSON.stringify(testAlert(project.id))],
      );

      const web = startWeb();
      child = web;
      await waitFor(() => receiver.to('/crash').length === 1, {
        timeoutMs: 20_000,
        what: 'the web process to send the alert',
      });
      web.kill('SIGKILL');
      await once(web, 'exit');
      expect(held?.writableEnded).toBe(false);

      // The dead process holds the delivery until its lease ends, with nothing recorded.
      const { rows: dead } = await mh.db.pool.query<{
        status: string;
        attempts: number;
        locked_by: string;
        due_at: Date;
      }>(`select status, attempts, locked_by, due_at from meshhook.alert_logs where id = $1`, [id]);
      expect(dead[0]).toMatchObject({
        status: 'sending',
        attempts: 1,
        locked_by: `${hostname()}:${web.pid}:web`,
      });
      const leaseEnd = dead[0]!.due_at.getTime();

      const dispatcher = new AlertDispatcher({
        id: 'survivor',
        pool: mh.db.pool,
        senders,
        log: silentLog,
      });
      const signal = new AbortController().signal;
      await waitFor(
        async () => {
          await dispatcher.run(signal);
          return (await alertLog(mh.db.pool, project.id))[0]?.status === 'sent' || undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the take-over' },
      );

      const requests = receiver.requests;
      expect(requests.map((r) => r.url)).toEqual(['/crash', '/crash']);
      expect(requests.map((r) => r.headers['meshhook-delivery'])).toEqual([id, id]);
      expect(requests.map((r) => r.headers['meshhook-attempt'])).toEqual(['1', '2']);
      expect(answered).toEqual([200]);
      expect(held?.writableEnded).toBe(false);
      // The take-over waited for the lease to end.
      expect(arrivals[1]!).toBeGreaterThanOrEqual(leaseEnd);

      const log = await alertLog(mh.db.pool, project.id);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ id, status: 'sent', attempts: 2 });
      const { rows: attempts } = await mh.db.pool.query(
        `select attempt, outcome, status_code from meshhook.alert_attempts where log_id = $1`,
        [id],
      );
      expect(attempts).toEqual([{ attempt: 2, outcome: 'sent', status_code: 200 }]);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      senders.close();
      await receiver.close();
    }
  });
});

function testAlert(projectId: string) {
  return {
    type: 'test',
    project_id: projectId,
    workflow: null,
    run: null,
    node_id: null,
    error: null,
    attempts: null,
    covers: 1,
    rule: null,
    at: new Date().toISOString(),
  };
}
