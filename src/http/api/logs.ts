import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { LOG_LEVELS } from '../../core/definition.ts';
import type { LogFilter } from '../../core/log-filter.ts';
import { withTenant } from '../../db/client.ts';
import { findRunStatus } from '../../db/queries/runs.ts';
import { listRunLogs, tailRunLogs } from '../../db/queries/run-logs.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import type { StreamRequest } from '../../engine/log-hub.ts';
import { AppError, notFound } from '../app-error.ts';
import { nodeResponseOf, projectOf, streamAccessOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { logJson, serveLogStream } from '../sse.ts';
import { readQuery, UUID, uuidParam } from '../validate.ts';

const logId = z.string().regex(/^\d{1,18}$/, 'a log id is a non-negative integer');

const filters = {
  level: z.enum(LOG_LEVELS).optional(),
  q: z.string().min(1).max(200).optional(),
  after: logId.optional(),
};
const projectFilters = {
  workflow: z.string().min(1).max(100).optional(),
  run: z.string().regex(UUID, 'a run id is a UUID').optional(),
  tail: z.coerce.number().int().min(0).max(10_000).optional(),
};
const page = {
  cursor: logId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
};

const runListSchema = z.object({ ...filters, ...page });
const runStreamSchema = z.object(filters);
const projectListSchema = z.object({ ...filters, ...projectFilters, ...page });
const projectStreamSchema = z.object({ ...filters, ...projectFilters });

/** How many lines a project-wide stream starts with when it resumes from nowhere. */
const DEFAULT_TAIL = 100;

/** /api/runs/:id/logs and the run's live stream. */
export function runLogRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/:id/logs', async (c) => {
    const runId = uuidParam(c, 'id', 'run');
    const query = readQuery(c, runListSchema);
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      if (!(await findRunStatus(db, runId))) return undefined;
      return listRunLogs(db, { ...filterOf(query), runId, ...pageOf(query) });
    });
    if (!rows) throw notFound('run');
    return c.json(listPage(rows, query.limit));
  });

  app.get('/:id/logs/stream', async (c) => {
    const runId = uuidParam(c, 'id', 'run');
    const query = readQuery(c, runStreamSchema);
    const afterId = resumePoint(c, query.after);
    const run = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      findRunStatus(db, runId),
    );
    if (!run) throw notFound('run');
    return openStream(c, deps, {
      filter: { ...filterOf(query), runId },
      endWithRun: true,
      ...(afterId === undefined ? {} : { afterId }),
    });
  });

  return app;
}

/** /api/logs: the project's lines, listed or streamed live, with server-side filters. */
export function projectLogRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, projectListSchema);
    // `tail` asks for the last lines, unless a starting point says where to page from.
    const tailed = query.tail !== undefined && query.after === undefined && !query.cursor;
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const filter = await resolveProjectFilter(db, query);
      const read = { ...filter, projectId: projectOf(c) };
      if (tailed) return tailRunLogs(db, { ...read, limit: Math.min(query.tail!, 500) });
      return listRunLogs(db, { ...read, ...pageOf(query) });
    });
    return c.json(
      tailed ? { items: rows.map(logJson), next_cursor: null } : listPage(rows, query.limit),
    );
  });

  app.get('/stream', async (c) => {
    const query = readQuery(c, projectStreamSchema);
    const afterId = resumePoint(c, query.after);
    const filter = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      resolveProjectFilter(db, query),
    );
    return openStream(c, deps, {
      filter,
      ...(afterId === undefined ? { tail: query.tail ?? DEFAULT_TAIL } : { afterId }),
    });
  });

  return app;
}

type Db = Parameters<Parameters<typeof withTenant>[2]>[0];

/** The workflow (id or slug) and run a project-wide read names, which must be visible. */
async function resolveProjectFilter(
  db: Db,
  query: { workflow?: string; run?: string; level?: LogFilter['level']; q?: string },
): Promise<LogFilter> {
  const filter = filterOf(query);
  if (query.workflow !== undefined) {
    const workflow = await findWorkflow(db, query.workflow);
    if (!workflow) throw notFound('workflow');
    filter.workflowId = workflow.id;
  }
  if (query.run !== undefined) {
    if (!(await findRunStatus(db, query.run))) throw notFound('run');
    filter.runId = query.run;
  }
  return filter;
}

const filterOf = (query: { level?: LogFilter['level']; q?: string }): LogFilter => ({
  ...(query.level ? { level: query.level } : {}),
  ...(query.q ? { q: query.q } : {}),
});

const pageOf = (query: { after?: string; cursor?: string; limit: number }) => ({
  limit: query.limit + 1,
  ...((query.cursor ?? query.after) ? { afterId: query.cursor ?? query.after } : {}),
});

function listPage(rows: Parameters<typeof logJson>[0][], limit: number) {
  const items = rows.slice(0, limit);
  return {
    items: items.map(logJson),
    next_cursor: rows.length > limit ? items.at(-1)!.id : null,
  };
}

/** Where a stream resumes: the Last-Event-ID header an EventSource sends, else `?after=`. */
function resumePoint(c: Context<AppEnv>, after: string | undefined): string | undefined {
  const lastEventId = c.req.header('last-event-id');
  if (lastEventId === undefined) return after;
  if (!logId.safeParse(lastEventId).success) {
    throw new AppError('bad_request', 'Last-Event-ID must be a log id', {
      last_event_id: lastEventId,
    });
  }
  return lastEventId;
}

/**
 * Opens a stream on the hub for the caller's project. Access was decided under RLS by the
 * caller of this function; the hub asks `authorize` again whenever it may have changed.
 */
function openStream(
  c: Context<AppEnv>,
  deps: HttpDeps,
  options: Pick<StreamRequest, 'filter' | 'endWithRun' | 'afterId' | 'tail'>,
): Response {
  const request: StreamRequest = { ...options, ...streamAccessOf(c, deps) };
  // Served on Node's response itself (see serveSse); the adapter then leaves it alone.
  const response = nodeResponseOf(c);
  serveLogStream({
    response,
    bufferBytes: deps.logStreamBufferBytes ?? 1024 * 1024,
    open: (sink) => deps.logHub.open(request, sink),
  });
  return RESPONSE_ALREADY_SENT;
}
