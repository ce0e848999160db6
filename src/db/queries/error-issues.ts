import { err, ok, type Result } from '../../core/result.ts';
import type { Queryable } from '../client.ts';

/**
 * Reads and triage of error issues (migration 0006): the groups of captured errors sharing a
 * fingerprint, their recent events and the runs they happened in. Everything runs under
 * withTenant, so RLS keeps each caller to its projects.
 */

/** What a user may set an issue's status to; `regressed` is set only by a recurrence. */
export const ISSUE_STATUSES = ['unresolved', 'resolved', 'ignored'] as const;
export type IssueStatus = (typeof ISSUE_STATUSES)[number] | 'regressed';

/** The keys issues can be listed by. */
export const ISSUE_SORTS = ['last_seen', 'first_seen', 'count', 'severity'] as const;
export type IssueSort = (typeof ISSUE_SORTS)[number];

/** An issue: the events of one fingerprint, counted. */
export interface Issue {
  id: string;
  projectId: string;
  fingerprint: string;
  title: string;
  source: string;
  errorType: string;
  severity: string;
  status: IssueStatus;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  workflowId: string | null;
  nodeId: string | null;
  regressedAt: Date | null;
  statusChangedAt: Date | null;
}

/** Where a list page ends: the sort key's value (as text, exact) and the issue id. */
export interface IssueCursor {
  key: string;
  id: string;
}

/** One stored event of an issue. */
export interface IssueEvent {
  id: string;
  ts: Date;
  source: string;
  errorType: string;
  severity: string;
  message: string;
  stack: string | null;
  workflowId: string | null;
  runId: string | null;
  nodeId: string | null;
  userId: string | null;
  metadata: Record<string, unknown>;
}

/** A run an issue's events happened in. */
export interface IssueRun {
  runId: string;
  count: number;
  lastSeen: Date;
}

interface IssueRow {
  id: string;
  project_id: string;
  fingerprint: string;
  title: string;
  source: string;
  error_type: string;
  severity: string;
  status: IssueStatus;
  count: string;
  first_seen: Date;
  last_seen: Date;
  workflow_id: string | null;
  node_id: string | null;
  regressed_at: Date | null;
  status_changed_at: Date | null;
  sort_key?: string;
}

const COLUMNS = `i.id, i.project_id, i.fingerprint, i.title, i.source, i.error_type, i.severity,
  i.status, i.count, i.first_seen, i.last_seen, i.workflow_id, i.node_id, i.regressed_at,
  i.status_changed_at`;

const toIssue = (r: IssueRow): Issue => ({
  id: r.id,
  projectId: r.project_id,
  fingerprint: r.fingerprint,
  title: r.title,
  source: r.source,
  errorType: r.error_type,
  severity: r.severity,
  status: r.status,
  count: Number(r.count),
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  workflowId: r.workflow_id,
  nodeId: r.node_id,
  regressedAt: r.regressed_at,
  statusChangedAt: r.status_changed_at,
});

// Each sort key: the expression ordered by, its text form for the cursor (timestamps to the
// microsecond, which a Date would round) and the cast that reads the cursor back.
const SORT_SQL: Record<IssueSort, { expr: string; text: string; cast: string }> = {
  last_seen: {
    expr: 'i.last_seen',
    text: `to_char(i.last_seen at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    cast: 'timestamptz',
  },
  first_seen: {
    expr: 'i.first_seen',
    text: `to_char(i.first_seen at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    cast: 'timestamptz',
  },
  count: { expr: 'i.count', text: 'i.count::text', cast: 'bigint' },
  severity: {
    expr: 'meshhook.severity_rank(i.severity)',
    text: 'meshhook.severity_rank(i.severity)::text',
    cast: 'integer',
  },
};

/** Whether a decoded cursor can be read back by a list sorted by `sort`. */
export function isIssueCursorFor(sort: IssueSort, value: IssueCursor): boolean {
  const { key } = value;
  switch (sort) {
    case 'last_seen':
    case 'first_seen':
      return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(key) && !Number.isNaN(Date.parse(key));
    case 'count':
      return /^\d{1,18}$/.test(key);
    case 'severity':
      return /^[0-3]$/.test(key);
  }
}

/** Escapes `%`, `_` and `\` so a search text matches literally in ilike. */
const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * A page of a project's issues: filtered, sorted by `sort` then id (so the order is total and
 * a page boundary stable), after the cursor. Pass `statuses` undefined for every status.
 */
