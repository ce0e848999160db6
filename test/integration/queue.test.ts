import { beforeAll, describe, expect, it } from 'vitest';
import { validateDefinition, type Definition } from '../../src/core/definition.ts';
import { claimStepJobs } from '../../src/db/queries/step-jobs.ts';
import { retryPolicy } from '../../src/engine/nodes/execute.ts';
import { LeaseLostError, settleStep } from '../../src/engine/settle-step.ts';
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
