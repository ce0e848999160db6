import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { ALERTS_CHANNEL } from '../db/queries/alert-delivery.ts';
import { sweepExpired } from '../db/queries/housekeeping.ts';
import { announceWorker, retireWorker } from '../db/queries/workers.ts';
import { JOBS_CHANNEL } from '../db/queries/intake.ts';
import {
  claimStepJobs,
  nextDueAt,
  releaseJob,
  renewLeases,
  type ClaimedJob,
} from '../db/queries/step-jobs.ts';
import { DefinitionCache, UnrunnableVersionError } from './definitions.ts';
import { ErrorCapture } from './error-capture.ts';
import type { Listener } from './listener.ts';
import type { Notifier } from './notifier.ts';
import { executeNode, retryPolicy, stepInput } from './nodes/execute.ts';
import type { StepOutcome } from './nodes/types.ts';
import type { ProcessLog } from './process-log.ts';
import { RunLogger } from './run-logger.ts';
import { LeaseLostError, type StepResult } from './settle-step.ts';
import { Settler } from './settler.ts';

/** Tuning of a worker; every duration in milliseconds. */
export interface WorkerOptions {
  pool: pg.Pool;
  listener: Listener;
  notifier: Notifier;
  log: ProcessLog;
  /** The process's error capture; a worker without one captures into its own. */
  errors?: ErrorCapture;
  /** Record failed steps as error events (on by default; off only to measure its cost). */
  captureErrors?: boolean;
  /** Steps executed at once by this process. */
  concurrency?: number;
  /** How long a claim holds a job before another worker may take it. */
  leaseMs?: number;
  /** Safety-net poll; workers are woken by NOTIFY and by the next due time. */
  pollIntervalMs?: number;
  /** Longest a single step execution may take. */
  stepTimeoutMs?: number;
  /** After this many expired leases on one step, it fails instead of being retaken. */
  maxRecoveries?: number;
  /** How often expired sessions, throttle windows, idempotency keys and old logs are swept. */
  housekeepingIntervalMs?: number;
  /** Days run logs are kept (whole daily partitions are dropped past it). */
  logRetentionDays?: number;
  /** Days error events are kept (whole daily partitions are dropped past it). */
  errorRetentionDays?: number;
  /** Days the alert log is kept (whole daily partitions are dropped past it). */
  alertLogRetentionDays?: number;
  /** Days minute and hour run-metric buckets are kept (day buckets are kept for good). */
  metricsRetention?: { minuteDays: number; hourDays: number };
  workerId?: string;
}

const FINAL_RUN = new Set(['succeeded', 'failed', 'canceled']);
/** How often a worker tells the database it is alive (see the alerts' watchdog). */
export const PRESENCE_INTERVAL_MS = 5_000;

interface InFlight {
  job: ClaimedJob;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Claims step jobs and executes them. Wakes on NOTIFY, on the next due job's time and on a slow
 * poll; holds each job under a lease that a heartbeat renews, so a worker that dies loses only
 * the lease and another worker takes the step over.
 */
export class Worker {
  readonly id: string;
  readonly #o: Required<Omit<WorkerOptions, 'workerId' | 'errors'>>;
  readonly #errors: ErrorCapture;
  readonly #definitions: DefinitionCache;
  readonly #settler: Settler;
  readonly #inFlight = new Map<string, InFlight>();
  #running = false;
  #ticking = false;
  #again = false;
  #wakeQueued = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #dueCheckedAt = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #presence: NodeJS.Timeout | undefined;
  #unlisten: Array<() => void> = [];

