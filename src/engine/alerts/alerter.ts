import type pg from 'pg';
import { withTransaction } from '../../db/client.ts';
import { ALERTS_CHANNEL, nextDeliveryDueAt } from '../../db/queries/alert-delivery.ts';
import { watch, type WatchLimits } from '../../db/queries/alert-watch.ts';
import type { Listener } from '../listener.ts';
import type { Notifier } from '../notifier.ts';
import type { ProcessLog } from '../process-log.ts';
import type { ChannelSenders } from './channels/types.ts';
import { AlertDispatcher, type DispatchCounts } from './dispatcher.ts';
import { AlertEvaluator } from './evaluator.ts';
import { ThresholdEvaluator } from './thresholds.ts';

/** How the alerter paces itself; every duration in milliseconds. */
export interface AlerterOptions {
  pool: pg.Pool;
  listener: Listener;
  notifier: Notifier;
  log: ProcessLog;
  senders: ChannelSenders;
  /** Base of the links in messages (the run page). */
  publicUrl: string;
  id: string;
  /** Safety-net poll; the alerter is woken by notifications and by the next due delivery. */
  pollIntervalMs?: number;
  /** How often threshold rules are evaluated. */
  thresholdIntervalMs?: number;
  /** How often the watchdog looks; its limits. */
  watchIntervalMs?: number;
  watchLimits?: Partial<WatchLimits>;
  /** First retry delay of a failed delivery (it doubles from there). */
  retryBaseMs?: number;
  /** How long a claim holds a delivery before another dispatcher may take it over. */
  leaseMs?: number;
  now?: () => Date;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  workerMissingAfterMs: 30_000,
  workerSeenWithinMs: 15_000,
  queueAgeMs: 300_000,
  runTimeoutMs: 86_400_000,
};

/**
 * The alerts of one process, web or worker (every process runs one, so alerts flow as long as
 * any process lives, the one that would raise "no live worker" included): evaluates failures
 * as they are committed (woken by the runs' and errors' notifications), sends due deliveries,
 * and on timers evaluates threshold rules and runs the watchdog. Everything it decides is
 * decided in the database, so any number of alerters share the work.
 */
export class Alerter {
  readonly #o: Required<Omit<AlerterOptions, 'now' | 'watchLimits' | 'retryBaseMs' | 'leaseMs'>> & {
    watchLimits: WatchLimits;
  };
  readonly #evaluator: AlertEvaluator;
  readonly #thresholds: ThresholdEvaluator;
  readonly #dispatcher: AlertDispatcher;
  readonly #abort = new AbortController();
  readonly #cleanups: Array<() => void> = [];
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;

  constructor(options: AlerterOptions) {
    this.#o = {
      pollIntervalMs: 2_000,
      thresholdIntervalMs: 10_000,
      watchIntervalMs: 10_000,
      ...options,
      watchLimits: { ...DEFAULT_WATCH_LIMITS, ...options.watchLimits },
    };
    const clock = options.now ? { now: options.now } : {};
    this.#evaluator = new AlertEvaluator({
      pool: options.pool,
      publicUrl: options.publicUrl,
      ...clock,
    });
    this.#thresholds = new ThresholdEvaluator({ pool: options.pool, ...clock });
    this.#dispatcher = new AlertDispatcher({
      id: options.id,
      pool: options.pool,
      senders: options.senders,
      log: options.log,
      ...(options.retryBaseMs ? { retryBaseMs: options.retryBaseMs } : {}),
      ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    });
  }

  /** Deliveries this process sent, failed for good, and put back for a retry. */
  get counts(): DispatchCounts {
    return this.#dispatcher.counts;
  }

  start(): void {
    const wake = () => this.wake();
    const l = this.#o.listener;
    // Workers and the error capture announce failures on this channel after their commits
    // (not every finished run: a pass for each would cost the engine), and so do alerters that
    // queued deliveries, for the dispatchers of other processes.
    this.#cleanups.push(l.on(ALERTS_CHANNEL, wake), l.onConnect(wake));
    const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        void fn().catch((error: unknown) =>
          this.#o.log.warn(`${what} failed`, { error: String(error) }),
        );
      }, ms);
      timer.unref();
      this.#cleanups.push(() => clearInterval(timer));
    };
    every(this.#o.pollIntervalMs, async () => this.wake(), 'polling alerts');
    every(this.#o.thresholdIntervalMs, () => this.evaluateThresholds(), 'evaluating thresholds');
    every(this.#o.watchIntervalMs, () => this.watch(), 'the alerts watchdog');
    this.wake();
  }

  /** Stops the timers and waits for the pass in progress (its sends are aborted). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const cleanup of this.#cleanups) cleanup();
    clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
  }

  /** Evaluates and sends what is waiting; passes that arrive meanwhile fold into one more. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  /** Resolves when no pass is in progress (for tests and benchmarks). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Evaluates the threshold rules once, and sends what they raised. */
  async evaluateThresholds(): Promise<number> {
    const notices = await this.#thresholds.run();
    if (notices > 0) this.#announce();
    return notices;
  }

  /** Runs the watchdog's checks once; what they raise is evaluated at once. */
  async watch(): Promise<void> {
    const raised = await withTransaction(this.#o.pool, (tx) => watch(tx, this.#o.watchLimits));
    if (raised.workerMissing + raised.queueStalled + raised.runTimedOut > 0) {
      this.#o.log.warn('the watchdog raised alerts', { ...raised });
      this.#announce();
    }
  }

  #announce(): void {
    this.#o.notifier.send(ALERTS_CHANNEL, 'due');
    this.wake();
  }

  async #pass(): Promise<void> {
    try {
      const evaluated = await this.#evaluator.run();
      // Other processes' dispatchers may take part of the deliveries.
      if (evaluated.deliveries > 0) this.#o.notifier.send(ALERTS_CHANNEL, 'due');
      await this.#dispatcher.run(this.#abort.signal);
      const due = await nextDeliveryDueAt(this.#o.pool);
      if (due) this.#wakeAt(due.getTime() + 5);
    } catch (error) {
      if (!this.#stopped) this.#o.log.warn('an alerts pass failed', { error: String(error) });
      this.#wakeAt(Date.now() + 1_000);
    }
  }

  /** Makes sure a pass happens no later than at. */
  #wakeAt(at: number): void {
    if (this.#stopped) return;
    if (this.#timer && this.#timerAt <= at && this.#timerAt > Date.now()) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.wake();
      },
      Math.max(0, at - Date.now()),
    );
    this.#timer.unref();
  }
}
