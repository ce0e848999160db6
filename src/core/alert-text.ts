// The words of an alert, shared by every channel: its title, its one-line summary (the rule's
// template or the default for its type), the "and N more failures" tail and the detail lines.
// Each channel starts from prepareAlert, which runs every string through the redactor, so no
// formatter can forget to: a secret in an error message never reaches a renderer.

import type {
  AlertEventType,
  TEMPLATE_PLACEHOLDERS,
  ThresholdMetric,
  ThresholdOp,
} from './alert-rules.ts';
import { RATE_METRICS } from './alert-rules.ts';
import { MAX_MESSAGE_LENGTH } from './error-events.ts';
import { createRedactor, type RedactOptions } from './redact.ts';
import { truncate } from './safe-value.ts';

/** What a delivered alert is about, as its webhook `type` says. */
export const ALERT_PAYLOAD_TYPES = [
  'run_failed',
  'step_failed',
  'webhook_rejected',
  'run_timed_out',
  'worker_missing',
  'queue_stalled',
  'threshold_firing',
  'threshold_resolved',
  'test',
] as const;
/** What a delivered alert is about. */
export type AlertPayloadType = (typeof ALERT_PAYLOAD_TYPES)[number];

/** A threshold alert's reading: the metric's value against the rule's line. */
export interface ThresholdReading {
  metric: ThresholdMetric;
  /** The comparison that fired; default `>`. */
  op?: ThresholdOp;
  /** The metric's value (a fraction for rates). */
  value: number;
  /** The rule's line (its value, or its resolve_value for a resolved alert). */
  threshold: number;
  state: 'firing' | 'resolved';
  /** The rule's window, e.g. `5m`. */
  window?: string;
}

/** One alert to deliver: a failure event (or a batch of them), a threshold change or a test. */
export type Alert = {
  project: { id: string; name?: string | null };
  workflow?: { id: string; slug: string } | null;
  run?: { id: string; url: string } | null;
  node_id?: string | null;
  error?: { type: string; message: string } | null;
  attempts?: number | null;
  /** How many failures this message summarises (≥ 1); the others read "and N more failures". */
  covers: number;
  rule?: { id: string; name: string } | null;
  at: Date;
} & (
  | { type: AlertEventType | 'test'; threshold?: null }
  | { type: 'threshold'; threshold: ThresholdReading }
);

/** Options every renderer takes. */
export interface MessageOptions {
  /** The rule's template for the summary; absent or null: the default of the alert's type. */
  template?: string | null;
  /** Secrets to mask beyond the built-in rules: the project's secrets, the channel's own. */
  redact?: RedactOptions;
}

/** An alert with every string redacted and every optional part filled, ready to render. */
export interface SafeAlert {
  type: AlertPayloadType;
  project: { id: string; name: string | null };
  workflow: { id: string; slug: string } | null;
  run: { id: string; url: string } | null;
  node_id: string | null;
  error: { type: string; message: string } | null;
  attempts: number | null;
  covers: number;
  rule: { id: string; name: string } | null;
  at: string;
  threshold: (Required<Omit<ThresholdReading, 'window'>> & { window: string | null }) | null;
  /** Masks the text a renderer adds of its own (a template's literal text). */
  mask: (text: string) => string;
}

