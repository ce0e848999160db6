import { Hono } from 'hono';
import { z } from 'zod';
import { LOG_EVENTS } from '../../core/alert-names.ts';
import { withTenant } from '../../db/client.ts';
import {
  findAlertLog,
  LOG_STATUSES,
  listAlertLog,
  type AlertLogEntry,
} from '../../db/queries/alert-log.ts';
import { notFound } from '../app-error.ts';
import { projectOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { iso } from '../range.ts';
import { cursor, readQuery, UUID, uuidParam } from '../validate.ts';
import { isTimeCursor, pageOf, pageQuery } from './alert-input.ts';
import { filterWorkflow, listParam } from './errors.ts';

const uuid = (what: string) => z.string().regex(UUID, `a ${what} id (UUID)`).optional();

const listSchema = z.object({
  ...pageQuery,
  rule: uuid('rule'),
  channel: uuid('channel'),
  status: listParam(LOG_STATUSES).optional(),
  event: listParam(LOG_EVENTS).optional(),
  workflow: z.string().min(1).max(100).optional(),
  run: uuid('run'),
});

/** A log row as the API shows it, its attempts under `attempt_log`. */
export function logJson(e: AlertLogEntry) {
  return {
    id: e.id,
    rule_id: e.ruleId,
    channel_id: e.channelId,
    event: e.event,
    status: e.status,
    attempts: e.attempts,
    last_error: e.lastError,
    permanent: e.permanent,
    created_at: iso(e.createdAt),
    sent_at: iso(e.sentAt),
    covers: e.covers,
    covered_by: e.coveredBy,
    message_id: e.messageId,
    reason: e.reason,
    workflow_id: e.workflowId,
    run_id: e.runId,
    attempt_log: e.attemptLog.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at),
      outcome: a.outcome,
      status_code: a.statusCode,
      error: a.error,
      duration_ms: a.durationMs,
    })),
  };
}

/** /api/alerts/log: every alert decision of the project, newest first, for viewers and above. */
export function alertLogRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, isTimeCursor);
    const projectId = projectOf(c);
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflowId = await filterWorkflow(db, { projectId, ref: query.workflow });
      return listAlertLog(db, {
        projectId,
        filter: {
          ...(query.rule ? { ruleId: query.rule } : {}),
          ...(query.channel ? { channelId: query.channel } : {}),
          ...(query.status ? { statuses: query.status } : {}),
          ...(query.event ? { events: query.event } : {}),
          ...(workflowId ? { workflowId } : {}),
          ...(query.run ? { runId: query.run } : {}),
        },
        limit: query.limit + 1,
        ...(after ? { after } : {}),
      });
    });
    const page = pageOf(rows, query.limit, (e) => e.position);
    return c.json({ items: page.items.map(logJson), next_cursor: page.nextCursor });
  });

  app.get('/:id', async (c) => {
    const id = uuidParam(c, 'id', 'delivery');
    const found = await withTenant(deps.pool, c.get('caller').claims, (db) => findAlertLog(db, id));
    if (!found) throw notFound('delivery');
    return c.json({ ...logJson(found), alert: found.alert ?? null });
  });

  return app;
}
