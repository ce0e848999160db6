import { Hono } from 'hono';
import { z } from 'zod';
import { ERROR_SOURCES, ERROR_TYPE_PATTERN, SEVERITIES } from '../../core/error-events.ts';
import { withTenant, type Queryable } from '../../db/client.ts';
import {
  findIssue,
  ISSUE_SORTS,
  ISSUE_STATUSES,
  isIssueCursorFor,
  issueRuns,
  listIssues,
  recentEvents,
  setIssueStatus,
  type Issue,
  type IssueCursor,
  type IssueEvent,
  type IssueSort,
} from '../../db/queries/error-issues.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { AppError, notFound } from '../app-error.ts';
import { projectOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { iso } from '../range.ts';
import { cursor, readJson, readQuery, UUID, uuidParam } from '../validate.ts';

/**
 * A query parameter holding a comma-separated list, each value one of `allowed` (or matching
 * it); an unknown value is refused, naming it, so a typo never silently filters everything out.
 */
export function listParam<T extends string>(allowed: readonly T[] | RegExp) {
  const known = (v: string) =>
    allowed instanceof RegExp ? allowed.test(v) : (allowed as readonly string[]).includes(v);
  const expected =
    allowed instanceof RegExp ? `values matching ${allowed.source}` : `of ${allowed.join(', ')}`;
  return z.string().transform((text, ctx): T[] => {
    const values = [...new Set(text.split(',').map((s) => s.trim()))];
    const unknown = values.filter((v) => !known(v));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown value ${JSON.stringify(unknown[0])}: give comma-separated values ${expected}`,
      });
      return z.NEVER;
    }
    return values as T[];
  });
}

/** The filters error issues and error metrics share: comma-separated lists and a workflow. */
export const errorFilters = {
  source: listParam(ERROR_SOURCES).optional(),
  type: listParam(ERROR_TYPE_PATTERN).optional(),
  severity: listParam(SEVERITIES).optional(),
  workflow: z.string().min(1).max(100).optional(),
};

/** The workflow a filter names (id or slug) in the caller's project; 404 when there is none. */
export async function filterWorkflow(
  db: Queryable,
  input: { projectId: string; ref: string | undefined },
): Promise<string | undefined> {
  if (input.ref === undefined) return undefined;
  const workflow = await findWorkflow(db, input.ref);
  if (!workflow || workflow.projectId !== input.projectId) throw notFound('workflow');
  return workflow.id;
}

const STATUS_FILTERS = ['open', 'all', 'unresolved', 'regressed', 'resolved', 'ignored'] as const;

const listSchema = z.object({
  ...errorFilters,
  status: z.enum(STATUS_FILTERS).default('open'),
  run: z.string().regex(UUID, 'a run id (UUID)').optional(),
  q: z.string().min(1).max(200).optional(),
  sort: z.enum(ISSUE_SORTS).default('last_seen'),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

const patchSchema = z.strictObject({ status: z.enum(ISSUE_STATUSES) });

/** The statuses a status filter stands for; undefined for all of them. */
function statusesOf(filter: (typeof STATUS_FILTERS)[number]): string[] | undefined {
  if (filter === 'all') return undefined;
  // Open issues need a look: those never triaged and those that came back after a fix.
  if (filter === 'open') return ['unresolved', 'regressed'];
  return [filter];
}

/** A list cursor: the sort it was made for, and where the page ended. */
interface ListCursor extends IssueCursor {
  sort: IssueSort;
  order: 'asc' | 'desc';
}

const cursorCheck =
  (sort: IssueSort, order: 'asc' | 'desc') =>
  (v: unknown): v is ListCursor => {
    if (typeof v !== 'object' || v === null) return false;
    const c = v as Partial<ListCursor>;
    return (
      c.sort === sort &&
      c.order === order &&
      typeof c.key === 'string' &&
      typeof c.id === 'string' &&
      UUID.test(c.id) &&
      isIssueCursorFor(sort, { key: c.key, id: c.id })
    );
  };

/** An issue as the API shows it. */
export function issueJson(i: Issue) {
  return {
    id: i.id,
    fingerprint: i.fingerprint,
    title: i.title,
    source: i.source,
    error_type: i.errorType,
    severity: i.severity,
    status: i.status,
    count: i.count,
    first_seen: iso(i.firstSeen),
    last_seen: iso(i.lastSeen),
    workflow_id: i.workflowId,
    node_id: i.nodeId,
    regressed_at: iso(i.regressedAt),
    status_changed_at: iso(i.statusChangedAt),
  };
}

function eventJson(e: IssueEvent) {
  return {
    id: e.id,
    ts: iso(e.ts),
    source: e.source,
    error_type: e.errorType,
    severity: e.severity,
    message: e.message,
    stack: e.stack,
    workflow_id: e.workflowId,
    run_id: e.runId,
    node_id: e.nodeId,
    user_id: e.userId,
    metadata: e.metadata,
  };
}

/** /api/errors: the project's error issues, one with its events and runs, and triage. */
export function errorRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, cursorCheck(query.sort, query.order));
    const projectId = projectOf(c);
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflowId = await filterWorkflow(db, { projectId, ref: query.workflow });
      const statuses = statusesOf(query.status);
      return listIssues(db, {
        projectId,
        ...(statuses ? { statuses } : {}),
        ...(query.source ? { sources: query.source } : {}),
        ...(query.type ? { types: query.type } : {}),
        ...(query.severity ? { severities: query.severity } : {}),
        ...(workflowId ? { workflowId } : {}),
        ...(query.run ? { runId: query.run } : {}),
        ...(query.q ? { q: query.q } : {}),
        sort: query.sort,
        order: query.order,
        limit: query.limit + 1,
        ...(after ? { after: { key: after.key, id: after.id } } : {}),
      });
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return c.json({
      items: items.map(issueJson),
      next_cursor:
        rows.length > query.limit && last
          ? cursor.encode({ sort: query.sort, order: query.order, ...last.position })
          : null,
    });
  });

  app.get('/:id', async (c) => {
    const id = uuidParam(c, 'id', 'issue');
    const found = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const issue = await findIssue(db, id);
      if (!issue) return undefined;
      return { issue, events: await recentEvents(db, id), runs: await issueRuns(db, id) };
    });
    if (!found) throw notFound('issue');
    return c.json({
      ...issueJson(found.issue),
      events: found.events.map(eventJson),
      runs: found.runs.map((r) => ({
        run_id: r.runId,
        count: r.count,
        last_seen: iso(r.lastSeen),
      })),
    });
  });

  app.patch('/:id', async (c) => {
    const id = uuidParam(c, 'id', 'issue');
    const input = await readJson(c, patchSchema);
    const result = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      setIssueStatus(db, { id, status: input.status }),
    );
    if (!result.ok) {
      if (result.error === 'not_found') throw notFound('issue');
      throw new AppError('forbidden', 'changing an issue needs the member role or above');
    }
    return c.json(issueJson(result.value));
  });

  return app;
}
