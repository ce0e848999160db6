// The one place where a stored alert (the JSON the evaluator wrote in the alert log) becomes the
// input of the core's message builders. Stored JSON outlives the code that wrote it, so every
// field is read defensively: a missing optional part becomes null, and only what no message can
// do without (a known type, a time) makes the alert unusable.

import { ALERT_EVENT_TYPES, THRESHOLD_METRICS, THRESHOLD_OPS } from '../../../core/alert-rules.ts';
import type { ThresholdMetric, ThresholdOp } from '../../../core/alert-rules.ts';
import type { Alert } from '../../../core/alert-text.ts';
import { isRecord } from '../../../core/field-problems.ts';
import { err, ok, type Result } from '../../../core/result.ts';

/** What the message builders take: the alert and the rule's template. */
export interface MessageInput {
  alert: Alert;
  template: string | null;
}

const EVENT_TYPES: readonly string[] = [...ALERT_EVENT_TYPES, 'test'];

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function idAnd<K extends string>(
  value: unknown,
  key: K,
): ({ id: string } & Record<K, string>) | null {
  if (!isRecord(value) || typeof value.id !== 'string') return null;
  // A workflow deleted before its slug was read is named by its id rather than left blank.
  const other = text(value[key]) ?? value.id;
  return { id: value.id, [key]: other } as { id: string } & Record<K, string>;
}

function errorOf(value: unknown): { type: string; message: string } | null {
  if (typeof value === 'string') return { type: 'error', message: value };
  if (!isRecord(value)) return null;
  const message = text(value.message);
  const type = text(value.type) ?? text(value.name) ?? 'error';
  return message === null ? null : { type, message };
}

function thresholdOf(stored: Record<string, unknown>, type: string): Result<Alert, string> | null {
  const match = /^threshold(?:_(firing|resolved))?$/.exec(type);
  if (!match) return null;
  const nested = isRecord(stored.threshold) ? stored.threshold : stored;
  const state = match[1] ?? text(nested.state) ?? text(stored.state);
  const metric = text(nested.metric);
  const value = count(nested.value);
  const threshold = count(nested.threshold);
  if (state !== 'firing' && state !== 'resolved') return err('the threshold state is missing');
  if (metric === null || !(THRESHOLD_METRICS as readonly string[]).includes(metric)) {
    return err('the threshold metric is missing');
  }
  if (value === null || threshold === null) return err('the threshold reading is missing');
  const op = text(nested.op);
  const window = text(nested.window);
  return ok({
    ...common(stored),
    type: 'threshold',
    threshold: {
      metric: metric as ThresholdMetric,
      ...(op !== null && (THRESHOLD_OPS as readonly string[]).includes(op)
        ? { op: op as ThresholdOp }
        : {}),
      value,
      threshold,
      state,
      ...(window === null ? {} : { window }),
    },
  } as Alert);
}

function common(stored: Record<string, unknown>): Omit<Alert, 'type' | 'threshold'> {
  const covers = count(stored.covers);
  return {
    project: { id: text(stored.project_id) ?? '', name: text(stored.project_name) },
    workflow: idAnd(stored.workflow, 'slug'),
    run: idAnd(stored.run, 'url'),
    node_id: text(stored.node_id),
    error: errorOf(stored.error),
    attempts: count(stored.attempts),
    covers: covers !== null && covers >= 1 ? Math.floor(covers) : 1,
    rule: idAnd(stored.rule, 'name'),
    at: new Date(text(stored.at) ?? Number.NaN),
  };
}

/**
 * Reads a stored alert as the core's Alert and its template; an error when it cannot be
 * rendered at all (an unknown type, no valid `at`, a threshold alert without its reading).
 *
 * @example
 * const input = messageInput(delivery.alert);
 * if (input.ok) emailMessage(input.value.alert, { template: input.value.template });
 */
export function messageInput(stored: Record<string, unknown>): Result<MessageInput, string> {
  const type = text(stored.type) ?? '';
  const template = text(stored.template);
  const threshold = thresholdOf(stored, type);
  let alert: Alert;
  if (threshold) {
    if (!threshold.ok) return threshold;
    alert = threshold.value;
  } else if (EVENT_TYPES.includes(type)) {
    alert = { ...common(stored), type: type as Alert['type'] } as Alert;
  } else {
    return err(`unknown alert type "${type.slice(0, 40)}"`);
  }
  if (Number.isNaN(alert.at.getTime())) return err('the alert has no valid time');
  return ok({ alert, template });
}
