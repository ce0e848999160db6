// The alerts' vocabulary: channel types, events, metrics, placeholders and the default throttle.
// Plain constants without zod, so the pages import the very lists the validators check against
// and the browser bundle does not carry the validators.

/** Where alerts go. */
export const CHANNEL_TYPES = ['email', 'webhook', 'slack', 'sms'] as const;
/** Where alerts go. */
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** Failures an event rule can alert on, one event each. */
export const ALERT_EVENT_TYPES = [
  'run_failed',
  'step_failed',
  'webhook_rejected',
  'run_timed_out',
  'worker_missing',
  'queue_stalled',
] as const;
/** A failure an event rule can alert on. */
export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

/** How much a rule's alerts matter; how it is used (paging, quiet hours) is the dispatcher's call. */
export const CRITICALITIES = ['low', 'normal', 'critical'] as const;
/** How much a rule's alerts matter. */
export type Criticality = (typeof CRITICALITIES)[number];

/**
 * What a threshold rule measures over its window: `failure_rate` failed runs / finished runs,
 * `failure_count` failed runs, `consecutive_failures` the current streak of failed runs,
 * `error_rate` the share of runs with an error event matching the rule's source/type/severity.
 */
export const THRESHOLD_METRICS = [
  'failure_rate',
  'failure_count',
  'consecutive_failures',
  'error_rate',
] as const;
/** What a threshold rule measures. */
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

/** The metrics that are fractions in 0..1; the others are counts. */
export const RATE_METRICS: readonly ThresholdMetric[] = ['failure_rate', 'error_rate'];

/** How a threshold compares the metric with its value. */
export const THRESHOLD_OPS = ['>', '>='] as const;
/** How a threshold compares the metric with its value. */
export type ThresholdOp = (typeof THRESHOLD_OPS)[number];

/** The placeholders a rule's template may use (see renderTemplate in alert-message.ts). */
export const TEMPLATE_PLACEHOLDERS = [
  'type',
  'project.id',
  'workflow.id',
  'workflow.slug',
  'run.id',
  'run.url',
  'node_id',
  'error.type',
  'error.message',
  'attempts',
  'covers',
  'more',
  'rule.id',
  'rule.name',
  'at',
  'threshold.metric',
  'threshold.op',
  'threshold.value',
  'threshold.threshold',
  'threshold.state',
] as const;

/** How a rule's alerts are grouped and spaced (Alertmanager's three timers), text and ms. */
export interface Throttle {
  /** How long the first failure of a quiet group waits for others to join its message. */
  group_wait: string;
  group_wait_ms: number;
  /** The least time between two messages of one group. */
  group_interval: string;
  group_interval_ms: number;
  /** After how long an unchanged firing threshold alert is sent again. */
  repeat_interval: string;
  repeat_interval_ms: number;
}

/** Alertmanager's defaults: 30s, 5m, 4h. */
export const DEFAULT_THROTTLE: Throttle = Object.freeze({
  group_wait: '30s',
  group_wait_ms: 30_000,
  group_interval: '5m',
  group_interval_ms: 300_000,
  repeat_interval: '4h',
  repeat_interval_ms: 14_400_000,
});

/** What an alert log row can be about: a failure, a threshold's change, or a test message. */
export const LOG_EVENTS = [
  ...ALERT_EVENT_TYPES,
  'threshold_firing',
  'threshold_resolved',
  'test',
] as const;
/** What an alert log row can be about. */
export type LogEvent = (typeof LOG_EVENTS)[number];

/** The statuses the alert log shows; `sending` (a delivery being sent) reads as `pending`. */
export const LOG_STATUSES = ['pending', 'sent', 'failed', 'suppressed', 'muted'] as const;
/** A status the alert log shows. */
export type LogStatus = (typeof LOG_STATUSES)[number];
