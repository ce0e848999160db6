import type pg from 'pg';
import type { Definition } from '../core/definition.ts';
import { describeError, type CapturedError } from '../core/error-events.ts';
import { backoffDelay } from '../core/retry.ts';
import { planRun, type StepState } from '../core/run-plan.ts';
import { withTransaction } from '../db/client.ts';
import {
  lockRuns,
  takeJobsAndReadSteps,
  writeSettlements,
  type NewRunEvent,
  type ScheduledStep,
  type StepRow,
  type StepSettlement,
} from '../db/queries/settle-step.ts';
import type { ClaimedJob } from '../db/queries/step-jobs.ts';
import type { NewRunLog } from '../db/queries/run-logs.ts';
import type { RetryPolicy, StepError, StepOutcome } from './nodes/types.ts';
import type { LineRedactor } from './run-logger.ts';

/** The lease on a job expired and another worker took the step; this result is discarded. */
export class LeaseLostError extends Error {
  constructor(job: ClaimedJob) {
    super(`lease on step ${job.nodeId} of run ${job.runId} was lost`);
    this.name = 'LeaseLostError';
  }
}

/** A step's outcome, ready to be committed. */
export interface StepResult {
  job: ClaimedJob;
  definition: Definition;
  /** What the step was given (its rendered, redacted config), when it ran. */
  input?: unknown;
  outcome: StepOutcome;
  policy: RetryPolicy;
  logs: readonly NewRunLog[];
  /** Masks the version's secrets in the error events this step's failure yields. */
  redactor?: LineRedactor;
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
  /** The error events committed with this settlement (a failed attempt, a failed run). */
  errors: CapturedError[];
}

/**
 * Lets the settling worker claim ready successors in the same transaction, so a run moves from
 * step to step without a trip through the queue, a notification and a claim.
 */
export interface Continuation {
  workerId: string;
  leaseMs: number;
  /** Most successors to take over the whole batch (the worker's free slots). */
  max: number;
}

const FINAL_RUN = new Set(['succeeded', 'failed', 'canceled']);
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']); // serialization failure, deadlock

/**
 * Commits the outcomes of steps of distinct runs in one transaction: each job leaves the queue
 * (or is rescheduled for a retry), step rows, events and log lines are written, successors are
 * enqueued and runs end when nothing is left. A result whose lease was lost is answered with a
 * LeaseLostError and leaves no trace; the others commit regardless.
 */