  constructor(options: WorkerOptions) {
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#o = {
      concurrency: 16,
      leaseMs: 30_000,
      pollIntervalMs: 5_000,
      stepTimeoutMs: 300_000,
      maxRecoveries: 3,
      housekeepingIntervalMs: 3_600_000,
      logRetentionDays: 30,
      errorRetentionDays: 30,
      alertLogRetentionDays: 30,
      metricsRetention: { minuteDays: 2, hourDays: 90 },
      captureErrors: true,
      ...options,
    };
    this.#errors =
      options.errors ??
      new ErrorCapture({
        pool: options.pool,
        notifier: options.notifier,
        log: options.log,
        enabled: this.#o.captureErrors,
      });
    this.#definitions = new DefinitionCache(options.pool);
    this.#settler = new Settler({
      pool: options.pool,
      captureErrors: this.#o.captureErrors && this.#errors.enabled,
      // Ready successors go straight to this worker while it has room: the steps being settled
      // free their slots as they commit.
      continuation: (batchSize) =>
        this.#running
          ? {
              workerId: this.id,
              leaseMs: this.#o.leaseMs,
              max: this.#o.concurrency - this.#inFlight.size + batchSize,
            }
          : undefined,
    });
  }

  /** Starts claiming. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unlisten = [
      this.#o.listener.on(JOBS_CHANNEL, () => this.#wake()),
      this.#o.listener.onConnect(() => this.#wake()),
    ];
    this.#heartbeat = setInterval(() => void this.#renew(), Math.max(50, this.#o.leaseMs / 3));
    this.#housekeeping = setInterval(() => void this.#sweep(), this.#o.housekeepingIntervalMs);
    this.#housekeeping.unref();
    // The watchdog reads these announcements to tell a queue nobody serves.
    this.#presence = setInterval(() => void this.#announce(), PRESENCE_INTERVAL_MS);
    this.#presence.unref();
    void this.#announce();
    void this.#sweep();
    this.#wake();
  }

  /**
   * Stops claiming and waits up to graceMs for steps in flight; those still running then are
   * aborted and their jobs handed back so another worker takes them at once.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const off of this.#unlisten) off();
    clearTimeout(this.#timer);
    clearInterval(this.#housekeeping);
    clearInterval(this.#presence);
    this.#timer = undefined;
    const pending = [...this.#inFlight.values()];
    const grace = new Promise((r) => setTimeout(r, options.graceMs ?? 10_000).unref());
    await Promise.race([Promise.all(pending.map((f) => f.done)), grace]);
    for (const flight of this.#inFlight.values()) {
      flight.controller.abort(new Error('worker shutting down'));
      await releaseJob(this.#o.pool, { id: flight.job.id, leaseId: flight.job.leaseId }).catch(
        () => {},
      );
    }
    clearInterval(this.#heartbeat);
    await Promise.all([...this.#inFlight.values()].map((f) => f.done));
    await retireWorker(this.#o.pool, this.id).catch(() => {});
  }

  /** Number of steps executing now. */
  get busy(): number {
    return this.#inFlight.size;
  }

  // Wake-ups in one turn of the event loop (a burst of notifications, several steps settling)
  // fold into one claim for all free slots.
  #wake(): void {
    if (!this.#running) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    setImmediate(() => {
      this.#wakeQueued = false;
      if (this.#running && !this.#ticking) void this.#tick();
      else this.#again = true;
    });
  }

  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      do {
        this.#again = false;
        while (this.#running) {
          const free = this.#o.concurrency - this.#inFlight.size;
          if (free <= 0) break;
          const jobs = await claimStepJobs(this.#o.pool, {
            workerId: this.id,
            limit: free,
            leaseMs: this.#o.leaseMs,
          });
          for (const job of jobs) this.#execute(job);
          if (jobs.length < free) break;
        }
        await this.#scheduleNext();
        // A wake-up that arrived while claiming or scheduling must not be lost.
      } while (this.#again && this.#running);
    } catch (error) {
      this.#o.log.error('claiming step jobs failed', { error: String(error) });
      this.#errors.capture(error, { source: 'system', metadata: { during: 'claiming step jobs' } });
      this.#wakeAt(Date.now() + 1_000);
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Arms the timer for the next job that falls due in the future (a retry, a delay, another
   * worker's lease), or the safety-net poll. The due time is asked for at most every 100 ms:
   * under load the queue is read far more often than that anyway.
   */
  async #scheduleNext(): Promise<void> {
    if (!this.#running) return;
    const now = Date.now();
    this.#wakeAt(now + this.#o.pollIntervalMs);
    if (this.#inFlight.size >= this.#o.concurrency) return;
    if (now - this.#dueCheckedAt < 100) {
      this.#wakeAt(this.#dueCheckedAt + 100);
      return;
    }
    this.#dueCheckedAt = now;
    const due = await nextDueAt(this.#o.pool);
    if (due) this.#wakeAt(due.getTime() + 5);
  }

  /** Makes sure a wake-up happens no later than at. */
  #wakeAt(at: number): void {
    if (this.#timer && this.#timerAt <= at && this.#timerAt > Date.now()) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#wake();
      },
      Math.max(0, at - Date.now()),
    );
  }

  #execute(job: ClaimedJob): void {
    const controller = new AbortController();
    const done = this.#run(job, controller.signal)
      .catch((error: unknown) => {
        const where = {
          projectId: job.projectId,
          workflowId: job.workflowId,
          runId: job.runId,
          nodeId: job.nodeId,
          attempt: job.attempt,
        };
        if (error instanceof LeaseLostError) {
          this.#o.log.warn(error.message, { run_id: job.runId, node_id: job.nodeId });
          // Another worker took the step over and settles it: not a failure of the run.
          this.#errors.capture(error, { source: 'worker', errorType: 'lease_lost', ...where });
        } else {
          // The job keeps its lease until it expires; then another worker retakes the step.
          this.#o.log.error('settling a step failed', {
            run_id: job.runId,
            node_id: job.nodeId,
            error: String(error),
          });
          this.#errors.capture(error, {
            source: 'system',
            ...where,
            metadata: { during: 'settling a step' },
          });
        }
      })
      .finally(() => {
        this.#inFlight.delete(job.leaseId);
        this.#wake();
      });
    this.#inFlight.set(job.leaseId, { job, controller, done });
  }

  async #run(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    const loaded = await this.#definitions.get(job.versionId).catch((error: unknown) => {
      if (error instanceof UnrunnableVersionError) return error;
      throw error; // a database error: the lease expires and the step is retaken
    });
    const node =
      loaded instanceof UnrunnableVersionError
        ? undefined
        : loaded.definition.nodes.find((n) => n.id === job.nodeId);
    if (loaded instanceof UnrunnableVersionError || !node) {
      // Retaking the step would fail the same way forever: fail the run once, saying why.
      const message =
        loaded instanceof UnrunnableVersionError
          ? loaded.message
          : `node ${job.nodeId} is not in workflow version ${job.versionId}`;
      await this.#settle(job, {
        definition: { nodes: [], edges: [] },
        outcome: { kind: 'failed', error: { type: 'internal', message }, retryable: false },
        policy: { maxAttempts: 1, backoffMs: 0 },
        logs: [],
      });
      return;
    }
    const { definition, redactor } = loaded;
    const log = new RunLogger({ nodeId: job.nodeId, redactor });
    const policy = retryPolicy(node);

    let outcome: StepOutcome;
    if (FINAL_RUN.has(job.runStatus)) {
      outcome = { kind: 'canceled', reason: `run already ${job.runStatus}` };
    } else if (job.recovered && job.recoveries > this.#o.maxRecoveries) {
      const message = `step abandoned: its lease expired ${job.recoveries} times (worker crashes or stalls)`;
      log.error(message, { recoveries: job.recoveries });
      outcome = { kind: 'failed', error: { type: 'lease_lost', message }, retryable: false };
    } else {
      if (job.recovered) {
        log.warn(`step retaken after its lease expired (attempt ${job.attempt})`, {
          attempt: job.attempt,
          recoveries: job.recoveries,
        });
      }
      outcome = await this.#executeWithTimeout(job, node, log, signal);
    }
    if (signal.aborted) return; // lease lost or shutting down: someone else settles the step
    await this.#settle(job, {
      definition,
      outcome,
      policy,
      logs: log.lines,
      input: stepInput(node, { trigger: job.trigger, steps: job.steps }, redactor),
      redactor,
    });
  }

  /** Commits a step's outcome, announces what it changed and runs the successors handed over. */
  async #settle(job: ClaimedJob, result: Omit<StepResult, 'job'>): Promise<void> {
    const settled = await this.#settler.settle({ job, ...result });
    const { notifier } = this.#o;
    if (settled.lastLogId) {
      notifier.logs({ projectId: job.projectId, runId: job.runId, lastId: settled.lastLogId });
    }
    if (settled.runFinished) notifier.runFinished(job.runId);
    this.#errors.committed(settled.errors);
    // The failure may have put alerts in the outbox: the alerters evaluate them now.
    if (settled.runFinished === 'failed' || settled.errors.length > 0) {
      notifier.send(ALERTS_CHANNEL, 'failure');
    }
    if (settled.queued > 0) notifier.jobs();
    if (settled.nextDueInMs !== undefined) this.#wakeAt(Date.now() + settled.nextDueInMs + 5);
    for (const next of settled.continued) this.#execute(next);
  }

  async #executeWithTimeout(
    job: ClaimedJob,
    node: Parameters<typeof executeNode>[0]['node'],
    log: RunLogger,
    signal: AbortSignal,
  ): Promise<StepOutcome> {
    const timeoutMs = this.#o.stepTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const stepSignal = AbortSignal.any([signal, timeout]);
    let onAbort: () => void = () => {};
    const aborted = new Promise<StepOutcome>((resolve) => {
      onAbort = () =>
        resolve({
          kind: 'failed',
          error: { type: 'step_timeout', message: `step exceeded its ${timeoutMs} ms timeout` },
          retryable: true,
        });
      stepSignal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([
        executeNode({
          node,
          context: { trigger: job.trigger, steps: job.steps },
          attempt: job.attempt,
          log,
          signal: stepSignal,
          now: () => new Date(),
        }),
        aborted,
      ]);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.error(`step threw: ${message}`);
      return { kind: 'failed', error: { type: 'internal', message }, retryable: false };
    } finally {
      stepSignal.removeEventListener('abort', onAbort);
    }
  }

  async #sweep(): Promise<void> {
    const client = await this.#o.pool.connect().catch(() => undefined);
    if (!client) return;
    try {
      const swept = await sweepExpired(client, {
        logRetentionDays: this.#o.logRetentionDays,
        errorRetentionDays: this.#o.errorRetentionDays,
        alertLogRetentionDays: this.#o.alertLogRetentionDays,
        metricsRetention: this.#o.metricsRetention,
      });
      if (swept) this.#o.log.debug('swept expired rows', { ...swept });
    } catch (error) {
      this.#o.log.warn('sweeping expired rows failed', { error: String(error) });
    } finally {
      client.release();
    }
  }

  async #announce(): Promise<void> {
    try {
      await announceWorker(this.#o.pool, {
        id: this.id,
        hostname: hostname(),
        pid: process.pid,
        concurrency: this.#o.concurrency,
      });
    } catch (error) {
      this.#o.log.warn('announcing the worker failed', { error: String(error) });
    }
  }

  async #renew(): Promise<void> {
    const leases = [...this.#inFlight.keys()];
    if (leases.length === 0) return;
    try {
      const lost = await renewLeases(this.#o.pool, { leaseIds: leases, leaseMs: this.#o.leaseMs });
      for (const leaseId of lost) {
        const flight = this.#inFlight.get(leaseId);
        if (!flight) continue;
        flight.controller.abort(new Error('lease lost'));
        const { job } = flight;
        this.#errors.capture(`lease on step ${job.nodeId} of run ${job.runId} was lost`, {
          source: 'worker',
          errorType: 'lease_lost',
          projectId: job.projectId,
          workflowId: job.workflowId,
          runId: job.runId,
          nodeId: job.nodeId,
          attempt: job.attempt,
          metadata: { during: 'renewing the lease' },
        });
      }
    } catch (error) {
      this.#o.log.warn('renewing leases failed', { error: String(error) });
    }
  }
}
