import { levelsFrom, type LogFilter } from '../../core/log-filter.ts';
import type { Queryable } from '../client.ts';

/** Notification channel announcing committed log batches (ids only, never their content). */
export const LOGS_CHANNEL = 'meshhook_logs';
/** Notification channel announcing access changes (`key:<id>`, `user:<id>`); see migration 0004. */
export const ACCESS_CHANNEL = 'meshhook_access';

/** A run log line as stored. */
export interface RunLog {
  id: string;
  projectId: string;
  runId: string;
  workflowId: string;
  nodeId: string | null;
  ts: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

/** A line to append; already redacted by the logger. */
export interface NewRunLog {
  nodeId: string | null;
  ts: Date;
  level: RunLog['level'];
  message: string;
  fields: Record<string, unknown>;
}

/** A line to append to a given run. */
export interface NewRunLogOf extends NewRunLog {
  projectId: string;
  runId: string;
  workflowId: string;
}

/**
 * Appends lines of any number of runs in one statement and returns each run's last id, which
 * the caller announces once the transaction committed, so listeners read the batch once, not
 * per line. One statement per batch, not per run: statements, not lines, are what an insert
 * costs PostgreSQL most (npm run bench -- log-stream, docs/benchmarks.md).
 */
export async function appendRunLogBatch(
  db: Queryable,
  lines: readonly NewRunLogOf[],
): Promise<Map<string, string>> {
  if (lines.length === 0) return new Map();
  const { rows } = await db.query<{ run_id: string; last_id: string }>(
    `with inserted as (
       insert into run_logs (project_id, run_id, workflow_id, node_id, ts, level, message, fields)
       select l.project_id, l.run_id, l.workflow_id, l.node_id, l.ts, l.level, l.message, l.fields
       from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[],
                   $7::text[], $8::jsonb[])
         as l(project_id, run_id, workflow_id, node_id, ts, level, message, fields)
       returning run_id, id
     )
     select run_id, max(id)::text as last_id from inserted group by run_id`,
    [
      lines.map((l) => l.projectId),
      lines.map((l) => l.runId),
      lines.map((l) => l.workflowId),
      lines.map((l) => l.nodeId),
      lines.map((l) => l.ts),
      lines.map((l) => l.level),
      lines.map((l) => l.message),
      lines.map((l) => JSON.stringify(l.fields)),
    ],
  );
  return new Map(rows.map((r) => [r.run_id, r.last_id]));
}

/** Appends lines of one run in one statement; returns the last id (see appendRunLogBatch). */
export async function appendRunLogs(
  db: Queryable,
  input: { projectId: string; runId: string; workflowId: string; lines: NewRunLog[] },
): Promise<string | undefined> {
  const { projectId, runId, workflowId } = input;
  const ends = await appendRunLogBatch(
    db,
    input.lines.map((l) => ({ ...l, projectId, runId, workflowId })),
  );
  return ends.get(runId);
}

interface RunLogRow {
  id: string;
  project_id: string;
  run_id: string;
  workflow_id: string;
  node_id: string | null;
  ts: Date;
  level: RunLog['level'];
  message: string;
  fields: Record<string, unknown>;
}

const toRunLog = (r: RunLogRow): RunLog => ({
  id: r.id,
  projectId: r.project_id,
  runId: r.run_id,
  workflowId: r.workflow_id,
  nodeId: r.node_id,
  ts: r.ts,
  level: r.level,
  message: r.message,
  fields: r.fields,
});

const COLUMNS = 'id, project_id, run_id, workflow_id, node_id, ts, level, message, fields';

/** A tenant's read: the filter, a window of ids, and how many lines. */
export interface LogRead extends LogFilter {
  projectId?: string;
  /** Lines after this id. */
  afterId?: string;
  /** Lines up to and including this id. */
  upToId?: string;
  limit: number;
}

function where(input: LogRead): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const clauses: string[] = [];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    clauses.push(clause(`$${params.length}`));
  };
  if (input.afterId !== undefined) add((p) => `id > ${p}::bigint`, input.afterId);
  if (input.upToId !== undefined) add((p) => `id <= ${p}::bigint`, input.upToId);
  if (input.projectId !== undefined) add((p) => `project_id = ${p}::uuid`, input.projectId);
  if (input.runId !== undefined) add((p) => `run_id = ${p}::uuid`, input.runId);
  if (input.workflowId !== undefined) add((p) => `workflow_id = ${p}::uuid`, input.workflowId);
  if (input.level !== undefined && input.level !== 'debug') {
    add((p) => `level = any(${p}::text[])`, levelsFrom(input.level));
  }
  if (input.q !== undefined) add((p) => `message ilike '%' || ${p} || '%'`, escapeLike(input.q));
  return { sql: clauses.length > 0 ? `where ${clauses.join(' and ')}` : '', params };
}

