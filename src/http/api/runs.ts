import { Hono } from 'hono';
import { z } from 'zod';
import { withTenant } from '../../db/client.ts';
import {
  findRun,
  findRunStatus,
  listRunEvents,
  listRuns,
  type RunCursor,
  type RunSummary,
} from '../../db/queries/runs.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { notFound } from '../app-error.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { cursor, readQuery, uuidParam } from '../validate.ts';

const listSchema = z.object({
  workflow: z.string().min(1).optional(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function runSummaryJson(r: RunSummary) {
  return {
    id: r.id,
    workflow_id: r.workflowId,
    version: r.version,
    status: r.status,
    error: r.error ?? null,
    created_at: iso(r.createdAt),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    duration_ms:
      r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null,
  };
}

const isRunCursor = (v: unknown): v is RunCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as RunCursor).createdAt === 'string' &&
  typeof (v as RunCursor).id === 'string' &&
  !Number.isNaN(Date.parse((v as RunCursor).createdAt)) &&
  /^[0-9a-f-]{36}$/i.test((v as RunCursor).id);

/** /api/runs: list, detail with steps, and the event history. */
export function runRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, isRunCursor);
    const result = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      let workflowId: string | undefined;
      if (query.workflow) {
        workflowId = (await findWorkflow(db, query.workflow))?.id;
        if (!workflowId) return undefined;
      }
      return listRuns(db, {
        limit: query.limit + 1,
        ...(workflowId ? { workflowId } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(after ? { after } : {}),
      });
    });
    if (!result) throw notFound('workflow');
    const items = result.slice(0, query.limit);
    const last = items.at(-1);
    return c.json({
      items: items.map(runSummaryJson),
      next_cursor: result.length > query.limit && last ? cursor.encode(last.position) : null,
    });
  });

  app.get('/:id', async (c) => {
    const id = uuidParam(c, 'id', 'run');
    const run = await withTenant(deps.pool, c.get('caller').claims, (db) => findRun(db, id));
    if (!run) throw notFound('run');
    return c.json({
      ...runSummaryJson(run),
      trigger: run.trigger,
      steps: run.steps.map((s) => ({
        node_id: s.nodeId,
        status: s.status,
        attempts: s.attempts,
        started_at: iso(s.startedAt),
        finished_at: iso(s.finishedAt),
        input: s.input ?? null,
        output: s.output ?? null,
        error: s.error ?? null,
      })),
    });
  });

  app.get('/:id/events', async (c) => {
    const id = uuidParam(c, 'id', 'run');
    const events = await withTenant(deps.pool, c.get('caller').claims, async (db) =>
      (await findRunStatus(db, id)) ? listRunEvents(db, id) : undefined,
    );
    if (!events) throw notFound('run');
    return c.json({
      items: events.map((e) => ({
        id: e.id,
        type: e.type,
        node_id: e.nodeId,
        ts: e.ts.toISOString(),
        payload: e.payload,
      })),
    });
  });

  return app;
}
