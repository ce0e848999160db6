import type pg from 'pg';
import {
  LeaseLostError,
  settleSteps,
  type Continuation,
  type Settled,
  type StepResult,
} from './settle-step.ts';

interface Pending {
  result: StepResult;
  resolve: (settled: Settled) => void;
  reject: (error: unknown) => void;
}

/**
 * Commits step outcomes in batches. Steps that finish while a batch is being committed wait for
 * the next one, so under load one transaction settles many steps (the round trips and the WAL
 * flush are shared) and at rest a lone step settles at once. A batch holds one step per run, and
 * a run is never in two batches at a time: a run's settlements stay in order.
 */
export class Settler {
  readonly #pool: pg.Pool;
  readonly #continuation: (batchSize: number) => Continuation | undefined;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;
  readonly #busyRuns = new Set<string>();

  constructor(options: {
    pool: pg.Pool;
    /** The continuation for a batch of that size, or none (a worker shutting down). */
    continuation: (batchSize: number) => Continuation | undefined;
    maxBatch?: number;
    maxInFlight?: number;
  }) {
    this.#pool = options.pool;
    this.#continuation = options.continuation;
    this.#maxBatch = options.maxBatch ?? 64;
    this.#maxInFlight = options.maxInFlight ?? 2;
  }

  /** Commits one step's outcome; rejects with LeaseLostError when its lease was lost. */
  settle(result: StepResult): Promise<Settled> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ result, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return; // everything pending belongs to runs being settled
      this.#inFlight++;
      void this.#commit(batch).finally(() => {
        this.#inFlight--;
        for (const p of batch) this.#busyRuns.delete(p.result.job.runId);
        this.#pump();
      });
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.#pending) {
      const runId = p.result.job.runId;
      if (batch.length < this.#maxBatch && !this.#busyRuns.has(runId)) {
        this.#busyRuns.add(runId);
        batch.push(p);
      } else {
        rest.push(p);
      }
    }
    this.#pending = rest;
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    try {
      const continuation = this.#continuation(batch.length);
      const answers = await settleSteps({
        pool: this.#pool,
        results: batch.map((p) => p.result),
        ...(continuation ? { continuation } : {}),
      });
      answers.forEach((answer, i) => {
        if (answer instanceof LeaseLostError) batch[i]!.reject(answer);
        else batch[i]!.resolve(answer);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