export async function settleSteps(options: {
  pool: pg.Pool;
  results: StepResult[];
  continuation?: Continuation;
  random?: () => number;
  /** Record failed attempts as error events in the same transaction (on by default). */
  captureErrors?: boolean;
}): Promise<Array<Settled | LeaseLostError>> {
  const runs = new Set(options.results.map((r) => r.job.runId));
  if (runs.size !== options.results.length) throw new Error('a batch holds one step per run');
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

/** Settles one step; throws LeaseLostError when its lease was lost. */
export async function settleStep(
  options: Omit<Parameters<typeof settleSteps>[0], 'results'> & StepResult,
): Promise<Settled> {
  const [settled] = await settleSteps({ ...options, results: [options] });
  if (settled instanceof LeaseLostError || !settled) throw settled;
  return settled;
}

interface Decision {
  result: StepResult;
  runFinal: boolean;
  retryInMs?: number;
}

async function settleIn(
  tx: pg.PoolClient,
  options: Parameters<typeof settleSteps>[0],
): Promise<Array<Settled | LeaseLostError>> {
  const runIds = options.results.map((r) => r.job.runId);
  const statuses = await lockRuns(tx, runIds);

  const decisions: Decision[] = options.results.map((result) => {
    const { job, outcome, policy } = result;
    const runFinal = FINAL_RUN.has(statuses.get(job.runId) ?? 'canceled');
    const retry =
      outcome.kind === 'failed' &&
      outcome.retryable &&
      !runFinal &&
      job.attempt < policy.maxAttempts;
    if (!retry) return { result, runFinal };
    const retryInMs = Math.max(
      outcome.retryAfterMs ?? 0,
      backoffDelay({ attempt: job.attempt, baseMs: policy.backoffMs, random: options.random }),
    );
    return { result, runFinal, retryInMs };
  });

  const taken = await takeJobsAndReadSteps(tx, {
    jobs: decisions.map((d) => ({
      id: d.result.job.id,
      leaseId: d.result.job.leaseId,
      ...(d.retryInMs === undefined ? {} : { retryInMs: d.retryInMs }),
    })),
    runIds,
  });

  let free = options.continuation?.max ?? 0;
  const lease = () => {
    if (!options.continuation || free <= 0) return undefined;
    free--;
    const { workerId, leaseMs } = options.continuation;
    return { leaseId: crypto.randomUUID(), workerId, leaseMs };
  };

  type Planned = { settlement: StepSettlement; states: Map<string, StepState> };
  const planned: Array<Planned | LeaseLostError> = decisions.map((d) =>
    taken.held.has(d.result.job.id)
      ? plan(d, taken.steps.get(d.result.job.runId) ?? new Map(), lease, options.captureErrors)
      : new LeaseLostError(d.result.job),
  );
  const written = await writeSettlements(
    tx,
    planned.flatMap((p) => (p instanceof LeaseLostError ? [] : [p.settlement])),
  );

  return planned.map((p, i) => {
    if (p instanceof LeaseLostError) return p;
    const { settlement: answer, states } = p;
    const { job } = decisions[i]!.result;
    const outputs: ClaimedJob['steps'] = {};
    for (const [nodeId, state] of states) {
      if (state.status === 'succeeded') outputs[nodeId] = { output: state.output };
    }
    const continued = answer.schedule.flatMap((next): ClaimedJob[] =>
      next.lease
        ? [
            {
              ...job,
              id: written.jobIds.get(`${job.runId}/${next.nodeId}`)!,
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
    const retryInMs = decisions[i]!.retryInMs;
    const delays = [
      ...answer.schedule.filter((n) => n.delayMs > 0).map((n) => n.delayMs),
      ...(retryInMs === undefined ? [] : [retryInMs]),
    ];
    const lastLogId = written.lastLogIds.get(job.runId);
    return {
      continued,
      errors: answer.errors ?? [],
      queued: answer.schedule.length - continued.length,
      ...(delays.length > 0 ? { nextDueInMs: Math.min(...delays) } : {}),
      ...(answer.finish ? { runFinished: answer.finish.status } : {}),
      ...(lastLogId ? { lastLogId } : {}),
    };
  });
}

/** Decides what one settled step writes: its row, events, successors and the run's end. */
function plan(
  decision: Decision,
  rows: Map<string, StepRow>,
  lease: () => ScheduledStep['lease'],
  captureErrors = true,
): { settlement: StepSettlement; states: Map<string, StepState> } {
  const { result, runFinal, retryInMs } = decision;
  const { job, definition, outcome, policy } = result;
  const logs = [...result.logs];
  const events: NewRunEvent[] = [];
  const base = {
    projectId: job.projectId,
    runId: job.runId,
    workflowId: job.workflowId,
    nodeId: job.nodeId,
    attempt: job.attempt,
  };
  const errors: CapturedError[] = [];
  const capture = (error: StepError, runEnding: boolean, metadata: Record<string, unknown>) => {
    if (!captureErrors) return;
    errors.push(
      describeError(
        error.message,
        {
          source: 'worker',
          errorType: error.type,
          projectId: job.projectId,
          workflowId: job.workflowId,
          runId: job.runId,
          nodeId: job.nodeId,
          attempt: job.attempt,
          runEnding,
          metadata: { max_attempts: policy.maxAttempts, ...metadata, ...error.details },
        },
        result.redactor ? { redactor: result.redactor } : {},
      ),
    );
  };
  const states = new Map<string, StepState>();
  for (const [nodeId, row] of rows) {
    states.set(nodeId, { status: row.status as StepState['status'], output: row.output });
  }

  if (retryInMs !== undefined && outcome.kind === 'failed') {
    logs.push({
      nodeId: job.nodeId,
      ts: new Date(),
      level: 'warn',
      message: `attempt ${job.attempt} of ${policy.maxAttempts} failed: ${outcome.error.message}; retrying in ${retryInMs} ms`,
      fields: { attempt: job.attempt, delay_ms: retryInMs, error_type: outcome.error.type },
    });
    events.push({
      type: 'step_retry_scheduled',
      nodeId: job.nodeId,
      payload: { attempt: job.attempt, delay_ms: retryInMs, error: outcome.error },
    });
    capture(outcome.error, false, { retry_in_ms: retryInMs });
    return {
      settlement: {
        ...base,
        step: { status: 'queued', error: outcome.error, input: result.input },
        events,
        logs,
        errors,
        schedule: [],
        skip: [],
      },
      states,
    };
  }

  let step: StepSettlement['step'];
  let finish: StepSettlement['finish'];
  if (outcome.kind === 'canceled') {
    step = { status: 'canceled' };
    events.push({ type: 'step_canceled', nodeId: job.nodeId, payload: { reason: outcome.reason } });
  } else if (outcome.kind === 'failed') {
    step = { status: 'failed', error: outcome.error };
    events.push({
      type: 'step_failed',
      nodeId: job.nodeId,
      payload: { attempt: job.attempt, error: outcome.error },
    });
    const attempts = `${job.attempt} attempt${job.attempt === 1 ? '' : 's'}`;
    logs.push({
      nodeId: job.nodeId,
      ts: new Date(),
      level: 'error',
      message: `step failed after ${attempts}: ${outcome.error.message}`,
      fields: { attempt: job.attempt, error_type: outcome.error.type },
    });
    if (!runFinal) {
      const { type, message } = outcome.error;
      finish = { status: 'failed', error: { node_id: job.nodeId, type, message } };
    }
    capture(outcome.error, !runFinal, {});
  } else {
    step = { status: 'succeeded', output: outcome.output };
    events.push({ type: 'step_succeeded', nodeId: job.nodeId, payload: { attempt: job.attempt } });
    if (outcome.kind === 'terminated' && !runFinal) {
      const message = outcome.message ?? 'terminated as failed';
      finish =
        outcome.status === 'failed'
          ? { status: 'failed', error: { node_id: job.nodeId, type: 'terminated', message } }
          : { status: 'succeeded' };
      if (outcome.status === 'failed') capture({ type: 'terminated', message }, true, {});
    }
  }
  states.set(job.nodeId, { status: step.status as StepState['status'], output: step.output });

  let schedule: ScheduledStep[] = [];
  let skip: string[] = [];
  if (!runFinal && !finish && outcome.kind !== 'canceled') {
    const next = planRun(definition, states);
    const byId = new Map(definition.nodes.map((n) => [n.id, n]));
    schedule = next.ready.map((nodeId) => {
      const node = byId.get(nodeId);
      const delayMs = node?.type === 'delay' ? node.config.ms : 0;
      const claimed = delayMs > 0 ? undefined : lease();
      return claimed ? { nodeId, delayMs, lease: claimed } : { nodeId, delayMs };
    });
    skip = next.skipped;
    for (const nodeId of skip) events.push({ type: 'step_skipped', nodeId, payload: {} });
    for (const { nodeId, delayMs } of schedule) {
      if (delayMs > 0)
        events.push({ type: 'step_waiting', nodeId, payload: { delay_ms: delayMs } });
    }
    if (next.finished) finish = { status: 'succeeded' };
  }

  if (result.input !== undefined) step.input = result.input;
  return {
    settlement: {
      ...base,
      step,
      events,
      logs,
      errors,
      schedule,
      skip,
      ...(finish ? { finish } : {}),
    },
    states,
  };
}
