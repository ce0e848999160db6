import type pg from 'pg';
import { backoffDelay } from '../../core/retry.ts';
import {
  claimDeliveries,
  completeDelivery,
  readChannels,
  type AttemptOutcome,
  type ClaimedDelivery,
} from '../../db/queries/alert-delivery.ts';
import type { ProcessLog } from '../process-log.ts';
import type { ChannelSenders, ChannelTarget, SendResult } from './channels/types.ts';

/** Attempts of one delivery at most; with the default backoff they span about half an hour. */
export const MAX_DELIVERY_ATTEMPTS = 12;
/** Longest wait between two attempts. */
const RETRY_CAP_MS = 5 * 60_000;

/** What a dispatcher has done, for /metrics. */
export interface DispatchCounts {
  sent: number;
  failed: number;
  retried: number;
}

/**
 * Sends due deliveries. Each is claimed with SKIP LOCKED under a lease (so two dispatchers
 * never send one delivery at once), sent through its channel, and settled with a record of the
 * attempt: sent; failed for good (a permanent error, or the last attempt); or due again after
 * a backoff. A dispatcher that dies mid-send leaves its deliveries "sending" until the lease
 * ends, when another takes them over, so nothing is lost; the delivery id stays the same, so a
 * receiver that saw the first attempt can drop the repeat (MeshHook-Delivery).
 *
 * Its own failures (a channel down, the database unreachable) go to the process log and the
 * counters, never to the error capture or the alerts: an alerter that alerts on itself loops.
 */
export class AlertDispatcher {
  readonly id: string;
  readonly #pool: pg.Pool;
  readonly #senders: ChannelSenders;
  readonly #log: ProcessLog;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #random: () => number;
  readonly #retryBaseMs: number;
  readonly counts: DispatchCounts = { sent: 0, failed: 0, retried: 0 };

  constructor(options: {
    id: string;
    pool: pg.Pool;
    senders: ChannelSenders;
    log: ProcessLog;
    /** How long a claim holds a delivery: longer than any send (the senders time out at 10 s). */
    leaseMs?: number;
    /** Deliveries sent at once. */
    concurrency?: number;
    random?: () => number;
    /** First retry delay; each next one doubles, with jitter, up to 5 minutes. */
    retryBaseMs?: number;
  }) {
    this.id = options.id;
    this.#pool = options.pool;
    this.#senders = options.senders;
    this.#log = options.log;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#concurrency = options.concurrency ?? 16;
    this.#random = options.random ?? Math.random;
    this.#retryBaseMs = options.retryBaseMs ?? 1_000;
  }

  /** Sends every delivery due now; returns how many it claimed. */
  async run(signal: AbortSignal): Promise<number> {
    let claimed = 0;
    while (!signal.aborted) {
      const due = await claimDeliveries(this.#pool, {
        dispatcherId: this.id,
        limit: this.#concurrency,
        leaseMs: this.#leaseMs,
      });
      if (due.length === 0) break;
      claimed += due.length;
      const channels = await readChannels(this.#pool, [...new Set(due.map((d) => d.channelId))]);
      await Promise.all(
        due.map((delivery) => this.#deliver(delivery, channels.get(delivery.channelId), signal)),
      );
      if (due.length < this.#concurrency) break;
    }
    return claimed;
  }

  async #deliver(
    delivery: ClaimedDelivery,
    channel: ChannelTarget | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const started = performance.now();
    const result: SendResult = channel
      ? await this.#senders
          .send(
            channel,
            { id: delivery.id, attempt: delivery.attempt, alert: delivery.alert },
            signal,
          )
          .catch((error: unknown) => ({
            ok: false as const,
            permanent: false,
            error: error instanceof Error ? error.message : String(error),
          }))
      : { ok: false as const, permanent: true, error: 'the channel was deleted' };
    const durationMs = performance.now() - started;
    let outcome: AttemptOutcome;
    if (result.ok) {
      outcome = {
        ok: true,
        durationMs,
        ...(result.statusCode ? { statusCode: result.statusCode } : {}),
      };
    } else {
      const last = result.permanent || delivery.attempt >= MAX_DELIVERY_ATTEMPTS;
      const delay = Math.max(
        result.retryAfterMs ?? 0,
        Math.min(
          RETRY_CAP_MS,
          backoffDelay({
            attempt: delivery.attempt,
            baseMs: this.#retryBaseMs,
            random: this.#random,
          }),
        ),
      );
      outcome = {
        ok: false,
        permanent: result.permanent,
        error: result.error,
        durationMs,
        ...(result.statusCode ? { statusCode: result.statusCode } : {}),
        ...(last ? {} : { retryAt: new Date(Date.now() + delay) }),
      };
    }
    const held = await completeDelivery(this.#pool, {
      delivery,
      dispatcherId: this.id,
      outcome,
    }).catch((error: unknown) => {
      this.#log.warn('recording an alert delivery failed', {
        delivery_id: delivery.id,
        error: String(error),
      });
      return false;
    });
    if (!held) {
      // The lease ended first and another dispatcher took it over (or the database is gone):
      // that one settles it.
      this.#log.warn('an alert delivery outlived its lease', { delivery_id: delivery.id });
      return;
    }
    if (outcome.ok) this.counts.sent++;
    else if (outcome.retryAt) this.counts.retried++;
    else this.counts.failed++;
    if (!outcome.ok) {
      this.#log.warn('an alert delivery failed', {
        delivery_id: delivery.id,
        channel_id: delivery.channelId,
        attempt: delivery.attempt,
        permanent: outcome.permanent ?? false,
        retry_at: outcome.retryAt?.toISOString() ?? null,
        error: outcome.error,
      });
    }
  }
}
