// The Alerts pages' vocabulary: channel types, events and metrics in words, what the log's
// address keeps, and the API's field problems placed at their fields. No Svelte here, so it is
// tested on its own. The lists themselves come from src/core/alert-names.ts, the ones the server
// checks against, without the validators.
import {
  ALERT_EVENT_TYPES,
  CHANNEL_TYPES as CORE_CHANNEL_TYPES,
  LOG_STATUSES,
  RATE_METRICS,
  THRESHOLD_METRICS as CORE_METRICS,
  type LogEvent,
} from '../core/alert-names.ts';
import { ApiError } from './api.ts';
import type {
  AlertChannel,
  AlertChannelType,
  AlertEventType,
  AlertLogStatus,
  AlertRule,
  AlertSilence,
  AlertThreshold,
  FieldProblem,
  ThresholdMetric,
} from './types.ts';

/** The channel types, in the order the forms offer them. */
export const CHANNEL_TYPES: ReadonlyArray<{ value: AlertChannelType; label: string }> = (() => {
  const labels: Record<AlertChannelType, string> = {
    email: 'Email',
    webhook: 'Webhook',
    slack: 'Slack',
    sms: 'SMS',
  };
  return CORE_CHANNEL_TYPES.map((value) => ({ value, label: labels[value] }));
})();

/** The failures an event rule alerts on, with their words. */
export const EVENT_TYPES: ReadonlyArray<{ value: AlertEventType; label: string; words: string }> =
  (() => {
    const words: Record<AlertEventType, { label: string; words: string }> = {
      run_failed: { label: 'Run failed', words: 'a run fails' },
      step_failed: { label: 'Step failed', words: 'a step fails' },
      webhook_rejected: { label: 'Webhook rejected', words: 'a webhook delivery is refused' },
      run_timed_out: { label: 'Run timed out', words: 'a run times out' },
      worker_missing: { label: 'Worker missing', words: 'a worker stops answering' },
      queue_stalled: { label: 'Queue stalled', words: 'the queue stalls' },
    };
    return ALERT_EVENT_TYPES.map((value) => ({ value, ...words[value] }));
  })();

/** What a threshold measures; rates are fractions from 0 to 1. */
export const THRESHOLD_METRICS: ReadonlyArray<{
  value: ThresholdMetric;
  label: string;
  rate: boolean;
}> = (() => {
  const labels: Record<ThresholdMetric, string> = {
    failure_rate: 'Failure rate',
    failure_count: 'Failed runs',
    consecutive_failures: 'Failures in a row',
    error_rate: 'Runs with errors',
  };
  return CORE_METRICS.map((value) => ({
    value,
    label: labels[value],
    rate: RATE_METRICS.includes(value),
  }));
})();

export { DEFAULT_THROTTLE, TEMPLATE_PLACEHOLDERS, THRESHOLD_OPS } from '../core/alert-names.ts';
export { LOG_STATUSES };

/** Weekdays as quiet hours number them, 0 (Sunday) to 6. */
export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** What a log row can be about: a failure, a threshold's change, or a test message. */
export const LOG_EVENTS: ReadonlyArray<{ value: string; label: string }> = (() => {
  const notices: Record<Exclude<LogEvent, AlertEventType>, string> = {
    threshold_firing: 'Threshold firing',
    threshold_resolved: 'Threshold resolved',
    test: 'Test message',
  };
  return [
    ...EVENT_TYPES.map(({ value, label }) => ({ value, label })),
    ...Object.entries(notices).map(([value, label]) => ({ value, label })),
  ];
})();

/** An event's label, or the event itself when it is not known here. */
export function eventLabel(event: string): string {
  return LOG_EVENTS.find((e) => e.value === event)?.label ?? event;
}

/** Where a channel sends, credentials as the API masked them. */
export function channelTarget(channel: AlertChannel): string {
  switch (channel.type) {
    case 'email':
      return channel.config.to.join(', ');
    case 'webhook':
      return channel.config.url;
    case 'slack':
      return channel.config.webhook_url;
    case 'sms':
      return channel.config.from
        ? `${channel.config.to} (from ${channel.config.from})`
        : channel.config.to;
  }
}

/** A threshold's value as people read it: rates as percentages ("20%"), counts as they are. */
export function formatMetricValue(metric: ThresholdMetric, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  const rate = THRESHOLD_METRICS.find((m) => m.value === metric)?.rate ?? false;
  return rate ? `${Number((value * 100).toFixed(1))}%` : String(value);
}

/** A threshold in words: "Failure rate over 5m > 20%, for 2m; resolves at 10%". */
export function describeThreshold(t: AlertThreshold): string {
  const metric = THRESHOLD_METRICS.find((m) => m.value === t.metric)?.label ?? t.metric;
  const op = t.op === '>=' ? '≥' : '>';
  let words = `${metric} over ${t.window} ${op} ${formatMetricValue(t.metric, t.value)}`;
  if (t.for && t.for !== '0s') words += `, for ${t.for}`;
  if (t.resolve_value !== t.value)
    words += `; resolves at ${formatMetricValue(t.metric, t.resolve_value)}`;
  return words;
}

