// The Errors pages' view of issues: what the address keeps (filters, sort, grouping), the chart's
// series and figures in words. No Svelte here, so it is tested on its own.
import { api } from './api.ts';
import type {
  ErrorBucket,
  ErrorIssue,
  Page,
  ErrorSeverity,
  ErrorSource,
  IssueSortKey,
} from './types.ts';

/** Severities, worst first, as the chart stacks and the filter lists them. */
export const SEVERITIES: readonly ErrorSeverity[] = ['high', 'medium', 'low'];

/** Where errors come from, in the order the filter lists them. */
export const SOURCES: readonly ErrorSource[] = ['worker', 'webhook', 'api', 'web', 'system'];

/** The status filters of the issues list: `open` is unresolved and regressed (the API's default). */
export const STATUS_FILTERS = ['open', 'resolved', 'ignored', 'all'] as const;

/** A status filter of the issues list. */
export type StatusFilter = (typeof STATUS_FILTERS)[number];

/** What the chart's bars are split by. */
export const GROUPS = ['severity', 'source', 'type'] as const;

/** A grouping of the chart. */
export type ErrorGroup = (typeof GROUPS)[number];

/** A sort order. */
export type Order = 'asc' | 'desc';

/** The columns the issues list sorts by, with their headers. */
export const ISSUE_SORTS: ReadonlyArray<{ key: IssueSortKey; label: string }> = [
  { key: 'severity', label: 'Severity' },
  { key: 'count', label: 'Count' },
  { key: 'first_seen', label: 'First seen' },
  { key: 'last_seen', label: 'Last seen' },
];

/** What the issues list and the chart show, as kept in the page's address. */
export interface IssueView {
  status: StatusFilter;
  /** One source, severity or workflow (id or slug), or every one when empty. */
  source: ErrorSource | '';
  severity: ErrorSeverity | '';
  workflow: string;
  /** A run's id: its issues only. */
  run: string;
  q: string;
  sort: IssueSortKey;
  order: Order;
  group: ErrorGroup;
}

/** The order every column sorts in when first clicked: the most, the latest, the worst first. */
export const FIRST_ORDER: Order = 'desc';

const DEFAULT_VIEW: IssueView = {
  status: 'open',
  source: '',
  severity: '',
  workflow: '',
  run: '',
  q: '',
  sort: 'last_seen',
  order: FIRST_ORDER,
  group: 'severity',
};

const pick = <T extends string>(allowed: readonly T[], value: string | null, fallback: T): T =>
  allowed.includes(value as T) ? (value as T) : fallback;

/** The view an address asks for; anything unknown is the default. */
export function readIssueView(params: { get(name: string): string | null }): IssueView {
  const sort = pick(
    ISSUE_SORTS.map((s) => s.key),
    params.get('sort'),
    DEFAULT_VIEW.sort,
  );
  return {
    status: pick(STATUS_FILTERS, params.get('status'), DEFAULT_VIEW.status),
    source: pick(['', ...SOURCES], params.get('source'), ''),
    severity: pick(['', ...SEVERITIES], params.get('severity'), ''),
    workflow: params.get('workflow')?.trim() ?? '',
    run: params.get('run')?.trim() ?? '',
    q: params.get('q')?.trim() ?? '',
    sort,
    order: pick(['asc', 'desc'], params.get('order'), FIRST_ORDER),
    group: pick(GROUPS, params.get('group'), DEFAULT_VIEW.group),
  };
}

/** The address parameters of a view, defaults left out, in a stable order. */
export function issueViewParams(view: IssueView): Record<string, string> {
  const params: Record<string, string> = {};
  for (const key of Object.keys(DEFAULT_VIEW) as Array<keyof IssueView>) {
    const value = view[key];
    if (value !== DEFAULT_VIEW[key] && value !== '') params[key] = value;
  }
  return params;
}

