// What the channel and rule forms hold, and the API bodies made from it. The forms send what
// was typed and let the API judge it: its 422 names each bad field, which the forms show there.
import { DEFAULT_THROTTLE, THRESHOLD_METRICS } from './alerts.ts';
import type {
  AlertChannel,
  AlertChannelType,
  AlertEventType,
  AlertRule,
  ThresholdMetric,
} from './types.ts';

/** The channel form's fields, for every type at once, so switching type keeps what was typed. */
export interface ChannelDraft {
  name: string;
  type: AlertChannelType;
  /** Email recipients, separated by commas, spaces or lines. */
  recipients: string;
  url: string;
  /** The webhook's signing secret; a masked one sent back unchanged keeps the stored secret. */
  secret: string;
  /** The Slack webhook URL; masked when read, and kept when sent back so. */
  slackUrl: string;
  phone: string;
  from: string;
}

/** The form of a new channel, or of an existing one as the API showed it. */
export function channelDraft(channel?: AlertChannel): ChannelDraft {
  const draft: ChannelDraft = {
    name: channel?.name ?? '',
    type: channel?.type ?? 'webhook',
    recipients: '',
    url: '',
    secret: '',
    slackUrl: '',
    phone: '',
    from: '',
  };
  switch (channel?.type) {
    case 'email':
      draft.recipients = channel.config.to.join(', ');
      break;
    case 'webhook':
      draft.url = channel.config.url;
      draft.secret = channel.config.secret ?? '';
      break;
    case 'slack':
      draft.slackUrl = channel.config.webhook_url;
      break;
    case 'sms':
      draft.phone = channel.config.to;
      draft.from = channel.config.from ?? '';
      break;
  }
  return draft;
}

const orNull = (text: string): string | null => (text.trim() === '' ? null : text.trim());

/** The body of `POST`/`PUT /api/alerts/channels` for a draft: its type's config only. */
export function channelBody(draft: ChannelDraft): {
  name: string;
  type: AlertChannelType;
  config: Record<string, unknown>;
} {
  const config = (): Record<string, unknown> => {
    switch (draft.type) {
      case 'email':
        return { to: draft.recipients.split(/[\s,;]+/).filter((a) => a !== '') };
      case 'webhook':
        return { url: draft.url.trim(), secret: orNull(draft.secret) };
      case 'slack':
        return { webhook_url: draft.slackUrl.trim() };
      case 'sms':
        return { to: draft.phone.trim(), from: orNull(draft.from) };
    }
  };
  return { name: draft.name, type: draft.type, config: config() };
}

/** The rule form's fields: both kinds at once, so switching kind keeps what was typed. */
export interface RuleDraft {
  name: string;
  /** A workflow id, or '' for every workflow. */
  workflowId: string;
  kind: 'events' | 'threshold';
  events: AlertEventType[];
  metric: ThresholdMetric;
  op: '>' | '>=';
  value: string;
  window: string;
  for: string;
  /** '' resolves at `value`. */
  resolveValue: string;
  /** error_rate's filters, '' for all. */
  source: string;
  errorType: string;
  severity: string;
  channels: string[];
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  template: string;
  quiet: boolean;
  quietStart: string;
  quietEnd: string;
  timeZone: string;
  days: number[];
  enabled: boolean;
  criticality: AlertRule['criticality'];
}

const EVERY_DAY = [0, 1, 2, 3, 4, 5, 6];

/** The form of a new rule (`timeZone` for its quiet hours), or of an existing one. */
export function ruleDraft(rule: AlertRule | undefined, options: { timeZone: string }): RuleDraft {
  const t = rule?.threshold;
  const q = rule?.quiet_hours;
  return {
    name: rule?.name ?? '',
    workflowId: rule?.workflow_id ?? '',
    kind: rule?.kind ?? 'events',
    events: rule?.events ?? ['run_failed'],
    metric: t?.metric ?? 'failure_rate',
    op: t?.op ?? '>',
    value: t ? String(t.value) : '',
    window: t?.window ?? '5m',
    for: t?.for ?? '0s',
    resolveValue: t && t.resolve_value !== t.value ? String(t.resolve_value) : '',
    source: t?.source ?? '',
    errorType: t?.type ?? '',
    severity: t?.severity ?? '',
    channels: rule?.channels ?? [],
    groupWait: rule?.throttle.group_wait ?? DEFAULT_THROTTLE.group_wait,
    groupInterval: rule?.throttle.group_interval ?? DEFAULT_THROTTLE.group_interval,
    repeatInterval: rule?.throttle.repeat_interval ?? DEFAULT_THROTTLE.repeat_interval,
    template: rule?.template ?? '',
    quiet: Boolean(q),
    quietStart: q?.start ?? '22:00',
    quietEnd: q?.end ?? '07:00',
    timeZone: q?.time_zone ?? options.timeZone,
    days: q?.days ?? EVERY_DAY,
    enabled: rule?.enabled ?? true,
    criticality: rule?.criticality ?? 'normal',
  };
}

/**
 * A number field's value for the API: the number typed, left out when empty, else the text
 * itself, so the API names the field ("must be a number") instead of the form guessing.
 */
export function numberField(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : trimmed;
}

/** The body of `POST`/`PUT /api/alerts/rules` for a draft. */
export function ruleBody(draft: RuleDraft): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: draft.name,
    workflow_id: draft.workflowId || null,
    channels: draft.channels,
    throttle: {
      group_wait: draft.groupWait.trim(),
      group_interval: draft.groupInterval.trim(),
      repeat_interval: draft.repeatInterval.trim(),
    },
    template: draft.template.trim() === '' ? null : draft.template,
    quiet_hours: draft.quiet
      ? {
          start: draft.quietStart,
          end: draft.quietEnd,
          time_zone: draft.timeZone,
          // Every day is said by leaving the days out; none at all is the API's to refuse.
          ...(draft.days.length === 7 ? {} : { days: [...draft.days].sort((a, b) => a - b) }),
        }
      : null,
    criticality: draft.criticality,
    enabled: draft.enabled,
  };
  if (draft.kind === 'events') {
    body.events = draft.events;
    return body;
  }
  const errorRate = draft.metric === 'error_rate';
  const threshold: Record<string, unknown> = {
    metric: draft.metric,
    op: draft.op,
    value: numberField(draft.value),
    window: draft.window.trim(),
    for: draft.for.trim() || '0s',
    resolve_value: numberField(draft.resolveValue),
    ...(errorRate && draft.source ? { source: draft.source } : {}),
    ...(errorRate && draft.errorType.trim() ? { type: draft.errorType.trim() } : {}),
    ...(errorRate && draft.severity ? { severity: draft.severity } : {}),
  };
  body.threshold = Object.fromEntries(Object.entries(threshold).filter(([, v]) => v !== undefined));
  return body;
}

/** Whether a metric is a fraction from 0 to 1 (the value field says so). */
export const isRateMetric = (metric: ThresholdMetric): boolean =>
  THRESHOLD_METRICS.find((m) => m.value === metric)?.rate ?? false;
