import type { LogStatus } from '../../core/alert-names.ts';
import type { Queryable } from '../client.ts';
import { cursorText, type TimeCursor } from './alert-config.ts';

/**
 * The alert log as the API reads it (migration 0007): every alert decision, one row each (a
 * delivery to a channel, or a failure suppressed or muted), with the attempts to send it; and
 * the two writes API callers make into the pipeline, through security definer functions
 * (migration 0008), since only the engine writes the log and the outbox. Reads run under
 * withTenant, so RLS keeps each caller to its projects.
 */

export { LOG_STATUSES, type LogStatus } from '../../core/alert-names.ts';

/** One try at sending a delivery. */
export interface AlertAttempt {
  attempt: number;
  at: Date;
  outcome: 'sent' | 'failed';
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** A row of the alert log, with its attempts. */
export interface AlertLogEntry {
  id: string;
  createdAt: Date;
  ruleId: string | null;
  channelId: string | null;
  event: string;
  status: LogStatus;
  attempts: number;
  lastError: string | null;
  permanent: boolean;
  sentAt: Date | null;
  covers: number;
  coveredBy: string | null;
  messageId: string | null;
  reason: string | null;
  workflowId: string | null;
  runId: string | null;
  /** What the message is made of (src/core/alert-message.ts); read with one entry only. */
  alert?: Record<string, unknown>;
  attemptLog: AlertAttempt[];
  position: TimeCursor;
}

interface LogDbRow {
  id: string;
  created_at: Date;
  rule_id: string | null;
  channel_id: string | null;
  event: string;
  status: LogStatus | 'sending';
  attempts: number;
  last_error: string | null;
  permanent: boolean;
  sent_at: Date | null;
  covers: number;
  covered_by: string | null;
  message_id: string | null;
  reason: string | null;
  workflow_id: string | null;
  run_id: string | null;
  alert?: Record<string, unknown>;
  position: string;
}

const LOG_COLUMNS = `l.id, l.created_at, l.rule_id, l.channel_id, l.event, l.status, l.attempts,
  l.last_error, l.permanent, l.sent_at, l.covers, l.covered_by, l.message_id, l.reason,
  l.workflow_id, l.run_id, ${cursorText('l.created_at')} as position`;

/** The filters of the log list; each narrows it, absent ones do not. */
export interface LogFilter {
  ruleId?: string;
  channelId?: string;
  statuses?: readonly LogStatus[];
  events?: readonly string[];
  workflowId?: string;
  runId?: string;
}

/** A page of a project's alert log, newest first (then by id), after the cursor. */
export async function listAlertLog(
  db: Queryable,
  input: { projectId: string; filter: LogFilter; limit: number; after?: TimeCursor },
): Promise<AlertLogEntry[]> {
  const { filter } = input;
  const statuses = filter.statuses?.flatMap((s) =>
    s === 'pending' ? ['pending', 'sending'] : [s],
  );
  const { rows } = await db.query<LogDbRow>(
    `select ${LOG_COLUMNS}
     from alert_logs l
     where l.project_id = $1::uuid
       and ($2::uuid is null or l.rule_id = $2::uuid)
       and ($3::uuid is null or l.channel_id = $3::uuid)
       and ($4::text[] is null or l.status = any($4::text[]))
       and ($5::text[] is null or l.event = any($5::text[]))
       and ($6::uuid is null or l.workflow_id = $6::uuid)
       and ($7::uuid is null or l.run_id = $7::uuid)
       and ($8::text is null or (l.created_at, l.id) < ($8::timestamptz, $9::uuid))
     order by l.created_at desc, l.id desc
     limit $10`,
    [
      input.projectId,
      filter.ruleId ?? null,
      filter.channelId ?? null,
      statuses ?? null,
      filter.events ?? null,
      filter.workflowId ?? null,
      filter.runId ?? null,
      input.after?.at ?? null,
      input.after?.id ?? null,
      input.limit,
    ],
  );
  return withAttempts(db, rows);
}

/** One row of the log with its alert and attempts; undefined when not visible. */
export async function findAlertLog(db: Queryable, id: string): Promise<AlertLogEntry | undefined> {
  const { rows } = await db.query<LogDbRow>(
    `select ${LOG_COLUMNS}, l.alert from alert_logs l where l.id = $1::uuid`,
    [id],
  );
  return (await withAttempts(db, rows))[0];
}

async function withAttempts(db: Queryable, rows: LogDbRow[]): Promise<AlertLogEntry[]> {
  if (rows.length === 0) return [];
  const { rows: attempts } = await db.query<{
    log_id: string;
    attempt: number;
    at: Date;
    outcome: 'sent' | 'failed';
    status_code: number | null;
    error: string | null;
    duration_ms: number;
  }>(
    `select log_id, attempt, at, outcome, status_code, error, duration_ms
     from alert_attempts
     where log_id = any($1::uuid[])
     order by log_id, attempt`,
    [rows.map((r) => r.id)],
  );
  const byLog = new Map<string, AlertAttempt[]>();
  for (const a of attempts) {
    let list = byLog.get(a.log_id);
    if (!list) byLog.set(a.log_id, (list = []));
    list.push({
      attempt: a.attempt,
      at: a.at,
      outcome: a.outcome,
      statusCode: a.status_code,
      error: a.error,
      durationMs: a.duration_ms,
    });
  }
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    ruleId: r.rule_id,
    channelId: r.channel_id,
    event: r.event,
    status: r.status === 'sending' ? 'pending' : r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    permanent: r.permanent,
    sentAt: r.sent_at,
    covers: r.covers,
    coveredBy: r.covered_by,
    messageId: r.message_id,
    reason: r.reason,
    workflowId: r.workflow_id,
    runId: r.run_id,
    ...(r.alert ? { alert: r.alert } : {}),
    attemptLog: byLog.get(r.id) ?? [],
    position: { at: r.position, id: r.id },
  }));
}

/**
 * Queues a test message to a channel: one pending delivery of an alert of type `test`, due now.
 * Returns its id; undefined when the caller cannot see the channel. Raises 42501 for callers
 * below admin in the channel's project.
 */
export async function queueTestDelivery(
  db: Queryable,
  channelId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string | null }>(
    `select meshhook.queue_test_delivery($1::uuid) as id`,
    [channelId],
  );
  return rows[0]?.id ?? undefined;
}

/**
 * Puts an event in the alert outbox for the caller's project, as if the engine had seen the
 * failure. Returns the outbox id, or undefined when the project has no enabled rule (nothing
 * would match). Raises 42501 for callers below admin, or a workflow or run of another project.
 */
export async function triggerAlert(
  db: Queryable,
  input: {
    projectId: string;
    type: string;
    workflowId: string | null;
    runId: string | null;
    nodeId: string | null;
    details: Record<string, unknown>;
  },
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string | null }>(
    `select meshhook.trigger_alert($1::uuid, $2, $3::uuid, $4::uuid, $5, $6::jsonb) as id`,
    [
      input.projectId,
      input.type,
      input.workflowId,
      input.runId,
      input.nodeId,
      JSON.stringify(input.details),
    ],
  );
  return rows[0]?.id ?? undefined;
}
