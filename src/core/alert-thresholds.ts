// Threshold rules: a metric over a window compared with a line. Which values make sense depends
// on the metric (a rate is a fraction, a count a whole number), so those checks run after the
// fields themselves have parsed, and all of them report at once.

import { z } from 'zod';
import {
  RATE_METRICS,
  THRESHOLD_METRICS,
  THRESHOLD_OPS,
  type ThresholdMetric,
  type ThresholdOp,
} from './alert-names.ts';
import {
  ERROR_SOURCES,
  ERROR_TYPE_PATTERN,
  SEVERITIES,
  type ErrorSource,
  type Severity,
} from './error-events.ts';
import {
  checkFields,
  durationField,
  joinPath,
  oneOf,
  type FieldProblem,
} from './field-problems.ts';

export {
  RATE_METRICS,
  THRESHOLD_METRICS,
  THRESHOLD_OPS,
  type ThresholdMetric,
  type ThresholdOp,
} from './alert-names.ts';

/** A validated threshold: fires while `metric op value` has held for `for`. */
export interface Threshold {
  metric: ThresholdMetric;
  op: ThresholdOp;
  /** A fraction in 0..1 for rate metrics, a positive integer for counts. */
  value: number;
  /** The span the metric is computed over, 1m..7d. */
  window: string;
  window_ms: number;
  /** How long the breach must last before the alert fires, 0s..1d (0s: at once). */
  for: string;
  for_ms: number;
  /** A firing alert resolves once `metric op resolve_value` no longer holds; at most `value`. */
  resolve_value: number;
  /** error_rate only: which error events count; null counts all. */
  source: ErrorSource | null;
  type: string | null;
  severity: Severity | null;
}

const finite = z.number({ error: 'must be a number' }).finite('must be a finite number');

const thresholdShape = {
  metric: oneOf(THRESHOLD_METRICS),
  op: oneOf(THRESHOLD_OPS),
  value: finite,
  window: durationField('1m', '7d'),
  for: durationField('0s', '1d').prefault('0s'),
  resolve_value: finite.optional(),
  source: oneOf(ERROR_SOURCES).optional(),
  type: z
    .string({ error: 'must be a string' })
    .regex(ERROR_TYPE_PATTERN, 'must be a snake_case error type of at most 64 characters')
    .optional(),
  severity: oneOf(SEVERITIES).optional(),
};

/**
 * Checks a rule's `threshold` object (the value at `at`): the fields, then what depends on the
 * metric. A rate's value and resolve_value are fractions in 0..1, a count's value a positive
 * whole number (its resolve_value may be 0); resolve_value is at most value, since the alert
 * fires above the line and resolves below it; source/type/severity only filter error_rate.
 * `threshold` is set, with `for` 0s and resolve_value = value by default, when nothing is wrong.
 */
export function validateThreshold(
  input: unknown,
  at: string,
): { threshold?: Threshold; problems: FieldProblem[] } {
  const { values: t, problems } = checkFields(input, { shape: thresholdShape, at });
  if (!t) return { problems };
  const shapeOk = problems.length === 0;
  const path = (key: string) => joinPath(at, key);
  const rate = t.metric !== undefined && RATE_METRICS.includes(t.metric);
  if (t.metric !== undefined && t.value !== undefined) {
    const problem = valueProblem(rate, t.value, 1);
    if (problem) problems.push({ path: path('value'), message: problem });
  }
  if (t.metric !== undefined && t.resolve_value !== undefined) {
    const problem = valueProblem(rate, t.resolve_value, 0);
    if (problem) problems.push({ path: path('resolve_value'), message: problem });
    else if (t.value !== undefined && t.resolve_value > t.value) {
      problems.push({
        path: path('resolve_value'),
        message: `must be at most value (${t.value}): a firing alert resolves once the metric falls to it`,
      });
    }
  }
  if (t.metric !== undefined && t.metric !== 'error_rate') {
    for (const filter of ['source', 'type', 'severity'] as const) {
      if (t[filter] !== undefined) {
        problems.push({ path: path(filter), message: 'only applies to error_rate' });
      }
    }
  }
  if (!shapeOk || problems.length > 0) return { problems };
  return {
    problems,
    threshold: {
      metric: t.metric!,
      op: t.op!,
      value: t.value!,
      window: t.window!.text,
      window_ms: t.window!.ms,
      for: t.for!.text,
      for_ms: t.for!.ms,
      resolve_value: t.resolve_value ?? t.value!,
      source: t.source ?? null,
      type: t.type ?? null,
      severity: t.severity ?? null,
    },
  };
}

function valueProblem(rate: boolean, value: number, min: number): string | undefined {
  if (rate) return value >= 0 && value <= 1 ? undefined : 'must be a fraction from 0 to 1';
  if (Number.isInteger(value) && value >= min) return undefined;
  return min === 1 ? 'must be a positive whole number' : 'must be a whole number, 0 or more';
}

/**
 * Whether a threshold is breached by a reading of its metric. A quiet alert fires on `metric op
 * value`; a firing one holds until `metric op resolve_value` fails, so a resolve_value below
 * value keeps a metric hovering at the line from flapping.
 */
export function isThresholdBreached(
  threshold: Pick<Threshold, 'op' | 'value' | 'resolve_value'>,
  reading: { value: number; firing: boolean },
): boolean {
  const line = reading.firing ? threshold.resolve_value : threshold.value;
  return threshold.op === '>' ? reading.value > line : reading.value >= line;
}
