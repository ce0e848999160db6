import type { CapturedError } from '../../core/error-events.ts';
import type { Queryable } from '../client.ts';

/** Notification channel announcing captured errors (payload: project ids, comma-separated). */
export const ERRORS_CHANNEL = 'meshhook_errors';

/** Captured errors as record_errors reads them: one JSON array, snake_case keys. */
export function errorRecordsJson(errors: readonly CapturedError[]): string {
  return JSON.stringify(
    errors.map((e) => ({
      error_id: e.id,
      ts: e.ts.toISOString(),
      project_id: e.projectId,
      source: e.source,
      error_type: e.errorType,
      severity: e.severity,
      title: e.title,
      message: e.message,
      stack: e.stack,
      fingerprint: e.fingerprint,
      workflow_id: e.workflowId,
      run_id: e.runId,
      node_id: e.nodeId,
      user_id: e.userId,
      metadata: e.metadata,
    })),
  );
}

/**
 * Stores captured errors as the service role: each joins its issue, is kept in error_events and
 * counted in error_counts, in the caller's transaction. Returns how many were stored.
 */
export async function recordErrors(
  db: Queryable,
  errors: readonly CapturedError[],
): Promise<number> {
  if (errors.length === 0) return 0;
  const { rows } = await db.query<{ n: number }>(`select meshhook.record_errors($1::jsonb) as n`, [
    errorRecordsJson(errors),
  ]);
  return rows[0]!.n;
}

/**
 * Stores errors reported through the API, inside withTenant: the database refuses (42501) an
 * event of a project the caller cannot see, and then stores none of them.
 */
export async function reportErrors(
  db: Queryable,
  errors: readonly CapturedError[],
): Promise<number> {
  if (errors.length === 0) return 0;
  const { rows } = await db.query<{ n: number }>(`select meshhook.report_errors($1::jsonb) as n`, [
    errorRecordsJson(errors),
  ]);
  return rows[0]!.n;
}

/** All-time error counts of the instance by project, source, type and severity (for /metrics). */
export async function readInstanceErrorTotals(db: Queryable): Promise<
  Array<{
    projectId: string | null;
    source: string;
    errorType: string;
    severity: string;
    count: number;
  }>
> {
  const { rows } = await db.query<{
    project_id: string | null;
    source: string;
    error_type: string;
    severity: string;
    count: number;
  }>(
    `select project_id, source, error_type, severity, sum(count)::float8 as count
     from error_counts
     where grain = 'all'
     group by 1, 2, 3, 4
     order by 1, 2, 3, 4`,
  );
  return rows.map((r) => ({
    projectId: r.project_id,
    source: r.source,
    errorType: r.error_type,
    severity: r.severity,
    count: r.count,
  }));
}
