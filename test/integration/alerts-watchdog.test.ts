import { describe, expect, it } from 'vitest';
import { alertLog, createChannel, createRule } from '../helpers/alert-fixtures.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

// Web only: no worker serves the queue, as after the last worker died.
const mh = useMeshHook({
  roles: { web: true, worker: false },
  env: {
    MESHHOOK_ALERT_POLL_INTERVAL_MS: '200',
    MESHHOOK_ALERT_WATCH_INTERVAL_MS: '200',
    MESHHOOK_WORKER_MISSING_AFTER_MS: '1000',
  },
});

describe('the alerts watchdog', () => {
  it('raises "no live worker" once while runs wait and the worker died, and forgets it once one is back', async () => {
    const receiver = await startReceiver();
    try {
      const { id: projectId, key } = await mh.project('watchdog');
      const { hook } = await mh.publish(
        key,
        'waiting',
        chain({ id: 'say', type: 'log', config: { level: 'info', message: 'hi' } }),
      );
      const channel = await createChannel(mh.db.pool, projectId, {
        type: 'webhook',
        config: { url: `${receiver.url}/ops` },
      });
      await createRule(mh.db.pool, projectId, {
        events: ['worker_missing'],
        channels: [channel],
        throttle: { group_wait: '0s', group_interval: '0s', repeat_interval: '1m' },
      });
      // The worker that served this installation announced itself a minute ago, then died.
      await mh.db.pool.query(
        `insert into meshhook.workers (id, hostname, pid, concurrency, last_seen_at)
         values ('dead-worker', 'gone', 1, 16, now() - interval '1 minute')`,
      );
      for (let i = 0; i < 3; i++) expect((await mh.trigger(hook, { i })).status).toBe(202);

      await waitFor(() => receiver.to('/ops').length >= 1 || undefined, {
        timeoutMs: 10_000,
        what: 'the worker_missing alert',
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const [alert, ...more] = receiver.to('/ops').map((r) => JSON.parse(r.body));
      expect(more).toEqual([]);
      expect(alert).toMatchObject({
        type: 'worker_missing',
        project_id: projectId,
        workflow: null,
        error: { type: 'worker_missing' },
      });
      // The jobs were queued a few ms apart: the first past the limit raises it.
      expect(alert.error.message).toMatch(/^no live worker while [123] step jobs wait/);
      expect((await alertLog(mh.db.pool, projectId)).map((l) => l.status)).toEqual(['sent']);

      // A worker comes back: the condition ends, and is forgotten.
      await mh.db.pool.query(
        `update meshhook.workers set last_seen_at = now() where id = 'dead-worker'`,
      );
      await waitFor(
        async () => {
          const { rows } = await mh.db.pool.query(
            `select count(*)::int as n from meshhook.alert_watch where project_id = $1`,
            [projectId],
          );
          return rows[0].n === 0 || undefined;
        },
        { timeoutMs: 5_000, what: 'the condition to clear' },
      );
    } finally {
      await receiver.close();
    }
  });
});
