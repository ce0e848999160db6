import type pg from 'pg';
import { describeError, type CapturedError, type ErrorContext } from '../core/error-events.ts';
import { ALERTS_CHANNEL } from '../db/queries/alert-delivery.ts';
import { ERRORS_CHANNEL, recordErrors } from '../db/queries/error-events.ts';
import { Batcher } from './batcher.ts';
import type { Notifier } from './notifier.ts';
import type { ProcessLog } from './process-log.ts';
import type { LineRedactor } from './run-logger.ts';

/**
 * Where captured errors go besides the database (Sentry): told of each error once its write is
 * done, and flushed with the capture, so a dying process waits for it too.
 */
export interface ErrorSink {
  /** Takes one error; must not throw or wait (queue the work). */
  send(error: CapturedError): void;
  /** Resolves once what was sent so far has left, or after timeoutMs; never rejects. */
  flush(timeoutMs: number): Promise<void>;
}

/** How many errors may wait for their write before new ones are dropped (and counted). */
const MAX_PENDING = 10_000;
/** A failed write is tried again once, this much later, before its errors are dropped. */
const RETRY_AFTER_MS = 1_000;

/**
 * The capture function of the process: every component hands its errors here (the webhook
 * intake, the API, the worker outside a settlement, the process's own handlers), and the step
 * failures committed by settlements are announced here after their commit.
 *
 * `capture` never throws and never waits: the error is classified, fingerprinted and redacted
 * at once, then written in batches (one statement for all the errors that arrive while a write
 * is in flight), so a flood of rejected webhooks costs a round trip per batch, not per error.
 * A failure to store errors is logged to the process log and never captured itself, so the
 * capture cannot feed on its own failures. Each error then goes to the sinks (Sentry), stored or
 * not: the errors a database outage keeps from being stored are the ones an outside tracker
 * must hear of.
 *
 * @example
 * errors.capture(error, { source: 'api', projectId, userId });
 */
export class ErrorCapture {
  readonly #pool: pg.Pool;
  readonly #notifier: Notifier;
  readonly #log: ProcessLog;
  readonly #enabled: boolean;
  readonly #batcher: Batcher<CapturedError, void>;
  readonly #sinks = new Set<ErrorSink>();
  readonly #inFlight = new Set<Promise<void>>();
  #pending = 0;
  #stored = 0;
  #dropped = 0;

  constructor(options: {
    pool: pg.Pool;
    notifier: Notifier;
    log: ProcessLog;
    enabled?: boolean;
    sinks?: readonly ErrorSink[];
  }) {
    this.#pool = options.pool;
    this.#notifier = options.notifier;
    this.#log = options.log;
    this.#enabled = options.enabled ?? true;
    for (const sink of options.sinks ?? []) this.#sinks.add(sink);
    this.#batcher = new Batcher({ maxBatch: 500, write: (errors) => this.#write(errors) });
  }

  /** Whether errors are captured at all. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Errors stored by this process, and errors dropped (the database unreachable, a flood). */
  get counts(): { stored: number; dropped: number; pending: number } {
    return { stored: this.#stored, dropped: this.#dropped, pending: this.#pending };
  }

  /** Records an error; returns the event as stored (classified, redacted), or undefined if off. */
  capture(
    error: unknown,
    context: ErrorContext,
    options: { redactor?: LineRedactor } = {},
  ): CapturedError | undefined {
    if (!this.#enabled) return undefined;
    const captured = describeError(error, context, options);
    if (this.#pending >= MAX_PENDING) {
      this.#dropped++;
      return captured;
    }
    this.#pending++;
    const written = this.#batcher
      .add(captured)
      .catch(() => {}) // counted and logged by #write
      .finally(() => {
        this.#pending--;
        this.#inFlight.delete(written);
      });
    this.#inFlight.add(written);
    return captured;
  }

  /** Announces errors another transaction stored (a settlement's), once it committed. */
  committed(errors: readonly CapturedError[]): void {
    if (errors.length === 0) return;
    this.#stored += errors.length;
    this.#notify(errors);
    this.#toSinks(errors);
  }

  /** Hands every error written from now on to sink too; returns the function that removes it. */
  addSink(sink: ErrorSink): () => void {
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  /**
   * Resolves once every error captured so far is stored or dropped and the sinks have sent
   * it on, or after timeoutMs in all.
   */
  async flush(timeoutMs = 5_000): Promise<void> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs).unref();
    });
    const drained = (async () => {
      while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
      // At least 1 ms: a sink may read 0 as "no limit" (Sentry's flush does).
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      await Promise.all([...this.#sinks].map((sink) => sink.flush(left).catch(() => {})));
    })();
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
  }

  async #write(errors: CapturedError[]): Promise<void[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        await recordErrors(this.#pool, errors);
        break;
      } catch (error) {
        if (attempt === 1) {
          await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_MS).unref());
          continue;
        }
        this.#dropped += errors.length;
        this.#log.warn('storing captured errors failed; they are dropped', {
          errors: errors.length,
          dropped_total: this.#dropped,
          error: String(error),
        });
        this.#toSinks(errors);
        throw error;
      }
    }
    this.#stored += errors.length;
    this.#notify(errors);
    this.#toSinks(errors);
    return errors.map(() => undefined);
  }

  #notify(errors: readonly CapturedError[]): void {
    for (const projectId of new Set(errors.map((e) => e.projectId))) {
      if (projectId) this.#notifier.send(ERRORS_CHANNEL, projectId);
    }
    // A refused delivery may have put an alert in the outbox (webhook_rejected).
    if (errors.some((e) => e.source === 'webhook' && e.projectId)) {
      this.#notifier.send(ALERTS_CHANNEL, 'failure');
    }
  }

  #toSinks(errors: readonly CapturedError[]): void {
    for (const sink of this.#sinks) {
      for (const error of errors) {
        try {
          sink.send(error);
        } catch (failure) {
          this.#log.warn('an error sink failed', { error: String(failure) });
        }
      }
    }
  }
}