/** What a rule alerts on, in words: "When a run fails or a step fails", or its threshold. */
export function describeTrigger(rule: Pick<AlertRule, 'events' | 'threshold'>): string {
  if (rule.threshold) return describeThreshold(rule.threshold);
  const words = (rule.events ?? []).map((e) => EVENT_TYPES.find((t) => t.value === e)?.words ?? e);
  if (words.length === 0) return 'No events';
  const last = words.pop()!;
  return `When ${words.length > 0 ? `${words.join(', ')} or ${last}` : last}`;
}

/** The log's filters, as kept in the page's address; empty is every one. */
export interface LogView {
  status: AlertLogStatus | '';
  rule: string;
  channel: string;
  event: string;
  workflow: string;
  run: string;
}

const LOG_KEYS = ['status', 'rule', 'channel', 'event', 'workflow', 'run'] as const;

/** The filters an address asks for; an unknown status or event is no filter. */
export function readLogView(params: { get(name: string): string | null }): LogView {
  const text = (key: string) => params.get(key)?.trim() ?? '';
  const status = text('status');
  const event = text('event');
  return {
    status: (LOG_STATUSES as readonly string[]).includes(status) ? (status as AlertLogStatus) : '',
    rule: text('rule'),
    channel: text('channel'),
    event: LOG_EVENTS.some((e) => e.value === event) ? event : '',
    workflow: text('workflow'),
    run: text('run'),
  };
}

/** The address parameters of a view, in a stable order, empty ones left out. */
export function logViewParams(view: LogView): Record<string, string> {
  const params: Record<string, string> = {};
  for (const key of LOG_KEYS) if (view[key]) params[key] = view[key];
  return params;
}

/** Why a muted row was muted, read from the engine's reason. */
export type MuteReason =
  | { kind: 'silence'; silenceId: string; until: string }
  | { kind: 'quiet_hours'; until: string | undefined }
  | { kind: 'other'; text: string };

/** Reads `silence <id> until <time>` and `quiet hours until <time>` (src/engine/alerts). */
export function readMuteReason(reason: string | null): MuteReason | undefined {
  if (!reason) return undefined;
  const silence = /^silence ([0-9a-f-]{36}) until (\S+)$/i.exec(reason);
  if (silence) return { kind: 'silence', silenceId: silence[1]!, until: silence[2]! };
  const quiet = /^quiet hours(?: until (\S+))?$/.exec(reason);
  if (quiet) return { kind: 'quiet_hours', until: quiet[1] };
  return { kind: 'other', text: reason };
}

/** Whether a silence mutes now or will: the ones to show first, with an End button. */
export function isCurrentSilence(silence: AlertSilence, now: number = Date.now()): boolean {
  return silence.active || Date.parse(silence.ends_at) > now;
}

/** How long until a time: "in 45 s", "in 12 min", "in 3 h", "in 2 d"; "now" once it passed. */
export function formatUntil(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds <= 0) return 'now';
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} d`;
}

/** The problems of a refused body (422 with `details.issues`), or undefined for other errors. */
export function problemsOf(error: unknown): FieldProblem[] | undefined {
  if (!(error instanceof ApiError) || error.status !== 422) return undefined;
  const issues = error.details.issues;
  if (!Array.isArray(issues)) return undefined;
  return issues.filter(
    (i): i is FieldProblem =>
      typeof i === 'object' &&
      i !== null &&
      typeof (i as FieldProblem).path === 'string' &&
      typeof (i as FieldProblem).message === 'string',
  );
}

/** Whether a problem's path is a field's or inside it (`config.to[1]` is inside `config.to`). */
const within = (path: string, field: string) =>
  path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`);

/**
 * The messages to show beside a field: its own problems, and those of its parts with the part
 * named (`config.to[1]` beside `config.to` reads "item 2: must be an email address").
 */
export function problemsAt(problems: readonly FieldProblem[], field: string): string[] {
  return problems
    .filter((p) => within(p.path, field))
    .map((p) => {
      const rest = p.path.slice(field.length);
      if (rest === '') return p.message;
      const index = /^\[(\d+)\]/.exec(rest);
      if (index) return `item ${Number(index[1]) + 1}: ${p.message}`;
      return `${rest.replace(/^\./, '')}: ${p.message}`;
    });
}

/** The problems no shown field holds, to list above the form so none goes unseen. */
export function problemsElsewhere(
  problems: readonly FieldProblem[],
  fields: readonly string[],
): FieldProblem[] {
  return problems.filter((p) => !fields.some((field) => within(p.path, field)));
}

/** The browser's IANA time zones, UTC first, with `current` in the list whatever it is. */
export function timeZones(current?: string): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    // an old browser: the select still offers UTC and the rule's own zone
  }
  const all = ['UTC', ...zones.filter((z) => z !== 'UTC')];
  if (current && !all.includes(current)) all.push(current);
  return all;
}

/** The browser's own time zone, the default of new quiet hours. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