/** Runs every string of an alert through the redactor and caps the error message (4,000 characters). */
export function prepareAlert(alert: Alert, options?: MessageOptions): SafeAlert {
  const { text } = createRedactor(options?.redact);
  const covers = Number.isInteger(alert.covers) && alert.covers > 0 ? alert.covers : 1;
  return {
    type: alert.type === 'threshold' ? `threshold_${alert.threshold.state}` : alert.type,
    project: { id: text(alert.project.id), name: orNull(alert.project.name, text) },
    workflow: alert.workflow
      ? { id: text(alert.workflow.id), slug: text(alert.workflow.slug) }
      : null,
    run: alert.run ? { id: text(alert.run.id), url: text(alert.run.url) } : null,
    node_id: orNull(alert.node_id, text),
    error: alert.error
      ? {
          type: text(alert.error.type),
          message: truncate(text(alert.error.message), MAX_MESSAGE_LENGTH),
        }
      : null,
    attempts: alert.attempts ?? null,
    covers,
    rule: alert.rule ? { id: text(alert.rule.id), name: text(alert.rule.name) } : null,
    at: alert.at.toISOString(),
    threshold:
      alert.type === 'threshold'
        ? {
            metric: alert.threshold.metric,
            op: alert.threshold.op ?? '>',
            value: alert.threshold.value,
            threshold: alert.threshold.threshold,
            state: alert.threshold.state,
            window: orNull(alert.threshold.window, text),
          }
        : null,
    mask: text,
  };
}

function orNull(value: string | null | undefined, text: (s: string) => string): string | null {
  return value === undefined || value === null ? null : text(value);
}

/** A metric's value as people read it: rates in percent (`12.5%`), counts as they are. */
export function formatMetric(metric: ThresholdMetric, value: number): string {
  if (!RATE_METRICS.includes(metric)) return String(value);
  return `${Number((value * 100).toFixed(1))}%`;
}

/** "and 37 more failures" for a message covering 38; empty for one covering 1. */
export function moreFailures(covers: number): string {
  const more = covers - 1;
  if (more < 1) return '';
  return `and ${more} more ${more === 1 ? 'failure' : 'failures'}`;
}

type Placeholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