export async function listIssues(
  db: Queryable,
  input: {
    projectId: string;
    statuses?: readonly string[];
    sources?: readonly string[];
    types?: readonly string[];
    severities?: readonly string[];
    workflowId?: string;
    /** Only issues with an event of this run. */
    runId?: string;
    /** A case-insensitive text the title contains. */
    q?: string;
    sort: IssueSort;
    order: 'asc' | 'desc';
    limit: number;
    after?: IssueCursor;
  },
): Promise<Array<Issue & { position: IssueCursor }>> {
  const sort = SORT_SQL[input.sort];
  const dir = input.order === 'asc' ? 'asc' : 'desc';
  const past = input.order === 'asc' ? '>' : '<';
  const { rows } = await db.query<IssueRow & { sort_key: string }>(
    `select ${COLUMNS}, ${sort.text} as sort_key
     from error_issues i
     where i.project_id = $1::uuid
       and ($2::text[] is null or i.status = any($2::text[]))
       and ($3::text[] is null or i.source = any($3::text[]))
       and ($4::text[] is null or i.error_type = any($4::text[]))
       and ($5::text[] is null or i.severity = any($5::text[]))
       and ($6::uuid is null or i.workflow_id = $6::uuid)
       and ($7::uuid is null or i.id in (
             select e.issue_id from error_events e
             where e.run_id = $7::uuid and e.project_id = $1::uuid))
       and ($8::text is null or i.title ilike $8::text)
       and ($9::text is null or (${sort.expr}, i.id) ${past} ($9::${sort.cast}, $10::uuid))
     order by ${sort.expr} ${dir}, i.id ${dir}
     limit $11`,
    [
      input.projectId,
      input.statuses ?? null,
      input.sources ?? null,
      input.types ?? null,
      input.severities ?? null,
      input.workflowId ?? null,
      input.runId ?? null,
      input.q === undefined ? null : likePattern(input.q),
      input.after?.key ?? null,
      input.after?.id ?? null,
      input.limit,
    ],
  );
  return rows.map((r) => ({ ...toIssue(r), position: { key: r.sort_key, id: r.id } }));
}

/** One issue; undefined when it does not exist or the caller cannot see it. */
export async function findIssue(db: Queryable, id: string): Promise<Issue | undefined> {
  const { rows } = await db.query<IssueRow>(
    `select ${COLUMNS} from error_issues i where i.id = $1::uuid`,
    [id],
  );
  return rows[0] && toIssue(rows[0]);
}

/** An issue's newest events, newest first. */
export async function recentEvents(
  db: Queryable,
  issueId: string,
  limit = 50,
): Promise<IssueEvent[]> {
  const { rows } = await db.query<{
    error_id: string;
    ts: Date;
    source: string;
    error_type: string;
    severity: string;
    message: string;
    stack: string | null;
    workflow_id: string | null;
    run_id: string | null;
    node_id: string | null;
    user_id: string | null;
    metadata: Record<string, unknown>;
  }>(
    `select e.error_id, e.ts, e.source, e.error_type, e.severity, e.message, e.stack,
            e.workflow_id, e.run_id, e.node_id, e.user_id, e.metadata
     from error_events e
     where e.issue_id = $1::uuid
     order by e.ts desc, e.error_id desc
     limit $2`,
    [issueId, limit],
  );
  return rows.map((r) => ({
    id: r.error_id,
    ts: r.ts,
    source: r.source,
    errorType: r.error_type,
    severity: r.severity,
    message: r.message,
    stack: r.stack,
    workflowId: r.workflow_id,
    runId: r.run_id,
    nodeId: r.node_id,
    userId: r.user_id,
    metadata: r.metadata,
  }));
}

/** The 20 runs with the most events of an issue (then the most recent), with their counts. */
export async function issueRuns(db: Queryable, issueId: string): Promise<IssueRun[]> {
  const { rows } = await db.query<{ run_id: string; count: number; last_seen: Date }>(
    `select e.run_id, count(*)::float8 as count, max(e.ts) as last_seen
     from error_events e
     where e.issue_id = $1::uuid and e.run_id is not null
     group by e.run_id
     order by count(*) desc, max(e.ts) desc, e.run_id
     limit 20`,
    [issueId],
  );
  return rows.map((r) => ({ runId: r.run_id, count: r.count, lastSeen: r.last_seen }));
}

/**
 * Sets an issue's status (and when it changed). RLS lets only members and above update, so an
 * issue the caller sees but could not update is `forbidden`; one it does not see is `not_found`.
 */
export async function setIssueStatus(
  db: Queryable,
  input: { id: string; status: (typeof ISSUE_STATUSES)[number] },
): Promise<Result<Issue, 'not_found' | 'forbidden'>> {
  const { rows } = await db.query<IssueRow>(
    `update error_issues i set status = $2, status_changed_at = now()
     where i.id = $1::uuid
     returning ${COLUMNS}`,
    [input.id, input.status],
  );
  if (rows[0]) return ok(toIssue(rows[0]));
  return err((await findIssue(db, input.id)) ? 'forbidden' : 'not_found');
}
