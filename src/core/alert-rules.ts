// Alert rules as the API receives them (`POST /api/alerts/rules`), checked and normalised once
// so the dispatchers and the threshold evaluator read defaults and milliseconds, never raw text.

import { z } from 'zod';
import {
  ALERT_EVENT_TYPES,
  CRITICALITIES,
  DEFAULT_THROTTLE,
  TEMPLATE_PLACEHOLDERS,
  type AlertEventType,
  type Criticality,
  type Throttle,
} from './alert-names.ts';
import { validateThreshold, type Threshold } from './alert-thresholds.ts';
import { checkFields, durationField, oneOf, type FieldProblem } from './field-problems.ts';
import { canonicalTimeZone, parseClock, type QuietHours } from './quiet-hours.ts';
import { err, ok, type Result } from './result.ts';

export type { FieldProblem } from './field-problems.ts';
export {
  RATE_METRICS,
  THRESHOLD_METRICS,
  THRESHOLD_OPS,
  isThresholdBreached,
  type Threshold,
  type ThresholdMetric,
  type ThresholdOp,
} from './alert-thresholds.ts';
export {
  CHANNEL_TYPES,
  channelSecrets,
  validateChannel,
  type AlertChannel,
  type ChannelType,
} from './alert-channels.ts';

export {
  ALERT_EVENT_TYPES,
  CRITICALITIES,
  DEFAULT_THROTTLE,
  TEMPLATE_PLACEHOLDERS,
  type AlertEventType,
  type Criticality,
  type Throttle,
} from './alert-names.ts';

/** Longest template, in characters. */
export const MAX_TEMPLATE_LENGTH = 2_000;
/** Most channels one rule sends to. */
export const MAX_RULE_CHANNELS = 10;

/** A validated alert rule, defaults applied. Exactly one of `events` and `threshold` is set. */
export type AlertRule = {
  name: string;
  /** The workflow it watches; null watches every workflow of the project. */
  workflow_id: string | null;
  /** Channel ids, lower-case, without duplicates, 1..10. */
  channels: string[];
  throttle: Throttle;
  template: string | null;
  quiet_hours: (QuietHours & { days: number[] | null }) | null;
  criticality: Criticality;
  enabled: boolean;
} & ({ events: AlertEventType[]; threshold: null } | { events: null; threshold: Threshold });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uuid = z
  .string({ error: 'must be a UUID' })
  .regex(UUID, 'must be a UUID')
  .transform((id) => id.toLowerCase());

const name = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters');

const throttleShape = {
  group_wait: durationField('0s', '1h').prefault(DEFAULT_THROTTLE.group_wait),
  group_interval: durationField('0s', '1d').prefault(DEFAULT_THROTTLE.group_interval),
  repeat_interval: durationField('1m', '7d').prefault(DEFAULT_THROTTLE.repeat_interval),
};

const clock = z
  .string({ error: 'must be a time HH:MM' })
  .refine((text) => parseClock(text) !== undefined, 'must be a time HH:MM from 00:00 to 23:59');

const quietHoursShape = {
  start: clock,
  end: clock,
  time_zone: z
    .string({ error: 'must be an IANA time zone such as Europe/Paris' })
    .transform((zone, ctx) => {
      const canonical = canonicalTimeZone(zone);
      if (canonical === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Europe/Paris' });
        return z.NEVER;
      }
      return canonical;
    }),
  days: z
    .array(
      z
        .number({ error: 'must be a weekday, 0 (Sunday) to 6 (Saturday)' })
        .int('must be a weekday, 0 (Sunday) to 6 (Saturday)')
        .min(0, 'must be a weekday, 0 (Sunday) to 6 (Saturday)')
        .max(6, 'must be a weekday, 0 (Sunday) to 6 (Saturday)'),
      { error: 'must be a list of weekdays, 0 (Sunday) to 6 (Saturday)' },
    )
    .min(1, 'must name at least one day; leave it out for every day')
    .transform((days) => [...new Set(days)].sort((a, b) => a - b))
    .optional(),
};

const placeholder = /\{\{([^{}]*)\}\}/g;

