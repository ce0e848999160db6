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
