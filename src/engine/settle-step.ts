import type pg from 'pg';
import type { Definition } from '../core/definition.ts';
import { backoffDelay } from '../core/retry.ts';
import { planRun, type StepState } from '../core/run-plan.ts';
import { withTransaction } from '../db/client.ts';
import {
  lockRunState,
  writeStepSettlement,
  type NewRunEvent,
  type StepSettlement,
} from '../db/queries/settle-step.ts';
import { rescheduleLeasedJob, takeLeasedJob, type ClaimedJob } from '../db/queries/step-jobs.ts';
import type { NewRunLog } from '../db/queries/run-logs.ts';
import type { RetryPolicy, StepOutcome } from './nodes/types.ts';

/** The lease on a job expired and another worker took the step; this result is discarded. */
export class LeaseLostError extends Error {
  constructor(job: ClaimedJob) {
    super(`lease on step ${job.nodeId} of run ${job.runId} was lost`);
    this.name = 'LeaseLostError';
  }
}

const FINAL_RUN = new Set(['succeeded', 'failed', 'canceled']);
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']); // serialization failure, deadlock

/**
 * Commits a step's outcome in one transaction: the job leaves the queue (or is rescheduled for a
 * retry), the step row, its events and log lines are written, successors are enqueued, and the
 * run ends when nothing is left. Throws LeaseLostError when the job is no longer ours.
 */
export async function settleStep(options: {
  pool: pg.Pool;
  job: ClaimedJob;
  definition: Definition;
  outcome: StepOutcome;
  policy: RetryPolicy;
  logs: readonly NewRunLog[];
  random?: () => number;
}): Promise<{ retryInMs?: number; runFinished?: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(options.pool, (tx) => settleIn(tx, options));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt < 5 && code && RETRYABLE_SQLSTATES.has(code)) continue;
      throw error;
    }
  }
}

async function settleIn(
  tx: pg.PoolClient,
  options: Parameters<typeof settleStep>[0],
): Promise<{ retryInMs?: number; runFinished?: string }> {
  const { job, definition, outcome, policy } = options;
  const run = await lockRunState(tx, job.runId);
  const runFinal = FINAL_RUN.has(run.status);
  const base = {
    projectId: job.projectId,
    runId: job.runId,
    workflowId: job.workflowId,
    nodeId: job.nodeId,
    attempt: job.attempt,
    logs: [...options.logs],
    schedule: [] as StepSettlement['schedule'],
    skip: [] as string[],
  };

  const retry =
    outcome.kind === 'failed' && outcome.retryable && !runFinal && job.attempt < policy.maxAttempts;
  if (retry) {
    const delayMs = Math.max(
      outcome.retryAfterMs ?? 0,
      backoffDelay({ attempt: job.attempt, baseMs: policy.backoffMs, random: options.random }),
    );
    if (!(await rescheduleLeasedJob(tx, { id: job.id, leaseId: job.leaseId, delayMs }))) {
      throw new LeaseLostError(job);
    }
    const error = outcome.error;
    base.logs.push({
      nodeId: job.nodeId,
      ts: new Date(),
      level: 'warn',
      message: `attempt ${job.attempt} of ${policy.maxAttempts} failed: ${error.message}; retrying in ${delayMs} ms`,
      fields: { attempt: job.attempt, delay_ms: delayMs, error_type: error.type },
    });
    await writeStepSettlement(tx, {
      ...base,
      step: { status: 'queued', error },
      events: [
        {
          type: 'step_retry_scheduled',
          nodeId: job.nodeId,
          payload: { attempt: job.attempt, delay_ms: delayMs, error },
        },
      ],
    });
    return { retryInMs: delayMs };
  }

  if (!(await takeLeasedJob(tx, { id: job.id, leaseId: job.leaseId }))) {
    throw new LeaseLostError(job);
  }

  const events: NewRunEvent[] = [];
  let step: StepSettlement['step'];
  let finish: StepSettlement['finish'];
  if (outcome.kind === 'canceled') {
    step = { status: 'canceled' };
    events.push({ type: 'step_canceled', nodeId: job.nodeId, payload: { reason: outcome.reason } });
  } else if (outcome.kind === 'failed') {
    const error = { node_id: job.nodeId, type: outcome.error.type, message: outcome.error.message };
    step = { status: 'failed', error: outcome.error };
    events.push({
      type: 'step_failed',
      nodeId: job.nodeId,
      payload: { attempt: job.attempt, error: outcome.error },
    });
    base.logs.push({
      nodeId: job.nodeId,
      ts: new Date(),
      level: 'error',
      message: `step failed after ${job.attempt} attempt${job.attempt === 1 ? '' : 's'}: ${outcome.error.message}`,
      fields: { attempt: job.attempt, error_type: outcome.error.type },
    });
    if (!runFinal) finish = { status: 'failed', error };
  } else {
    step = { status: 'succeeded', output: outcome.output };
    events.push({ type: 'step_succeeded', nodeId: job.nodeId, payload: { attempt: job.attempt } });
    if (outcome.kind === 'terminated' && !runFinal) {
      finish =
        outcome.status === 'failed'
          ? {
              status: 'failed',
              error: {
                node_id: job.nodeId,
                type: 'terminated',
                message: outcome.message ?? 'terminated as failed',
              },
            }
          : { status: 'succeeded' };
    }
  }

  if (!runFinal && !finish && outcome.kind !== 'canceled') {
    const states = new Map<string, StepState>();
    for (const [nodeId, row] of run.steps) {
      states.set(nodeId, { status: row.status as StepState['status'], output: row.output });
    }
    states.set(job.nodeId, { status: 'succeeded', output: step.output });
    const plan = planRun(definition, states);
    const byId = new Map(definition.nodes.map((n) => [n.id, n]));
    base.schedule = plan.ready.map((nodeId) => {
      const node = byId.get(nodeId);
      return { nodeId, delayMs: node?.type === 'delay' ? node.config.ms : 0 };
    });
    base.skip = plan.skipped;
    for (const nodeId of plan.skipped) events.push({ type: 'step_skipped', nodeId, payload: {} });
    for (const { nodeId, delayMs } of base.schedule) {
      if (delayMs > 0)
        events.push({ type: 'step_waiting', nodeId, payload: { delay_ms: delayMs } });
    }
    if (plan.finished) finish = { status: 'succeeded' };
  }

  await writeStepSettlement(tx, { ...base, step, events, ...(finish ? { finish } : {}) });
  return finish ? { runFinished: finish.status } : {};
}
