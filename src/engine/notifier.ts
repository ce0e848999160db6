import type pg from 'pg';
import { JOBS_CHANNEL } from '../db/queries/intake.ts';
import { LOGS_CHANNEL } from '../db/queries/run-logs.ts';
import { RUNS_CHANNEL } from '../db/queries/settle-step.ts';

// PostgreSQL's notify payload limit is 8000 bytes; stay clear of it.
const MAX_PAYLOAD = 7_000;

/** A committed log batch, announced by ids only. */
export interface LogBatch {
  projectId: string;
  runId: string;
  lastId: string;
}

/**
 * Sends NOTIFYs after commit, coalesced. A transaction that notifies takes a cluster-wide lock
 * at commit, so notifying inside every intake and step transaction serialises their commits
 * (and their WAL flushes) one behind the other. Announcing after commit instead, and folding
 * everything that arrives while one announcement is in flight into the next, turns one notify
 * per transaction into one per round trip. A crash between commit and announcement only delays
 * the work: workers poll as a safety net and streams re-read on reconnect.
 */
export class Notifier {
  readonly #pool: pg.Pool;
  readonly #onError: (error: unknown) => void;
  #jobs = false;
  #runs = new Set<string>();
  #logs = new Map<string, LogBatch>();
  #other = new Map<string, Set<string>>();
  #flushing: Promise<void> | undefined;

  constructor(pool: pg.Pool, onError: (error: unknown) => void = () => {}) {
    this.#pool = pool;
    this.#onError = onError;
  }

  /** Wakes workers: a job became due. */
  jobs(): void {
    this.#jobs = true;
    this.#schedule();
  }

  /** Announces runs that reached a final status. */
  runFinished(runId: string): void {
    this.#runs.add(runId);
    this.#schedule();
  }

  /** Announces a committed batch of run log lines. */
  logs(batch: LogBatch): void {
    const previous = this.#logs.get(batch.runId);
    if (!previous || BigInt(previous.lastId) < BigInt(batch.lastId))
      this.#logs.set(batch.runId, batch);
    this.#schedule();
  }

  /** Announces a value on another channel; values pending together are sent comma-separated. */
  send(channel: string, value: string): void {
    let values = this.#other.get(channel);
    if (!values) this.#other.set(channel, (values = new Set()));
    values.add(value);
    this.#schedule();
  }

  /** Resolves when everything announced so far has been sent. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #schedule(): void {
    if (this.#flushing) return; // picked up when the flush in flight completes
    this.#flushing = this.#send().finally(() => {
      this.#flushing = undefined;
      if (this.#jobs || this.#runs.size > 0 || this.#logs.size > 0 || this.#other.size > 0) {
        this.#schedule();
      }
    });
  }

  async #send(): Promise<void> {
    const channels: string[] = [];
    const payloads: string[] = [];
    if (this.#jobs) {
      channels.push(JOBS_CHANNEL);
      payloads.push('');
    }
    for (const chunk of chunks([...this.#runs], (ids) => ids.join(','))) {
      channels.push(RUNS_CHANNEL);
      payloads.push(chunk);
    }
    const logs = [...this.#logs.values()].map((b) => ({
      project_id: b.projectId,
      run_id: b.runId,
      last_id: b.lastId,
    }));
    for (const chunk of chunks(logs, (items) => JSON.stringify(items))) {
      channels.push(LOGS_CHANNEL);
      payloads.push(chunk);
    }
    for (const [channel, values] of this.#other) {
      for (const chunk of chunks([...values], (items) => items.join(','))) {
        channels.push(channel);
        payloads.push(chunk);
      }
    }
    this.#jobs = false;
    this.#runs = new Set();
    this.#logs = new Map();
    this.#other = new Map();
    try {
      await this.#pool.query(
        `select pg_notify(n.channel, n.payload) from unnest($1::text[], $2::text[]) as n(channel, payload)`,
        [channels, payloads],
      );
    } catch (error) {
      this.#onError(error);
    }
  }
}

/** Splits items into serialised chunks that each fit in one notification. */
function chunks<T>(items: T[], serialise: (items: T[]) => string): string[] {
  const out: string[] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = serialise([item]).length + 1;
    if (current.length > 0 && size + itemSize > MAX_PAYLOAD) {
      out.push(serialise(current));
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length > 0) out.push(serialise(current));
  return out;
}
