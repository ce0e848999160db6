import type { Queryable } from '../client.ts';

/** Notification channel announcing committed log batches (ids only, never their content). */
export const LOGS_CHANNEL = 'meshhook_logs';

/** A run log line as stored. */
export interface RunLog {
  id: string;
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

/** The levels at or above a minimum, for `level=warn` style filters. */
export function levelsFrom(min: RunLog['level']): RunLog['level'][] {
  const order: RunLog['level'][] = ['debug', 'info', 'warn', 'error'];
  return order.slice(order.indexOf(min));
}

/**
 * Appends a batch of lines in one statement and returns the last id, which the caller
 * announces once the transaction committed, so listeners read the batch once, not per line.
 */
export async function appendRunLogs(
  db: Queryable,
  input: { projectId: string; runId: string; workflowId: string; lines: NewRunLog[] },
): Promise<string | undefined> {
  if (input.lines.length === 0) return undefined;
  const { rows } = await db.query<{ last_id: string }>(
    `with inserted as (
       insert into run_logs (project_id, run_id, workflow_id, node_id, ts, level, message, fields)
       select $1::uuid, $2::uuid, $3::uuid, l.node_id, l.ts, l.level, l.message, l.fields
       from unnest($4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::jsonb[])
         as l(node_id, ts, level, message, fields)
       returning id
     )
     select max(id)::text as last_id from inserted`,
    [
      input.projectId,
      input.runId,
      input.workflowId,
      input.lines.map((l) => l.nodeId),
      input.lines.map((l) => l.ts),
      input.lines.map((l) => l.level),
      input.lines.map((l) => l.message),
      input.lines.map((l) => JSON.stringify(l.fields)),
    ],
  );
  return rows[0]?.last_id;
}

interface RunLogRow {
  id: string;
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
  runId: r.run_id,
  workflowId: r.workflow_id,
  nodeId: r.node_id,
  ts: r.ts,
  level: r.level,
  message: r.message,
  fields: r.fields,
});

/** Filters shared by the log list and the log streams. */
export interface LogFilter {
  runId?: string;
  workflowId?: string;
  /** Minimum level. */
  level?: RunLog['level'];
  /** Case-insensitive text match on the message. */
  q?: string;
}

/** Log lines after an id, oldest first, as visible to the caller. */
export async function listRunLogs(
  db: Queryable,
  input: LogFilter & { afterId?: string; limit: number },
): Promise<RunLog[]> {
  const { rows } = await db.query<RunLogRow>(
    `select id, run_id, workflow_id, node_id, ts, level, message, fields
     from run_logs
     where id > coalesce($1::bigint, 0)
       and ($2::uuid is null or run_id = $2::uuid)
       and ($3::uuid is null or workflow_id = $3::uuid)
       and ($4::text[] is null or level = any($4::text[]))
       and ($5::text is null or message ilike '%' || $5 || '%')
     order by id
     limit $6`,
    [
      input.afterId ?? null,
      input.runId ?? null,
      input.workflowId ?? null,
      input.level ? levelsFrom(input.level) : null,
      input.q ? escapeLike(input.q) : null,
      input.limit,
    ],
  );
  return rows.map(toRunLog);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