const ruleShape = {
  name,
  workflow_id: uuid.nullable().default(null),
  events: z
    .array(oneOf(ALERT_EVENT_TYPES), { error: 'must be a list of event types' })
    .min(1, 'must name at least one event type')
    .transform((events) => [...new Set(events)])
    .nullish(),
  threshold: z.unknown(),
  channels: z
    .array(uuid, { error: 'must be a list of channel ids' })
    .min(1, 'must name at least one channel')
    .max(MAX_RULE_CHANNELS, `must name at most ${MAX_RULE_CHANNELS} channels`)
    .transform((ids) => [...new Set(ids)]),
  throttle: z.unknown(),
  template: z
    .string({ error: 'must be a string' })
    .max(MAX_TEMPLATE_LENGTH, `must be at most ${MAX_TEMPLATE_LENGTH} characters`)
    .superRefine((text, ctx) => {
      for (const [, inner] of text.matchAll(placeholder)) {
        const key = inner!.trim();
        if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(key)) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown placeholder {{${key}}}; known: ${TEMPLATE_PLACEHOLDERS.join(', ')}`,
          });
        }
      }
    })
    .nullable()
    .default(null),
  quiet_hours: z.unknown(),
  criticality: oneOf(CRITICALITIES).default('normal'),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
};

/**
 * Checks the body of `POST`/`PUT /api/alerts/rules` and normalises it: defaults filled in
 * (throttle 30s/5m/4h, `for` 0s, resolve_value = value, criticality normal, enabled), durations
 * also in ms, ids lower-case, lists without duplicates, the time zone's canonical name. Every
 * problem is reported at once, each with a dotted path (`threshold.window`, `channels[2]`).
 *
 * @example
 * const result = validateRule({ name: 'Orders down', workflow_id: null, events: ['run_failed'], channels: [id] });
 * if (!result.ok) throw new AppError('validation_failed', 'invalid rule', { issues: result.error });
 */
export function validateRule(input: unknown): Result<AlertRule, FieldProblem[]> {
  const { values, problems } = checkFields(input, { shape: ruleShape, at: '' });
  if (!values) return err(problems);

  // null reads as absent, so a rule read back (events or threshold null) can be sent again.
  const raw = input as Record<string, unknown>;
  const hasEvents = raw.events !== undefined && raw.events !== null;
  const hasThreshold = values.threshold !== undefined && values.threshold !== null;
  if (hasEvents === hasThreshold) {
    problems.push({
      path: hasEvents ? 'threshold' : 'events',
      message: hasEvents
        ? 'give either events or threshold, not both'
        : 'give either events (a list of event types) or a threshold',
    });
  }
  const checked = hasThreshold ? validateThreshold(values.threshold, 'threshold') : undefined;
  if (checked) problems.push(...checked.problems);
  const threshold = checked?.threshold;
  const throttle =
    values.throttle === undefined ? DEFAULT_THROTTLE : checkThrottle(values.throttle, problems);
  const quietHours =
    values.quiet_hours === undefined || values.quiet_hours === null
      ? null
      : checkQuietHours(values.quiet_hours, problems);
  if (problems.length > 0) return err(problems);

  const common = {
    name: values.name!,
    workflow_id: values.workflow_id!,
    channels: values.channels!,
    throttle: throttle!,
    template: values.template!,
    quiet_hours: quietHours!,
    criticality: values.criticality!,
    enabled: values.enabled!,
  };
  return ok(
    values.events
      ? { ...common, events: values.events, threshold: null }
      : { ...common, events: null, threshold: threshold! },
  );
}

function checkThrottle(input: unknown, problems: FieldProblem[]): Throttle | undefined {
  const { values: t, problems: found } = checkFields(input, {
    shape: throttleShape,
    at: 'throttle',
  });
  problems.push(...found);
  if (!t) return undefined;
  if (t.repeat_interval && t.group_interval && t.repeat_interval.ms < t.group_interval.ms) {
    problems.push({
      path: 'throttle.repeat_interval',
      message: `must be at least group_interval (${t.group_interval.text})`,
    });
  }
  if (!t.group_wait || !t.group_interval || !t.repeat_interval) return undefined;
  return {
    group_wait: t.group_wait.text,
    group_wait_ms: t.group_wait.ms,
    group_interval: t.group_interval.text,
    group_interval_ms: t.group_interval.ms,
    repeat_interval: t.repeat_interval.text,
    repeat_interval_ms: t.repeat_interval.ms,
  };
}

function checkQuietHours(
  input: unknown,
  problems: FieldProblem[],
): AlertRule['quiet_hours'] | undefined {
  const { values: q, problems: found } = checkFields(input, {
    shape: quietHoursShape,
    at: 'quiet_hours',
  });
  problems.push(...found);
  if (!q) return undefined;
  if (q.start !== undefined && q.start === q.end) {
    problems.push({ path: 'quiet_hours.end', message: 'must differ from start' });
  }
  if (!q.start || !q.end || !q.time_zone || found.length > 0) return undefined;
  return { start: q.start, end: q.end, time_zone: q.time_zone, days: q.days ?? null };
}

/** A failure that event rules may alert on. */
export interface FailureEvent {
  type: AlertEventType;
  /** The workflow it happened in; null for failures of no workflow (worker_missing, queue_stalled). */
  workflowId: string | null;
  runId?: string | null;
  nodeId?: string | null;
}

/**
 * Whether an enabled event rule covers a failure: the rule lists the event's type and watches
 * its workflow, or every workflow (`workflow_id` null). A failure of no workflow is only covered
 * by rules of every workflow. Threshold rules and disabled rules cover no event.
 */
export function matchesEvent(
  rule: Pick<AlertRule, 'workflow_id' | 'events' | 'enabled'>,
  event: FailureEvent,
): boolean {
  if (!rule.enabled || !rule.events || !rule.events.includes(event.type)) return false;
  if (rule.workflow_id === null) return true;
  return (
    event.workflowId !== null && rule.workflow_id.toLowerCase() === event.workflowId.toLowerCase()
  );
}
