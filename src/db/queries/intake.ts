import type pg from 'pg';
import { withTransaction } from '../client.ts';

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

// One statement creates the run, its first event, the trigger step and its job: a single round
// trip and a single commit, so the 202 goes out as soon as that commit is durable. Workers are
// woken after the commit (see engine/notifier.ts), not by a NOTIFY inside it.
const ENQUEUE_RUN = `
  with run as (
    insert into runs (id, project_id, workflow_id, version_id, version, trigger, idempotency_key)
    values ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5, $6::jsonb, $7)
    returning id, project_id
  ), event as (
    insert into run_events (project_id, run_id, type, payload)
    select project_id, id, 'run_queued', jsonb_build_object('version', $5::int) from run
  ), step as (
    insert into run_steps (run_id, node_id, project_id, status)
    select id, $8, project_id, 'queued' from run
  )
  insert into step_jobs (project_id, run_id, node_id)
  select project_id, id, $8 from run`;

/**
 * Stores a run and its first job durably and returns its id. With an idempotency key seen for
 * this workflow in the last 24 hours, returns the earlier run instead and creates nothing.
 */
export async function enqueueRun(
  db: pg.Pool,
  run: NewRun,
): Promise<{ runId: string; created: boolean }> {
  const runId = crypto.randomUUID();
  const params = [
    runId,
    run.target.projectId,
    run.target.workflowId,
    run.target.versionId,
    run.target.version,
    JSON.stringify(run.trigger),
    run.idempotencyKey ?? null,
    run.triggerNodeId,
  ];
  if (run.idempotencyKey === undefined) {
    await db.query(ENQUEUE_RUN, params);
    return { runId, created: true };
  }
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
    await client.query(ENQUEUE_RUN, params);
    return { runId, created: true };
  });
}
