import type { Queryable } from '../client.ts';
import type { RuleRow } from './alert-delivery.ts';

/** Where a threshold looks: a project, or one of its workflows, since an instant. */
export interface Window {
  projectId: string;
  workflowId: string | null;
  since: Date;
}

/**
 * The enabled threshold rules, locked for this transaction (SKIP LOCKED: two evaluators share
 * the rules, never evaluate one together).
 */
export async function takeThresholdRules(db: Queryable, limit: number): Promise<RuleRow[]> {
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    workflow_id: string | null;
    name: string;
    kind: 'threshold';
    channels: string[];
    definition: Record<string, unknown>;
    state: 'ok' | 'pending' | 'firing';
    state_since: Date | null;
    last_value: number | null;
  }>(
    `select id, project_id, workflow_id, name, kind, channels, definition, state, state_since,
            last_value
     from alert_rules
     where enabled and kind = 'threshold'
       and (last_evaluated_at is null or last_evaluated_at < now() - interval '1 second')
     order by last_evaluated_at nulls first
     limit $1
     for update skip locked`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    workflowId: r.workflow_id,
    name: r.name,
    kind: r.kind,
    channels: r.channels,
    definition: r.definition,
    state: r.state,
    stateSince: r.state_since,
    lastValue: r.last_value,
  }));
}

/** Runs finished in the window by outcome, from the minute rollups (never the runs table). */
export async function readRunWindow(
  db: Queryable,
  window: Window,
): Promise<{ succeeded: number; failed: number; canceled: number }> {
  const { rows } = await db.query<{ succeeded: number; failed: number; canceled: number }>(
    `select coalesce(sum(succeeded), 0)::int as succeeded, coalesce(sum(failed), 0)::int as failed,
            coalesce(sum(canceled), 0)::int as canceled
     from run_metrics
     where project_id = $1 and ($2::uuid is null or workflow_id = $2) and grain = 'minute'
       and bucket_start >= date_trunc('minute', $3::timestamptz, 'UTC')`,
    [window.projectId, window.workflowId, window.since],
  );
  return rows[0]!;
}

/** Errors captured in the window, from the minute rollups, filtered as the rule says. */
export async function readErrorWindow(
  db: Queryable,
  window: Window & { source: string | null; type: string | null; severity: string | null },
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select coalesce(sum(count), 0)::int as n
     from error_counts
     where project_id = $1 and ($2::uuid is null or workflow_id = $2) and grain = 'minute'
       and bucket_start >= date_trunc('minute', $3::timestamptz, 'UTC')
       and ($4::text is null or source = $4) and ($5::text is null or error_type = $5)
       and ($6::text is null or severity = $6)`,
    [
      window.projectId,
      window.workflowId,
      window.since,
      window.source,
      window.type,
      window.severity,
    ],
  );
  return rows[0]!.n;
}

/**
 * How many of the latest finished runs failed in a row, looking at most `limit` back. Runs are
 * taken newest first by when they started, which the runs' indexes serve; a run still going is
 * skipped, not counted as a success.
 */
export async function readConsecutiveFailures(
  db: Queryable,
  input: { projectId: string; workflowId: string | null; limit: number },
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from (
       select status, row_number() over (order by created_at desc, id desc) as i,
              count(*) filter (where status <> 'failed') over (order by created_at desc, id desc) as ok
       from (
         select id, status, created_at from runs
         where project_id = $1 and ($2::uuid is null or workflow_id = $2)
           and status in ('succeeded', 'failed', 'canceled')
         order by created_at desc, id desc
         limit $3
       ) latest
     ) numbered
     where ok = 0`,
    [input.projectId, input.workflowId, input.limit],
  );
  return rows[0]!.n;
}

/** Stores a threshold rule's evaluated state. */
export async function saveThresholdState(
  db: Queryable,
  input: {
    ruleId: string;
    state: 'ok' | 'pending' | 'firing';
    since: Date | null;
    value: number | null;
  },
): Promise<void> {
  await db.query(
    `update alert_rules set state = $2, state_since = $3, last_value = $4, last_evaluated_at = now()
     where id = $1`,
    [input.ruleId, input.state, input.since, input.value],
  );
}