/** The query of `/api/errors` for a view; filters that are not set are left out. */
export function issueQuery(view: IssueView): Record<string, string | undefined> {
  return {
    status: view.status,
    source: view.source || undefined,
    severity: view.severity || undefined,
    workflow: view.workflow || undefined,
    run: view.run || undefined,
    q: view.q || undefined,
    sort: view.sort,
    order: view.order,
  };
}

/** One stack of the chart: a severity, source or type, with its count in each bucket. */
export interface ErrorSeries {
  key: string;
  label: string;
  data: number[];
}

/** How many types the chart tells apart; the rest are stacked as one "other". */
export const MAX_TYPES = 6;

const KEYS = { severity: 'by_severity', source: 'by_source', type: 'by_type' } as const;

/**
 * The chart's stacks for a grouping: severities worst first, sources in their fixed order
 * (each always there, so a colour keeps its meaning), types by their count in the range, the
 * most frequent MAX_TYPES apart and the rest as "other". Groups without errors are left out,
 * except severities.
 */
export function errorSeries(buckets: readonly ErrorBucket[], group: ErrorGroup): ErrorSeries[] {
  const field = KEYS[group];
  const countOf = (b: ErrorBucket, key: string) => b[field]?.[key] ?? 0;
  const totals = new Map<string, number>();
  for (const b of buckets)
    for (const [key, n] of Object.entries(b[field] ?? {}))
      totals.set(key, (totals.get(key) ?? 0) + n);
  const series = (key: string, label = key): ErrorSeries => ({
    key,
    label,
    data: buckets.map((b) => countOf(b, key)),
  });
  if (group === 'severity') return SEVERITIES.map((s) => series(s, capitalise(s)));
  if (group === 'source') {
    const known = SOURCES.filter((s) => (totals.get(s) ?? 0) > 0);
    const others = [...totals.keys()].filter((s) => !SOURCES.includes(s as ErrorSource)).sort();
    return [...known, ...others].map((s) => series(s));
  }
  const ranked = [...totals.entries()]
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([key]) => key);
  const shown = ranked.length > MAX_TYPES + 1 ? ranked.slice(0, MAX_TYPES) : ranked;
  const rest = ranked.slice(shown.length);
  const result = shown.map((t) => series(t));
  if (rest.length > 0)
    result.push({
      key: 'other',
      label: `${rest.length} other types`,
      data: buckets.map((b) => rest.reduce((sum, t) => sum + countOf(b, t), 0)),
    });
  return result;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A time as how long ago it was: "just now", "42 s ago", "5 min ago", "3 h ago", "12 d ago",
 * and the date past a year; a dash without one.
 */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  // A clock a little ahead of this one would say "in 2 s": it is now for the reader.
  const seconds = Math.max(0, Math.round((now - t) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days < 365) return `${days} d ago`;
  return new Date(t).toLocaleDateString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
}

/**
 * A rate as a figure shows it: "0", "0.25", "3.4", "120"; two significant digits below 10,
 * whole numbers from there, a dash without one.
 */
export function formatRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  if (value >= 10) return Math.round(value).toLocaleString('en-US');
  if (value < 0.01) return '<0.01';
  return String(Number(value.toPrecision(2)));
}

/** A count of issues, "100+" when there are more than were read. */
export function formatIssueCount(count: number, more: boolean): string {
  return more ? `${count}+` : String(count);
}

/** How many open issues the figures count before saying "100+". */
export const OPEN_COUNT_LIMIT = 100;

/** The open issues (of a workflow, or the project), counted up to OPEN_COUNT_LIMIT. */
export async function countOpenIssues(
  filters: { workflow?: string } = {},
): Promise<{ count: number; more: boolean }> {
  const page = await api<Page<ErrorIssue>>('/api/errors', {
    query: { status: 'open', workflow: filters.workflow, limit: OPEN_COUNT_LIMIT },
  });
  return { count: page.items.length, more: Boolean(page.next_cursor) };
}
