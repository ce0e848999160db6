import type pg from 'pg';
import { Batcher } from './batcher.ts';
import {
  LeaseLostError,
  settleSteps,
  type Continuation,
  type Settled,
  type StepResult,
} from './settle-step.ts';

/**
 * Commits step outcomes in batches: under load one transaction settles the steps of many runs
 * (the round trips and the WAL flush are shared), at rest a lone step settles at once. A batch
 * holds one step per run and a run is never in two batches at a time, so a run's settlements
 * stay in order.
 */
export class Settler {
  readonly #batcher: Batcher<StepResult, Settled | LeaseLostError>;

  constructor(options: {
    pool: pg.Pool;
    /** Record failed attempts as error events in the settlement's transaction. */
    captureErrors?: boolean;
    /** The continuation for a batch of that size, or none (a worker shutting down). */
    continuation: (batchSize: number) => Continuation | undefined;
  }) {
    this.#batcher = new Batcher({
      key: (result) => result.job.runId,
      maxBatch: 64,
      write: (results) => {
        const continuation = options.continuation(results.length);
        return settleSteps({
          pool: options.pool,
          results,
          captureErrors: options.captureErrors ?? true,
          ...(continuation ? { continuation } : {}),
        });
      },
    });
  }

  /** Commits one step's outcome; rejects with LeaseLostError when its lease was lost. */
  async settle(result: StepResult): Promise<Settled> {
    const settled = await this.#batcher.add(result);
    if (settled instanceof LeaseLostError) throw settled;
    return settled;
  }
}
