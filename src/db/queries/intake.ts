import type pg from 'pg';
import { withTransaction, type Queryable } from '../client.ts';

/** Notification channel that wakes workers when a job becomes due. */
export const JOBS_CHANNEL = 'meshhook_jobs';

/** What a webhook URL resolves to: the workflow and the version it runs now. */
export interface WebhookTarget {
  workflowId: string;
  projectId: string;
  slug: string;
  versionId: string;
  version: number;
}

/** Resolves a webhook token to its workflow's newest published version (service role). */
export async function findWebhookTarget(
  db: pg.Pool,
  token: string,
): Promise<WebhookTarget | undefined> {
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    slug: string;
    version_id: string;
    version: number;
  }>(
    `select w.id, w.project_id, w.slug, v.id as version_id, v.version
     from workflows w
     join workflow_versions v on v.workflow_id = w.id and v.version = w.published_version
     where w.webhook_token = $1`,
    [token],
  );
  const row = rows[0];
  return (
    row && {
      workflowId: row.id,
      projectId: row.project_id,
      slug: row.slug,
      versionId: row.version_id,
      version: row.version,
    }
  );
}

/** A run to create from an accepted webhook. */
export interface NewRun {
  target: WebhookTarget;
  triggerNodeId: string;
  trigger: { body: unknown; headers: Record<string, string>; query: Record<string, string> };
  idempotencyKey?: string;
}

// One statement creates the runs, their first events, the trigger steps and their jobs: one
// round trip and one commit for a whole batch of webhooks, so each 202 goes out as soon as the
// commit holding its run is durable. Workers are woken after the commit (engine/notifier.ts),
// not by a NOTIFY inside it, which would serialise concurrent commits.
const ENQUEUE_RUNS = `
  with input as (
    select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::jsonb[],
                         $7::text[], $8::text[])
      as t(id, project_id, workflow_id, version_id, version, trigger, idempotency_key, node_id)
  ), run as (
    insert into runs (id, project_id, workflow_id, version_id, version, trigger, idempotency_key)
    select id, project_id, workflow_id, version_id, version, trigger, idempotency_key from input
  ), event as (
    insert into run_events (project_id, run_id, type, payload)
    select project_id, id, 'run_queued', jsonb_build_object('version', version) from input
  ), step as (
    insert into run_steps (run_id, node_id, project_id, status)
    select id, node_id, project_id, 'queued' from input
  )
  insert into step_jobs (project_id, run_id, node_id)
  select project_id, id, node_id from input`;

/** A run with its id chosen by the caller. */
export type IdentifiedRun = NewRun & { runId: string };

/** Stores runs and their first jobs durably in one statement. */
export async function enqueueRuns(db: Queryable, runs: IdentifiedRun[]): Promise<void> {
  await db.query(ENQUEUE_RUNS, [
    runs.map((r) => r.runId),
    runs.map((r) => r.target.projectId),
    runs.map((r) => r.target.workflowId),
    runs.map((r) => r.target.versionId),
    runs.map((r) => r.target.version),
    runs.map((r) => JSON.stringify(r.trigger)),
    runs.map((r) => r.idempotencyKey ?? null),
    runs.map((r) => r.triggerNodeId),
  ]);
}

/**
 * Stores a run under an idempotency key: with the key seen for this workflow in the last 24
 * hours, returns the earlier run instead and creates nothing.
 */
export async function enqueueIdempotentRun(
  db: pg.Pool,
  run: NewRun & { idempotencyKey: string },
): Promise<{ runId: string; created: boolean }> {
  const runId = crypto.randomUUID();
  return withTransaction(db, async (client) => {
    // A concurrent request with the same key waits on the primary key until this commits, then
    // sees the conflict and returns this run: never two runs for one key.
    const claimed = await client.query<{ run_id: string }>(
      `insert into webhook_idempotency (workflow_id, key, project_id, run_id)
       values ($1::uuid, $2, $3::uuid, $4::uuid)
       on conflict (workflow_id, key) do update
         set run_id = excluded.run_id, created_at = now()
         where webhook_idempotency.created_at < now() - interval '24 hours'
       returning run_id`,
      [run.target.workflowId, run.idempotencyKey, run.target.projectId, runId],
    );
    if (claimed.rows.length === 0) {
      const existing = await client.query<{ run_id: string }>(
        `select run_id from webhook_idempotency where workflow_id = $1::uuid and key = $2`,
        [run.target.workflowId, run.idempotencyKey],
      );
      return { runId: existing.rows[0]!.run_id, created: false };
    }
    await enqueueRuns(client, [{ ...run, runId }]);
    return { runId, created: true };
  });
}
