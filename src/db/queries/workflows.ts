import { randomBytes } from 'node:crypto';
import type { Queryable } from '../client.ts';

/** A workflow with its draft definition. */
export interface Workflow {
  id: string;
  projectId: string;
  slug: string;
  name: string;
  definition: unknown;
  webhookToken: string;
  publishedVersion: number | null;
  createdAt: Date;
  updatedAt: Date;
}

interface WorkflowRow {
  id: string;
  project_id: string;
  slug: string;
  name: string;
  definition: unknown;
  webhook_token: string;
  published_version: number | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, project_id, slug, name, definition, webhook_token, published_version,
  created_at, updated_at`;

function toWorkflow(row: WorkflowRow): Workflow {
  return {
    id: row.id,
    projectId: row.project_id,
    slug: row.slug,
    name: row.name,
    definition: row.definition,
    webhookToken: row.webhook_token,
    publishedVersion: row.published_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Creates a workflow with its draft; the slug is unique within the project. */
export async function createWorkflow(
  db: Queryable,
  input: { projectId: string; slug: string; name: string; definition: unknown },
): Promise<Workflow> {
  const { rows } = await db.query<WorkflowRow>(
    `insert into workflows (project_id, slug, name, definition, webhook_token)
     values ($1::uuid, $2, $3, $4::jsonb, $5)
     returning ${COLUMNS}`,
    [
      input.projectId,
      input.slug,
      input.name,
      JSON.stringify(input.definition),
      randomBytes(24).toString('base64url'),
    ],
  );
  return toWorkflow(rows[0]!);
}

/** Replaces a workflow's draft (and optionally its name); undefined when not visible. */
export async function updateWorkflowDraft(
  db: Queryable,
  input: { id: string; definition: unknown; name?: string },
): Promise<Workflow | undefined> {
  const { rows } = await db.query<WorkflowRow>(
    `update workflows set definition = $2::jsonb, name = coalesce($3, name), updated_at = now()
     where id = $1::uuid
     returning ${COLUMNS}`,
    [input.id, JSON.stringify(input.definition), input.name ?? null],
  );
  return rows[0] && toWorkflow(rows[0]);
}

/** A workflow by id or by slug; undefined when not visible. */
export async function findWorkflow(db: Queryable, idOrSlug: string): Promise<Workflow | undefined> {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrSlug);
  const { rows } = await db.query<WorkflowRow>(
    `select ${COLUMNS} from workflows where ${byId ? 'id = $1::uuid' : 'slug = $1'}`,
    [idOrSlug],
  );
  return rows[0] && toWorkflow(rows[0]);
}

/** The newest run of a workflow, as lists show it. */
export interface LastRun {
  id: string;
  status: string;
  createdAt: Date;
}

/** Workflows visible to the caller with their newest run, by slug, after the cursor slug. */
export async function listWorkflows(
  db: Queryable,
  input: { limit: number; afterSlug?: string },
): Promise<Array<Workflow & { lastRun: LastRun | null }>> {
  const { rows } = await db.query<
    WorkflowRow & { last_run_id: string | null; last_run_status: string; last_run_at: Date }
  >(
    `select ${COLUMNS.replace(/(\w+)/g, 'w.$1')},
            r.id as last_run_id, r.status as last_run_status, r.created_at as last_run_at
     from workflows w
     left join lateral (
       select id, status, created_at from runs
       where runs.workflow_id = w.id order by created_at desc, id desc limit 1
     ) r on true
     where $1::text is null or w.slug > $1
     order by w.slug limit $2`,
    [input.afterSlug ?? null, input.limit],
  );
  return rows.map((row) => ({
    ...toWorkflow(row),
    lastRun: row.last_run_id
      ? { id: row.last_run_id, status: row.last_run_status, createdAt: row.last_run_at }
      : null,
  }));
}

/**
 * Freezes a definition as the workflow's next version and makes it the one webhooks run. The
 * workflow row is locked so two publishes cannot both claim the same number.
 */
export async function publishWorkflowVersion(
  db: Queryable,
  input: { workflowId: string; definition: unknown },
): Promise<{ version: number; id: string } | undefined> {
  const locked = await db.query<{ project_id: string }>(
    `select project_id from workflows where id = $1::uuid for update`,
    [input.workflowId],
  );
  const projectId = locked.rows[0]?.project_id;
  if (!projectId) return undefined;
  const { rows } = await db.query<{ id: string; version: number }>(
    `with next as (
       select coalesce(max(version), 0) + 1 as version
       from workflow_versions where workflow_id = $1::uuid
     ), inserted as (
       insert into workflow_versions (project_id, workflow_id, version, definition)
       select $2::uuid, $1::uuid, next.version, $3::jsonb from next
       returning id, version
     ), updated as (
       update workflows set published_version = (select version from inserted), updated_at = now()
       where id = $1::uuid
     )
     select id, version from inserted`,
    [input.workflowId, projectId, JSON.stringify(input.definition)],
  );
  return rows[0];
}

/** A published version's frozen definition. */
export async function findWorkflowVersion(
  db: Queryable,
  versionId: string,
): Promise<{ definition: unknown; version: number; workflowId: string } | undefined> {
  const { rows } = await db.query<{ definition: unknown; version: number; workflow_id: string }>(
    `select definition, version, workflow_id from workflow_versions where id = $1::uuid`,
    [versionId],
  );
  const row = rows[0];
  return row && { definition: row.definition, version: row.version, workflowId: row.workflow_id };
}

/** A workflow's published version by number, as visible to the caller. */
export async function findVersionByNumber(
  db: Queryable,
  input: { workflowId: string; version: number },
): Promise<{ version: number; definition: unknown; createdAt: Date } | undefined> {
  const { rows } = await db.query<{ version: number; definition: unknown; created_at: Date }>(
    `select version, definition, created_at from workflow_versions
     where workflow_id = $1::uuid and version = $2`,
    [input.workflowId, input.version],
  );
  const row = rows[0];
  return row && { version: row.version, definition: row.definition, createdAt: row.created_at };
}

/** The project's workflows, by slug: what metric summaries list. */
export async function listWorkflowNames(
  db: Queryable,
  projectId: string,
): Promise<Array<{ id: string; slug: string; name: string }>> {
  const { rows } = await db.query<{ id: string; slug: string; name: string }>(
    `select id, slug, name from workflows where project_id = $1::uuid order by slug`,
    [projectId],
  );
  return rows;
}
