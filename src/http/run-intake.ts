import { triggerNode, type Definition } from '../core/definition.ts';
import {
  enqueueIdempotentRun,
  enqueueRuns,
  type IdentifiedRun,
  type NewRun,
  type WebhookTarget,
} from '../db/queries/intake.ts';
import { Batcher } from '../engine/batcher.ts';
import { DefinitionCache } from '../engine/definitions.ts';
import type { HttpDeps } from './context.ts';

/** A delivery to turn into a run. */
export interface Delivery {
  target: WebhookTarget;
  trigger: NewRun['trigger'];
  idempotencyKey?: string;
}

/** Where runs start: webhook deliveries and test events. */
export interface RunIntake {
  /** The published definition a target runs (cached: versions are immutable). */
  definition(target: WebhookTarget): Promise<Definition>;
  /** Stores the run and its first job durably, then wakes the workers. */
  start(delivery: Delivery): Promise<{ runId: string; created: boolean }>;
}

/**
 * Runs without an idempotency key are stored in batches: concurrent deliveries share one
 * statement and one commit, and each is answered once the commit holding it is durable.
 */
export function createRunIntake(deps: HttpDeps): RunIntake {
  const versions = new DefinitionCache(deps.pool);
  const batch = new Batcher<IdentifiedRun, void>({
    write: async (runs) => {
      await enqueueRuns(deps.pool, runs);
      return runs.map(() => undefined);
    },
  });
  const definition = async (target: WebhookTarget) =>
    (await versions.get(target.versionId)).definition;

  return {
    definition,
    async start(delivery) {
      const run: NewRun = {
        target: delivery.target,
        triggerNodeId: triggerNode(await definition(delivery.target)).id,
        trigger: delivery.trigger,
      };
      let result: { runId: string; created: boolean };
      if (delivery.idempotencyKey !== undefined) {
        result = await enqueueIdempotentRun(deps.pool, {
          ...run,
          idempotencyKey: delivery.idempotencyKey,
        });
      } else {
        const runId = crypto.randomUUID();
        await batch.add({ ...run, runId });
        result = { runId, created: true };
      }
      if (result.created) deps.notifier.jobs();
      return result;
    },
  };
}
