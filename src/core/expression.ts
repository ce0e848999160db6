import { compile, TreeInterpreter } from '@jmespath-community/jmespath';
import type { JSONValue } from '@jmespath-community/jmespath';
import { err, ok, type Result } from './result.ts';

type ExpressionNode = ReturnType<typeof compile>;

/** The data every expression reads: the trigger and the outputs of finished steps. */
export interface ExpressionContext {
  trigger: { body: unknown; headers: Record<string, string>; query: Record<string, string> };
  steps: Record<string, { output: unknown }>;
}

// Definitions are immutable once published, so a compiled expression never goes stale; the
// cache is bounded because drafts under edit can produce any number of distinct strings.
const compiled = new Map<string, ExpressionNode>();
const CACHE_LIMIT = 5_000;

/** Parses a JMESPath expression, reporting a syntax error as a value. */
export function compileExpression(expression: string): Result<ExpressionNode, string> {
  const cached = compiled.get(expression);
  if (cached) return ok(cached);
  try {
    const node = compile(expression);
    if (compiled.size >= CACHE_LIMIT) compiled.clear();
    compiled.set(expression, node);
    return ok(node);
  } catch (error) {
    return err(error instanceof Error ? error.message : String(error));
  }
}

/** Evaluates a JMESPath expression over the context. */
export function evaluate(expression: string, context: unknown): Result<unknown, string> {
  const node = compileExpression(expression);
  if (!node.ok) return node;
  try {
    return ok(TreeInterpreter.search(node.value, context as JSONValue));
  } catch (error) {
    return err(error instanceof Error ? error.message : String(error));
  }
}

const TEMPLATE = /\{\{(.*?)\}\}/gs;
const WHOLE_TEMPLATE = /^\{\{(.*?)\}\}$/s;

/** The expressions inside a string's `{{ … }}` placeholders. */
export function templateExpressions(text: string): string[] {
  return [...text.matchAll(TEMPLATE)].map((m) => (m[1] ?? '').trim());
}

/**
 * Renders `{{ expr }}` placeholders in every string of a config value. A string that is exactly
 * one placeholder takes the expression's value with its JSON type; inside longer text the value
 * is inserted as text, objects and arrays as JSON.
 */
export function renderTemplate(
  value: unknown,
  context: ExpressionContext,
): Result<unknown, string> {
  if (typeof value === 'string') return renderString(value, context);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const rendered = renderTemplate(item, context);
      if (!rendered.ok) return rendered;
      out.push(rendered.value);
    }
    return ok(out);
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const rendered = renderTemplate(item, context);
      if (!rendered.ok) return rendered;
      out[key] = rendered.value;
    }
    return ok(out);
  }
  return ok(value);
}

function renderString(text: string, context: ExpressionContext): Result<unknown, string> {
  if (!text.includes('{{')) return ok(text);
  const whole = WHOLE_TEMPLATE.exec(text);
  if (whole && !whole[1]!.includes('}}')) return evaluateIn(whole[1]!.trim(), context);
  let failure: string | undefined;
  const rendered = text.replace(TEMPLATE, (_match, expression: string) => {
    const result = evaluateIn(expression.trim(), context);
    if (!result.ok) {
      failure ??= result.error;
      return '';
    }
    return stringify(result.value);
  });
  return failure === undefined ? ok(rendered) : err(failure);
}

function evaluateIn(expression: string, context: ExpressionContext): Result<unknown, string> {
  const result = evaluate(expression, context);
  return result.ok ? result : err(`expression "${expression}": ${result.error}`);
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
