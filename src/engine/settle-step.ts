import type pg from 'pg';
import type { Definition } from '../core/definition.ts';
import { backoffDelay } from '../core/retry.ts';
import { planRun, type StepState } from '../core/run-plan.ts';
import { withTransaction } from '../db/client.ts';
import {
  lockRun,
  takeJobAndReadSteps,
  writeStepSettlement,
  type NewRunEvent,
  type ScheduledStep,
  type StepSettlement,
} from '../db/queries/settle-step.ts';
import { rescheduleLeasedJob, type ClaimedJob } from '../db/queries/step-jobs.ts';
import type { NewRunLog } from '../db/queries/run-logs.ts';
import type { RetryPolicy, StepOutcome } from './nodes/types.ts';

/** The lease on a job expired and another worker took the step; this result is discarded. */
export class LeaseLostError extends Error {
  constructor(job: ClaimedJob) {
    super(`lease on step ${job.nodeId} of run ${job.runId} was lost`);
    this.name = 'LeaseLostError';
  }
}

/** What a settlement did, for the worker to act on and announce after commit. */
export interface Settled {
  /** Set when this settlement put a job in the queue for later (a retry or a delay), in ms. */
  nextDueInMs?: number;
  /** Set when the run ended with this step. */
  runFinished?: string;
  /** Successors handed straight to the settling worker, already claimed. */
  continued: ClaimedJob[];
  /** Successors left in the queue for any worker. */
  queued: number;
  lastLogId?: string;
}

/**
 * Lets the settling worker claim ready successors in the same transaction, so a run moves from
 * step to step without a trip through the queue, a notification and a claim.
 */
export interface Continuation {
  workerId: string;
  leaseMs: number;
  /** Most successors to take (the worker's free slots). */
  max: number;
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
  continuation?: Continuation;
  random?: () => number;
}): Promise<Settled> {
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
): Promise<Settled> {
  const { job, definition, outcome, policy } = options;
  const runStatus = (await lockRun(tx, job.runId)) ?? 'canceled';
  const runFinal = FINAL_RUN.has(runStatus);
  const base = {
    projectId: job.projectId,
    runId: job.runId,
    workflowId: job.workflowId,
    nodeId: job.nodeId,
    attempt: job.attempt,
    logs: [...options.logs],
    schedule: [] as ScheduledStep[],
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
    const written = await writeStepSettlement(tx, {
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
    return { nextDueInMs: delayMs, continued: [], queued: 0, ...lastLog(written.lastLogId) };
  }

  const taken = await takeJobAndReadSteps(tx, {
    runId: job.runId,
    jobId: job.id,
    leaseId: job.leaseId,
  });
  if (!taken.held) throw new LeaseLostError(job);

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

  const states = new Map<string, StepState>();
  for (const [nodeId, row] of taken.steps) {
    states.set(nodeId, { status: row.status as StepState['status'], output: row.output });
  }
  states.set(job.nodeId, { status: step.status as StepState['status'], output: step.output });

  if (!runFinal && !finish && outcome.kind !== 'canceled') {
    const plan = planRun(definition, states);
    const byId = new Map(definition.nodes.map((n) => [n.id, n]));
    let free = options.continuation?.max ?? 0;
    base.schedule = plan.ready.map((nodeId) => {
      const node = byId.get(nodeId);
      const delayMs = node?.type === 'delay' ? node.config.ms : 0;
      if (delayMs > 0 || free <= 0 || !options.continuation) return { nodeId, delayMs };
      free--;
      const { workerId, leaseMs } = options.continuation;
      return { nodeId, delayMs, lease: { leaseId: crypto.randomUUID(), workerId, leaseMs } };
    });
    base.skip = plan.skipped;
    for (const nodeId of plan.skipped) events.push({ type: 'step_skipped', nodeId, payload: {} });
    for (const { nodeId, delayMs } of base.schedule) {
      if (delayMs > 0)
        events.push({ type: 'step_waiting', nodeId, payload: { delay_ms: delayMs } });
    }
    if (plan.finished) finish = { status: 'succeeded' };
  }

  const written = await writeStepSettlement(tx, {
    ...base,
    step,
    events,
    ...(finish ? { finish } : {}),
  });

  const outputs: ClaimedJob['steps'] = {};
  for (const [nodeId, state] of states) {
    if (state.status === 'succeeded') outputs[nodeId] = { output: state.output };
  }
  const continued = base.schedule.flatMap((next): ClaimedJob[] =>
    next.lease
      ? [
          {
            ...job,
            id: written.jobIds.get(next.nodeId)!,
            nodeId: next.nodeId,
            attempt: 1,
            recovered: false,
            recoveries: 0,
            leaseId: next.lease.leaseId,
            runStatus: 'running',
            steps: outputs,
          },
        ]
      : [],
  );
  const delays = base.schedule.filter((n) => n.delayMs > 0).map((n) => n.delayMs);
  return {
    continued,
    queued: base.schedule.length - continued.length,
    ...(delays.length > 0 ? { nextDueInMs: Math.min(...delays) } : {}),
    ...(finish ? { runFinished: finish.status } : {}),
    ...lastLog(written.lastLogId),
  };
}

const lastLog = (id: string | undefined) => (id ? { lastLogId: id } : {});
