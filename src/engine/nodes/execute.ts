import type { DefinitionNode } from '../../core/definition.ts';
import { evaluate, renderTemplate, type ExpressionContext } from '../../core/expression.ts';
import { isTruthy } from '../../core/run-plan.ts';
import { executeHttpCall } from './http-call.ts';
import type { RetryPolicy, StepInput, StepOutcome } from './types.ts';

/** Executes one node. Never throws for an expected failure: it returns it, classified. */
export async function executeNode(input: Omit<StepInput, 'config'>): Promise<StepOutcome> {
  const { node, context } = input;
  const failExpression = (message: string): StepOutcome => {
    input.log.error(message);
    return { kind: 'failed', error: { type: 'expression_error', message }, retryable: false };
  };

  switch (node.type) {
    case 'webhook':
      return { kind: 'succeeded', output: context.trigger };
    case 'transform': {
      const value = evaluate(node.config.expression, context);
      return value.ok
        ? { kind: 'succeeded', output: value.value ?? null }
        : failExpression(`expression "${node.config.expression}": ${value.error}`);
    }
    case 'branch': {
      const value = evaluate(node.config.condition, context);
      return value.ok
        ? { kind: 'succeeded', output: isTruthy(value.value) }
        : failExpression(`condition "${node.config.condition}": ${value.error}`);
    }
    case 'delay':
      // The wait happened in the queue: this job was scheduled ms after its predecessors.
      return { kind: 'succeeded', output: { delayed_ms: node.config.ms } };
    case 'log': {
      const rendered = renderTemplate(
        { message: node.config.message, fields: node.config.fields ?? {} },
        context,
      );
      if (!rendered.ok) return failExpression(rendered.error);
      const { message, fields } = rendered.value as {
        message: unknown;
        fields: Record<string, unknown>;
      };
      const text = asText(message);
      input.log.log(node.config.level, text, fields);
      return { kind: 'succeeded', output: { level: node.config.level, message: text } };
    }
    case 'terminate': {
      const rendered = renderTemplate(node.config.message ?? null, context);
      if (!rendered.ok) return failExpression(rendered.error);
      const message = rendered.value === null ? undefined : asText(rendered.value);
      if (node.config.status === 'failed') {
        input.log.error(message ?? 'run terminated as failed');
      }
      return {
        kind: 'terminated',
        status: node.config.status,
        ...(message === undefined ? {} : { message }),
        output: { status: node.config.status, message: message ?? null },
      };
    }
    case 'http_call': {
      const rendered = renderTemplate(node.config, context);
      if (!rendered.ok) return failExpression(rendered.error);
      return executeHttpCall({ ...input, node, config: rendered.value as typeof node.config });
    }
  }
}

/**
 * What a step is given, for the run page: its config with the templates rendered, redacted
 * like a log line. The trigger has none (its output is the delivery).
 */
export function stepInput(
  node: DefinitionNode,
  context: ExpressionContext,
  redactor: { value<T>(v: T): T },
): unknown {
  if (node.type === 'webhook') return undefined;
  const rendered = renderTemplate(node.config, context);
  return redactor.value(rendered.ok ? rendered.value : node.config);
}

/** A message from a template that may have produced any JSON value. */
function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** How often a node is executed at most, and the backoff between executions. */
export function retryPolicy(node: DefinitionNode): RetryPolicy {
  if (node.type === 'http_call') {
    return {
      maxAttempts: node.config.retry?.max_attempts ?? 3,
      backoffMs: node.config.retry?.backoff_ms ?? 500,
    };
  }
  // Other nodes are deterministic: running them again gives the same failure.
  return { maxAttempts: 1, backoffMs: 0 };
}