/**
 * Log lines after an id, oldest first, as visible to the caller (run it under withTenant).
 * @example await listRunLogs(db, { runId, level: 'warn', afterId: '41', limit: 100 })
 */
export async function listRunLogs(db: Queryable, input: LogRead): Promise<RunLog[]> {
  const filter = where(input);
  const { rows } = await db.query<RunLogRow>(
    `select ${COLUMNS} from run_logs ${filter.sql} order by id limit ${Number(input.limit)}`,
    filter.params,
  );
  return rows.map(toRunLog);
}

/** The last `limit` matching lines, oldest first: a tail's backlog. */
export async function tailRunLogs(db: Queryable, input: LogRead): Promise<RunLog[]> {
  const filter = where(input);
  const { rows } = await db.query<RunLogRow>(
    `select * from (
       select ${COLUMNS} from run_logs ${filter.sql} order by id desc limit ${Number(input.limit)}
     ) tail order by id`,
    filter.params,
  );
  return rows.map(toRunLog);
}

/**
 * Every project's lines in a window of ids, oldest first: the stream hub's one read of each
 * new batch, as the service role, before it fans the lines out to the streams.
 */
export async function readNewRunLogs(
  db: Queryable,
  input: { afterId: string; upToId: string; limit: number },
): Promise<RunLog[]> {
  const { rows } = await db.query<RunLogRow>(
    `select ${COLUMNS} from run_logs
     where id > $1::bigint and id <= $2::bigint
     order by id limit $3`,
    [input.afterId, input.upToId, input.limit],
  );
  return rows.map(toRunLog);
}

/**
 * One reading of the log horizon: the id sequence's high mark, then (in a later statement) the
 * xids of this database's running transactions. See src/core/log-horizon.ts.
 */
export async function readLogHorizon(
  db: Queryable,
): Promise<{ high: bigint; running: Set<bigint> }> {
  // One round trip, two statements, run in order. Only MeshHook's own role writes run logs, and
  // a role sees its own backends' xids in pg_stat_activity.
  const results = (await db.query(
    `select (case when is_called then last_value else last_value - 1 end)::text as high
     from meshhook.run_logs_id_seq;
     select coalesce(array_agg(backend_xid::text), '{}') as running
     from pg_stat_activity
     where datname = current_database() and backend_xid is not null`,
  )) as unknown as [{ rows: [{ high: string }] }, { rows: [{ running: string[] }] }];
  return {
    high: BigInt(results[0].rows[0].high),
    running: new Set(results[1].rows[0].running.map((x) => BigInt(x))),
  };
}

/** Final runs among the given ones, with the id of their last log line ('0' when none). */
export async function findFinishedRuns(
  db: Queryable,
  runIds: string[],
): Promise<Map<string, { status: string; lastLogId: string }>> {
  const { rows } = await db.query<{ id: string; status: string; last_log_id: string | null }>(
    `select r.id, r.status,
            (select max(l.id)::text from run_logs l where l.run_id = r.id) as last_log_id
     from runs r
     where r.id = any($1::uuid[]) and r.status in ('succeeded', 'failed', 'canceled')`,
    [runIds],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, lastLogId: r.last_log_id ?? '0' }]));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
