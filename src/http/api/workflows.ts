import { Hono } from 'hono';
import { z } from 'zod';
import { validateDefinition } from '../../core/definition.ts';
import { withTenant } from '../../db/client.ts';
import {
  createWorkflow,
  findVersionByNumber,
  findWorkflow,
  listWorkflows,
  publishWorkflowVersion,
  updateWorkflowDraft,
  type Workflow,
} from '../../db/queries/workflows.ts';
import { AppError, notFound } from '../app-error.ts';
import { projectOf, requireRole } from '../auth.ts';
import type { AppEnv, AppState, HttpDeps } from '../context.ts';
import { WORKFLOWS_CHANNEL } from '../webhook-targets.ts';
import { cursor, readJson, readQuery, UUID } from '../validate.ts';

const slugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _, up to 63 characters')
  // Workflows are addressed by id or slug in the same URL segment.
  .refine((slug) => !UUID.test(slug), 'a slug cannot have the shape of a UUID');

const createSchema = z.strictObject({
  slug: slugSchema,
  name: z.string().min(1).max(200),
  definition: z.unknown(),
});

const updateSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  definition: z.unknown(),
});

const listSchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

/** Checks a definition, answering 422 with every issue, each naming its node. */
function checkDefinition(definition: unknown) {
  const result = validateDefinition(definition);
  if (!result.ok) {
    const first = result.error[0]!;
    const where = first.node_id ? `node "${first.node_id}"` : first.path;
    throw new AppError('invalid_definition', `invalid definition at ${where}: ${first.message}`, {
      issues: result.error,
    });
  }
  return result.value;
}

const slugTaken = (slug: string) =>
  new AppError('conflict', `a workflow with slug "${slug}" already exists`, { slug });

/** The workflow as the API shows it. */
export function workflowJson(w: Workflow, publicUrl: string) {
  return {
    id: w.id,
    project_id: w.projectId,
    slug: w.slug,
    name: w.name,
    definition: w.definition,
    published_version: w.publishedVersion,
    webhook: w.publishedVersion === null ? null : { url: webhookUrl(publicUrl, w.webhookToken) },
    created_at: w.createdAt.toISOString(),
    updated_at: w.updatedAt.toISOString(),
  };
}

/** The public URL that starts runs of a workflow. */
export function webhookUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/hooks/${token}`;
}

/** /api/workflows: create, replace the draft, publish, read and list. */
export function workflowRoutes(deps: HttpDeps, state: AppState) {
  const app = new Hono<AppEnv>();

  app.post('/', requireRole('member'), async (c) => {
    const input = await readJson(c, createSchema);
    checkDefinition(input.definition);
    const caller = c.get('caller');
    const workflow = await withTenant(deps.pool, caller.claims, async (db) => {
      const existing = await findWorkflow(db, input.slug);
      if (existing) throw slugTaken(input.slug);
      return createWorkflow(db, { ...input, projectId: projectOf(c) }).catch((error: unknown) => {
        // Two creates of one slug at once: the loser sees the unique index, not the check above.
        if ((error as { code?: string }).code === '23505') throw slugTaken(input.slug);
        throw error;
      });
    });
    return c.json(workflowJson(workflow, deps.publicUrl), 201);
  });

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, (v): v is string => typeof v === 'string');
    const rows = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      listWorkflows(db, { limit: query.limit + 1, ...(after ? { afterSlug: after } : {}) }),
    );
    const items = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    return c.json({
      items: items.map((w) => ({
        ...workflowJson(w, deps.publicUrl),
        last_run: w.lastRun && {
          id: w.lastRun.id,
          status: w.lastRun.status,
          created_at: w.lastRun.createdAt.toISOString(),
        },
      })),
      next_cursor: more ? cursor.encode(items.at(-1)!.slug) : null,
    });
  });

  app.get('/:id', async (c) => {
    const workflow = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      findWorkflow(db, c.req.param('id')),
    );
    if (!workflow) throw notFound('workflow');
    return c.json(workflowJson(workflow, deps.publicUrl));
  });

  app.get('/:id/versions/:version', async (c) => {
    const version = Number(c.req.param('version'));
    if (!Number.isInteger(version) || version < 1) throw notFound('version');
    const found = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflow = await findWorkflow(db, c.req.param('id'));
      return workflow && findVersionByNumber(db, { workflowId: workflow.id, version });
    });
    if (!found) throw notFound('version');
    return c.json({
      version: found.version,
      definition: found.definition,
      created_at: found.createdAt.toISOString(),
    });
  });

  app.put('/:id', requireRole('member'), async (c) => {
    const input = await readJson(c, updateSchema);
    checkDefinition(input.definition);
    const workflow = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const found = await findWorkflow(db, c.req.param('id'));
      return found && updateWorkflowDraft(db, { ...input, id: found.id });
    });
    if (!workflow) throw notFound('workflow');
    return c.json(workflowJson(workflow, deps.publicUrl));
  });

  app.post('/:id/publish', requireRole('member'), async (c) => {
    const published = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const found = await findWorkflow(db, c.req.param('id'));
      if (!found) return undefined;
      const definition = checkDefinition(found.definition);
      const version = await publishWorkflowVersion(db, { workflowId: found.id, definition });
      return version && { workflow: found, version };
    });
    if (!published) throw notFound('workflow');
    const token = published.workflow.webhookToken;
    state.webhookTargets.forget(token);
    deps.notifier.send(WORKFLOWS_CHANNEL, token);
    return c.json(
      {
        workflow_id: published.workflow.id,
        version: published.version.version,
        webhook: { url: webhookUrl(deps.publicUrl, published.workflow.webhookToken) },
      },
      201,
    );
  });

  // Starts a run as a delivery would, without a signature: the server is the sender. Lets the
  // UI (and scripts) try a published workflow without crafting a signed request.
  app.post('/:id/test-event', requireRole('member'), async (c) => {
    const input =
      c.req.header('content-length') === '0' || !c.req.header('content-type')
        ? { body: {} }
        : await readJson(c, z.strictObject({ body: z.unknown().optional() }));
    const workflow = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      findWorkflow(db, c.req.param('id')),
    );
    if (!workflow) throw notFound('workflow');
    const target =
      workflow.publishedVersion === null
        ? undefined
        : await state.webhookTargets.get(workflow.webhookToken);
    if (!target)
      throw new AppError('not_published', 'publish the workflow before sending it events');
    const { runId } = await state.intake.start({
      target,
      trigger: {
        body: input.body ?? {},
        headers: { 'content-type': 'application/json', 'x-meshhook-test-event': 'true' },
        query: {},
      },
    });
    return c.json({ run_id: runId }, 202);
  });

  return app;
}