function placeholderValues(a: SafeAlert): Map<string, string> {
  const t = a.threshold;
  const values: Record<Placeholder, string> = {
    type: a.type,
    'project.id': a.project.id,
    'workflow.id': a.workflow?.id ?? '',
    'workflow.slug': a.workflow?.slug ?? '',
    'run.id': a.run?.id ?? '',
    'run.url': a.run?.url ?? '',
    node_id: a.node_id ?? '',
    'error.type': a.error?.type ?? '',
    'error.message': a.error?.message ?? '',
    attempts: a.attempts === null ? '' : String(a.attempts),
    covers: String(a.covers),
    more: moreFailures(a.covers),
    'rule.id': a.rule?.id ?? '',
    'rule.name': a.rule?.name ?? '',
    at: a.at,
    'threshold.metric': t?.metric ?? '',
    'threshold.op': t?.op ?? '',
    'threshold.value': t ? formatMetric(t.metric, t.value) : '',
    'threshold.threshold': t ? formatMetric(t.metric, t.threshold) : '',
    'threshold.state': t?.state ?? '',
  };
  // A Map, not an object lookup: `{{constructor}}` must find nothing, not a prototype's function.
  return new Map(Object.entries(values));
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/**
 * Fills `{{name}}` placeholders (spaces inside the braces allowed) from a prepared alert. An
 * unknown name becomes the empty string; nothing is evaluated, so a template can only ever
 * produce text. The result is masked once more: the template's own text may hold a secret, and
 * a value next to literal text may complete one ("Bearer {{run.id}}").
 */
export function renderSafe(template: string, alert: SafeAlert): string {
  const values = placeholderValues(alert);
  return alert.mask(
    template.replace(PLACEHOLDER, (_, name: string) => values.get(name.trim()) ?? ''),
  );
}

/** The summary used when a rule has no template, per alert type. */
export const DEFAULT_TEMPLATES: Readonly<Record<AlertPayloadType, string>> = Object.freeze({
  run_failed:
    '{{workflow.slug}}: run {{run.id}} failed at step {{node_id}} with {{error.type}}: {{error.message}}',
  step_failed:
    '{{workflow.slug}}: step {{node_id}} failed after {{attempts}} attempts with {{error.type}}: {{error.message}}',
  webhook_rejected:
    '{{workflow.slug}}: a webhook delivery was rejected with {{error.type}}: {{error.message}}',
  run_timed_out:
    '{{workflow.slug}}: run {{run.id}} timed out at step {{node_id}}: {{error.message}}',
  worker_missing: 'A worker stopped reporting: {{error.message}}',
  queue_stalled: 'The queue is stalled: {{error.message}}',
  threshold_firing:
    '{{rule.name}}: {{threshold.metric}} is {{threshold.value}} ({{threshold.op}} {{threshold.threshold}})',
  threshold_resolved:
    '{{rule.name}}: {{threshold.metric}} is back to {{threshold.value}} (threshold {{threshold.threshold}})',
  test: 'Test alert from MeshHook: this channel works.',
});

const TITLES: Readonly<Record<AlertPayloadType, string>> = {
  run_failed: 'Run failed: {{workflow.slug}}',
  step_failed: 'Step failed: {{workflow.slug}}',
  webhook_rejected: 'Webhook rejected: {{workflow.slug}}',
  run_timed_out: 'Run timed out: {{workflow.slug}}',
  worker_missing: 'Worker missing',
  queue_stalled: 'Queue stalled',
  threshold_firing: 'Firing: {{rule.name}}',
  threshold_resolved: 'Resolved: {{rule.name}}',
  test: 'Test alert',
};

// Built-in texts may meet an absent field (a worker_missing without an error message); a dangling
// separator is dropped rather than shown.
function tidy(text: string): string {
  // A loop, not /[\s:]+$/: that pattern retries from every space of a long message.
  let end = text.length;
  while (end > 0 && /[\s:]/.test(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** The alert's title, one short line: "Run failed: orders". */
export function titleOf(alert: SafeAlert): string {
  return tidy(renderSafe(TITLES[alert.type], alert));
}

/**
 * The alert's summary: the template (or the type's default) filled in, followed by "(and N more
 * failures)" when it covers several, unless the template places `{{more}}` or `{{covers}}` itself.
 */
export function summaryOf(alert: SafeAlert, template?: string | null): string {
  const own = template !== undefined && template !== null && template.trim() !== '';
  const text = own
    ? renderSafe(template, alert).trim()
    : tidy(renderSafe(DEFAULT_TEMPLATES[alert.type], alert));
  const placesCount = own && /\{\{\s*(more|covers)\s*\}\}/.test(template);
  const more = moreFailures(alert.covers);
  return more === '' || placesCount ? text : `${text} (${more})`;
}

/** The alert's details as label/value lines, in reading order, absent parts left out. */
export function detailsOf(alert: SafeAlert): Array<[label: string, value: string]> {
  const lines: Array<[string, string]> = [];
  if (alert.workflow) lines.push(['Workflow', alert.workflow.slug]);
  if (alert.run) lines.push(['Run', alert.run.id]);
  if (alert.node_id !== null) lines.push(['Step', alert.node_id]);
  if (alert.error) lines.push(['Error', alert.error.type]);
  if (alert.attempts !== null) lines.push(['Attempts', String(alert.attempts)]);
  if (alert.threshold) {
    const t = alert.threshold;
    lines.push(['Metric', t.window ? `${t.metric} over ${t.window}` : t.metric]);
    lines.push(['Value', formatMetric(t.metric, t.value)]);
    lines.push(['Threshold', `${t.op} ${formatMetric(t.metric, t.threshold)}`]);
  }
  if (alert.covers > 1) lines.push(['Failures', String(alert.covers)]);
  if (alert.rule) lines.push(['Rule', alert.rule.name]);
  lines.push(['At', alert.at]);
  return lines;
}

/** The run's URL when it is a web address (http or https), for links; else undefined. */
export function runUrlOf(alert: SafeAlert): string | undefined {
  const url = alert.run?.url;
  if (url === undefined || !URL.canParse(url)) return undefined;
  return /^https?:$/.test(new URL(url).protocol) ? url : undefined;
}
