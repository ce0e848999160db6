// Shapes of the /api answers the pages read (see docs/api.md).

/** A role in a project: viewers read, members edit and run workflows, admins manage access. */
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

/** Status of a run. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** Status of one step of a run. */
export type StepStatus =
  'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'canceled';

export interface User {
  id: string;
  email: string;
}

export interface ProjectMembership {
  id: string;
  name: string;
  role: Role;
}

export interface Me {
  user: User;
  csrf_token: string;
  projects: ProjectMembership[];
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface LastRun {
  id: string;
  status: RunStatus;
  created_at: string;
}

export interface Workflow {
  id: string;
  slug: string;
  name: string;
  definition: unknown;
  published_version: number | null;
  webhook: { url: string } | null;
  last_run?: LastRun | null;
  created_at: string;
  updated_at: string;
}

export interface RunError {
  node_id?: string | null;
  type?: string;
  message: string;
}

export interface RunSummary {
  id: string;
  workflow_id: string;
  version: number;
  status: RunStatus;
  error: RunError | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface Step {
  node_id: string;
  status: StepStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  input?: unknown;
  output: unknown;
  error: RunError | null;
}

export interface Run extends RunSummary {
  trigger?: unknown;
  steps: Step[];
}

export interface RunEvent {
  id: string;
  type: string;
  node_id: string | null;
  ts: string;
  payload: unknown;
}

export interface LogLine {
  id: string;
  run_id: string;
  workflow_id: string;
  node_id: string | null;
  ts: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: unknown;
}

export interface Member {
  user_id: string;
  email: string;
  role: Role;
  created_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  token?: string;
  url?: string;
  expires_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

/** One problem of an invalid definition (422 `invalid_definition`). */
export interface DefinitionIssue {
  path: string;
  node_id?: string;
  message: string;
}

/** The width of a metrics bucket. */
export type MetricGrain = 'minute' | 'hour' | 'day';

/** Finished runs of a workflow, a bucket or a project; rates and durations null without runs. */
export interface RunCounts {
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  success_rate: number | null;
  failure_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

/** One bucket of `/api/metrics/buckets` and `/api/metrics/workflow/:id`, from `start` on. */
export interface MetricBucket extends RunCounts {
  start: string;
}

/** The answer of `/api/metrics/buckets` and `/api/metrics/workflow/:id`: every bucket, zero-filled. */
export interface MetricBuckets {
  workflow_id?: string;
  slug?: string;
  name?: string;
  bucket: MetricGrain;
  range: { from: string; to: string };
  buckets: MetricBucket[];
  totals: RunCounts;
}

/** One point of a summary item's sparkline. */
export interface MetricSeriesPoint {
  start: string;
  succeeded: number;
  failed: number;
  canceled: number;
}

/** One workflow of `/api/metrics/workflows/summary`. */
export interface WorkflowMetrics extends RunCounts {
  workflow_id: string;
  slug: string;
  name: string;
  last_run_at: string | null;
  series?: MetricSeriesPoint[];
}

/** The keys `/api/metrics/workflows/summary` sorts by. */
export type MetricsSortKey =
  | 'slug'
  | 'name'
  | 'total'
  | 'succeeded'
  | 'failed'
  | 'canceled'
  | 'success_rate'
  | 'failure_rate'
  | 'p50_ms'
  | 'p95_ms'
  | 'last_run_at';

/** The answer of `/api/metrics/workflows/summary`. */
export interface MetricsSummary {
  range: { from: string; to: string };
  series_bucket?: MetricGrain;
  items: WorkflowMetrics[];
  totals: RunCounts & { workflows: number; last_run_at: string | null };
}

/** Data of `event: runs` on `/api/metrics/stream`: runs finished since the last event. */
export interface FinishedRuns {
  at: string;
  finished: Array<{ workflow_id: string; succeeded: number; failed: number; canceled: number }>;
}

/** Where an error was captured. */
export type ErrorSource = 'worker' | 'webhook' | 'api' | 'web' | 'system';

/** How bad an error is. */
export type ErrorSeverity = 'low' | 'medium' | 'high';

/** Where an issue stands: `regressed` is a resolved issue that came back. */
export type IssueStatus = 'unresolved' | 'resolved' | 'ignored' | 'regressed';

/** The keys `/api/errors` sorts by. */
export type IssueSortKey = 'last_seen' | 'first_seen' | 'count' | 'severity';

/** One issue of `/api/errors`: the errors of one fingerprint, grouped. */
export interface ErrorIssue {
  id: string;
  fingerprint: string;
  title: string;
  source: ErrorSource;
  error_type: string;
  severity: ErrorSeverity;
  status: IssueStatus;
  count: number;
  first_seen: string;
  last_seen: string;
  workflow_id: string | null;
  node_id: string | null;
  regressed_at: string | null;
  status_changed_at: string | null;
}

/** One captured error of an issue. */
export interface ErrorEvent {
  id: string;
  ts: string;
  source: ErrorSource;
  error_type: string;
  severity: ErrorSeverity;
  message: string;
  stack: string | null;
  workflow_id: string | null;
  run_id: string | null;
  node_id: string | null;
  user_id: string | null;
  metadata: unknown;
}

/** The answer of `/api/errors/:id`: the issue, its recent events and the runs it hit. */
export interface ErrorIssueDetail extends ErrorIssue {
  events: ErrorEvent[];
  runs: Array<{ run_id: string; count: number; last_seen: string }>;
}

/** Errors counted by severity, source or type. */
export type ErrorBreakdown = Record<string, number>;

/** One bucket of `/api/error-metrics`, from `start` on. */
export interface ErrorBucket {
  start: string;
  count: number;
  by_severity: ErrorBreakdown;
  by_source: ErrorBreakdown;
  by_type: ErrorBreakdown;
}

/** The answer of `/api/error-metrics`: every bucket of the range, and its totals. */
export interface ErrorMetrics {
  range: { from: string; to: string };
  bucket: MetricGrain;
  buckets: ErrorBucket[];
  totals: {
    total: number;
    by_source: ErrorBreakdown;
    by_type: ErrorBreakdown;
    by_severity: ErrorBreakdown;
    /** Runs that finished in the range, and errors per run (null without runs). */
    runs: number;
    per_run: number | null;
    per_minute: number | null;
  };
}

/** Data of `event: errors` on `/api/errors/stream`: errors of the project were captured. */
export interface CapturedErrors {
  at: string;
  project_id: string;
}

/** Where an alert channel sends: email (SMTP), a signed webhook, Slack, or SMS. */
export type AlertChannelType = 'email' | 'webhook' | 'slack' | 'sms';

/** The config of each channel type, as answers show it (credentials masked). */
export type AlertChannelConfig =
  | { type: 'email'; config: { to: string[] } }
  | { type: 'webhook'; config: { url: string; secret: string | null } }
  | { type: 'slack'; config: { webhook_url: string } }
  | { type: 'sms'; config: { to: string; from: string | null } };

/** One channel of `/api/alerts/channels`, with the outcome of its last delivery. */
export type AlertChannel = AlertChannelConfig & {
  id: string;
  name: string;
  has_secret: boolean;
  created_at: string;
  updated_at: string;
  last_status: 'sent' | 'failed' | null;
  last_attempt_at: string | null;
  last_error: string | null;
  /** Since when every delivery failed; null while the channel works. */
  failing_since: string | null;
};

/** A failure an event rule alerts on. */
export type AlertEventType =
  | 'run_failed'
  | 'step_failed'
  | 'webhook_rejected'
  | 'run_timed_out'
  | 'worker_missing'
  | 'queue_stalled';

/** What a threshold rule measures over its window. */
export type ThresholdMetric =
  'failure_rate' | 'failure_count' | 'consecutive_failures' | 'error_rate';

/** A threshold rule's line: fires while `metric op value` has held for `for`. */
export interface AlertThreshold {
  metric: ThresholdMetric;
  op: '>' | '>=';
  value: number;
  window: string;
  for: string;
  resolve_value: number;
  /** error_rate only: which error events count; null counts all. */
  source: ErrorSource | null;
  type: string | null;
  severity: ErrorSeverity | null;
}

/** How a rule's alerts are grouped and spaced, as duration texts (`30s`, `5m`, `4h`). */
export interface AlertThrottle {
  group_wait: string;
  group_interval: string;
  repeat_interval: string;
}

/** Times of the day a rule's alerts are muted, on a time zone's wall clock. */
export interface AlertQuietHours {
  start: string;
  end: string;
  time_zone: string;
  /** Weekdays, 0 (Sunday) to 6; null is every day. */
  days: number[] | null;
}

/** Where a threshold rule stands; event rules stay `ok`. */
export type AlertRuleState = 'ok' | 'pending' | 'firing';

/** One rule of `/api/alerts/rules`: events or a threshold, its channels, and its state. */
export interface AlertRule {
  id: string;
  name: string;
  workflow_id: string | null;
  kind: 'events' | 'threshold';
  enabled: boolean;
  events: AlertEventType[] | null;
  threshold: AlertThreshold | null;
  channels: string[];
  throttle: AlertThrottle;
  template: string | null;
  quiet_hours: AlertQuietHours | null;
  criticality: 'low' | 'normal' | 'critical';
  state: AlertRuleState;
  state_since: string | null;
  last_value: number | null;
  last_evaluated_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One silence of `/api/alerts/silences`; `active` says whether it mutes alerts now. */
export interface AlertSilence {
  id: string;
  rule_id: string | null;
  workflow_id: string | null;
  starts_at: string;
  ends_at: string;
  comment: string | null;
  created_by: string | null;
  created_at: string;
  active: boolean;
}

/** What became of an alert: `suppressed` held for a later message, `muted` by a silence. */
export type AlertLogStatus = 'pending' | 'sent' | 'failed' | 'suppressed' | 'muted';

/** One try at sending a delivery. */
export interface AlertAttempt {
  attempt: number;
  at: string;
  outcome: 'sent' | 'failed';
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** One row of `/api/alerts/log`: a delivery to a channel, or a failure suppressed or muted. */
export interface AlertLogEntry {
  id: string;
  rule_id: string | null;
  channel_id: string | null;
  event: string;
  status: AlertLogStatus;
  attempts: number;
  last_error: string | null;
  permanent: boolean;
  created_at: string;
  sent_at: string | null;
  /** How many failures the message stands for. */
  covers: number;
  /** A suppressed row's message, once one covered it. */
  covered_by: string | null;
  message_id: string | null;
  /** Why a muted row was muted: `silence <id> until <time>` or `quiet hours until <time>`. */
  reason: string | null;
  workflow_id: string | null;
  run_id: string | null;
  attempt_log: AlertAttempt[];
}

/** One problem of a refused body (422 `details.issues`), at a dotted path. */
export interface FieldProblem {
  path: string;
  message: string;
}
