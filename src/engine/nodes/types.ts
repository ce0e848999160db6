import type { ExpressionContext } from '../../core/expression.ts';
import type { DefinitionNode } from '../../core/definition.ts';
import type { RunLogger } from '../run-logger.ts';

/** A classified step failure; `type` is a stable name users and alerts can rely on. */
export interface StepError {
  type: string;
  message: string;
  details?: Record<string, unknown>;
}

/** How a step execution ended. */
export type StepOutcome =
  | { kind: 'succeeded'; output: unknown }
  | { kind: 'failed'; error: StepError; retryable: boolean; retryAfterMs?: number }
  | { kind: 'terminated'; status: 'succeeded' | 'failed'; message?: string; output: unknown }
  /** The run ended while this step waited; it is recorded as canceled and not executed. */
  | { kind: 'canceled'; reason: string };

/** What a node executor is given. */
export interface StepInput<N extends DefinitionNode = DefinitionNode> {
  node: N;
  /** The node's config with every `{{ expr }}` rendered. */
  config: N['config'];
  context: ExpressionContext;
  attempt: number;
  log: RunLogger;
  /** Aborted on the step timeout, a lost lease or shutdown. */
  signal: AbortSignal;
  now: () => Date;
}

/** The retry policy of a node: how many executions at most and the backoff base. */
export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
}
