import { beforeAll, describe, expect, it } from 'vitest';
import { validateDefinition, type Definition } from '../../src/core/definition.ts';
import { claimStepJobs } from '../../src/db/queries/step-jobs.ts';
import { retryPolicy } from '../../src/engine/nodes/execute.ts';
import { createListener } from '../../src/engine/listener.ts';
import { Notifier } from '../../src/engine/notifier.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { LeaseLostError, settleStep } from '../../src/engine/settle-step.ts';
import { Worker } from '../../src/engine/worker.ts';
import { waitFor } from '../helpers/wait.ts';
import { useMeshHook } from '../helpers/meshhook.ts';

// No workers: the test drives the queue itself.
const mh = useMeshHook({ roles: { web: true, worker: false } });

const raw = {
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    { id: 'say', type: 'log', config: { level: 'info', message: 'hi' } },
  ],
  edges: [{ from: 'hook', to: 'say' }],
};
let definition: Definition;
let key: string;
let hook: string;

beforeAll(async () => {
  const valid = validateDefinition(raw);
  if (!valid.ok) throw new Error('fixture does not validate');
  definition = valid.value;
  ({ key } = await mh.project('queue'));
  ({ hook } = await mh.publish(key, 'queue', raw));
});

describe('the step queue', () => {
  it('never hands one job to two concurrent claimers', async () => {
    const accepted = await Promise.all(Array.from({ length: 40 }, () => mh.trigger(hook, {})));
    expect(accepted.every((r) => r.status === 202)).toBe(true);
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        claimStepJobs(mh.db.pool, { workerId: `w${i}`, limit: 10, leaseMs: 60_000 }),
      ),
    );
    const ids = claims.flat().map((j) => j.id);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    // Each claim recorded the start of its step in the same statement.
    const { rows } = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.run_events where type = 'step_started'`,
    );
    expect(rows[0].n).toBe(40);
    await mh.db.pool.query(`delete from meshhook.step_jobs`);
  });

  it('discards the result of a worker whose lease expired and was retaken', async () => {
    const runId = (await mh.trigger(hook, {})).body.run_id;
    const [stale] = await claimStepJobs(mh.db.pool, {
      workerId: 'stalled',
      limit: 1,
      leaseMs: 60_000,
    });
    expect(stale?.runId).toBe(runId);
    // The stalled worker's lease runs out; another worker takes the step over.
    await mh.db.pool.query(`update meshhook.step_jobs set run_at = now() - interval '1 second'`);
    const [fresh] = await claimStepJobs(mh.db.pool, {
      workerId: 'fresh',
      limit: 1,
      leaseMs: 60_000,
    });
    expect(fresh).toMatchObject({ id: stale!.id, attempt: 2, recovered: true });

    const node = definition.nodes[0]!;
    const settle = (job: typeof stale) =>
      settleStep({
        pool: mh.db.pool,
        job: job!,
        definition,
        outcome: { kind: 'succeeded', output: job!.trigger },
        policy: retryPolicy(node),
        logs: [],
      });
    await expect(settle(stale)).rejects.toBeInstanceOf(LeaseLostError);
    await settle(fresh);
    await expect(settle(fresh)).rejects.toBeInstanceOf(LeaseLostError);

    const { rows } = await mh.db.pool.query(
      `select type from meshhook.run_events where run_id = $1 and node_id = 'hook' order by id`,
      [runId],
    );
    expect(rows.map((r) => r.type)).toEqual(['step_started', 'step_started', 'step_succeeded']);
    const steps = await mh.db.pool.query(
      `select node_id, status from meshhook.run_steps where run_id = $1 order by node_id`,
      [runId],
    );
    expect(steps.rows).toEqual([
      { node_id: 'hook', status: 'succeeded' },
      { node_id: 'say', status: 'queued' },
    ]);
  });
});

describe('a published version that no longer validates', () => {
  it('fails its run once with an internal error instead of retaking the step forever', async () => {
    const { hook, id } = await mh.publish(key, 'rotten', raw);
    const runId = (await mh.trigger(hook, {})).body.run_id;
    // As a future release with stricter rules would see it: the stored version is invalid.
    await mh.db.pool.query(
      `alter table meshhook.workflow_versions disable trigger workflow_versions_immutable`,
    );
    await mh.db.pool.query(
      `update meshhook.workflow_versions set definition = '{"nodes":[],"edges":[]}' where workflow_id = $1`,
      [id],
    );
    await mh.db.pool.query(
      `alter table meshhook.workflow_versions enable trigger workflow_versions_immutable`,
    );

    const listener = await createListener({ connectionString: mh.db.url });
    const worker = new Worker({
      pool: mh.db.pool,
      listener,
      notifier: new Notifier(mh.db.pool),
      log: silentLog,
      pollIntervalMs: 100,
    });
    worker.start();
    try {
      const run = await waitFor(async () => {
        const r = await mh.api(key, 'GET', `/api/runs/${runId}`);
        return r.body.status === 'failed' ? r.body : undefined;
      });
      expect(run.error).toMatchObject({ node_id: 'hook', type: 'internal' });
      expect(run.error.message).toContain('cannot run');
    } finally {
      await worker.stop({ graceMs: 1000 });
      await listener.close();
    }
  });
});

describe('housekeeping', () => {
  it('sweeps expired sessions, throttle windows and idempotency keys, one process at a time', async () => {
    const { sweepExpired } = await import('../../src/db/queries/housekeeping.ts');
    const { id: userId } = (
      await mh.db.pool.query(
        `insert into meshhook.users (email, password_hash) values ('sweep@example.com', 'x') returning id`,
      )
    ).rows[0];
    await mh.db.pool.query(
      `insert into meshhook.sessions (token_hash, user_id, csrf_token, expires_at) values
         ('\\x01', $1, 'c', now() - interval '1 minute'), ('\\x02', $1, 'c', now() + interval '1 day')`,
      [userId],
    );
    await mh.db.pool.query(
      `insert into meshhook.login_throttle (key, window_start, failures) values
         ('old', now() - interval '2 days', 3), ('new', now(), 1)`,
    );
    const hook = await mh.publish(key, 'idem-sweep', raw);
    await mh.trigger(hook.hook, {}, { 'idempotency-key': 'old-key' });
    await mh.db.pool.query(
      `update meshhook.webhook_idempotency set created_at = now() - interval '25 hours' where key = 'old-key'`,
    );

    const holder = await mh.db.pool.connect();
    const other = await mh.db.pool.connect();
    try {
      await holder.query(`select pg_advisory_lock(7400511271)`);
      const options = { logRetentionDays: 30 };
      expect(await sweepExpired(other, options)).toBeUndefined();
      await holder.query(`select pg_advisory_unlock(7400511271)`);
      expect(await sweepExpired(other, options)).toMatchObject({
        sessions: 1,
        throttles: 1,
        idempotencyKeys: 1,
      });
    } finally {
      holder.release();
      other.release();
    }
    const left = await mh.db.pool.query(
      `select (select count(*) from meshhook.sessions)::int as sessions,
              (select count(*) from meshhook.login_throttle)::int as throttles`,
    );
    expect(left.rows[0]).toEqual({ sessions: 1, throttles: 1 });
  });
});
