import { Hono } from 'hono';
import { z } from 'zod';
import type { FieldProblem } from '../../core/field-problems.ts';
import { withTenant } from '../../db/client.ts';
import { findRule } from '../../db/queries/alert-config.ts';
import {
  createSilence,
  endSilence,
  findSilence,
  listSilences,
  type SilenceRow,
} from '../../db/queries/alert-silences.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { notFound } from '../app-error.ts';
import { projectOf, requireRole } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { instant, iso, nowOf } from '../range.ts';
import { cursor, readJson, readQuery, UUID, uuidParam } from '../validate.ts';
import { invalidBody, isTimeCursor, pageOf, pageQuery } from './alert-input.ts';

/** Longest comment on a silence. */
export const MAX_SILENCE_COMMENT = 1_000;

const id = (what: string) => z.string().regex(UUID, `a ${what} id (UUID)`);

const createSchema = z.strictObject({
  rule_id: id('rule').nullish(),
  workflow_id: id('workflow').nullish(),
  starts_at: instant.nullish(),
  ends_at: instant,
  comment: z.string().max(MAX_SILENCE_COMMENT).nullish(),
});

const listSchema = z.object({
  ...pageQuery,
  active: z.enum(['true', 'false']).optional(),
});

/** A silence as the API shows it; `active` says whether it mutes alerts now. */
export function silenceJson(s: SilenceRow) {
  return {
    id: s.id,
    rule_id: s.ruleId,
    workflow_id: s.workflowId,
    starts_at: iso(s.startsAt),
    ends_at: iso(s.endsAt),
    comment: s.comment,
    created_by: s.createdBy,
    created_at: iso(s.createdAt),
    active: s.active,
  };
}

/**
 * /api/alerts/silences: alerts of a rule and/or a workflow (or all of the project's) muted
 * until a time. Viewers read them; members and above create and end them.
 */
export function alertSilenceRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, isTimeCursor);
    const rows = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      listSilences(db, {
        projectId: projectOf(c),
        ...(query.active ? { active: query.active === 'true' } : {}),
        limit: query.limit + 1,
        ...(after ? { after } : {}),
      }),
    );
    const page = pageOf(rows, query.limit, (s) => s.position);
    return c.json({ items: page.items.map(silenceJson), next_cursor: page.nextCursor });
  });

  app.post('/', requireRole('member'), async (c) => {
    const input = await readJson(c, createSchema);
    const problems: FieldProblem[] = [];
    const startsAt = input.starts_at ?? nowOf(deps);
    if (input.ends_at <= nowOf(deps)) {
      problems.push({ path: 'ends_at', message: 'must be in the future' });
    } else if (input.ends_at <= startsAt) {
      problems.push({ path: 'ends_at', message: 'must be after starts_at' });
    }
    const projectId = projectOf(c);
    const caller = c.get('caller');
    const created = await withTenant(deps.pool, caller.claims, async (db) => {
      if (input.rule_id) {
        const rule = await findRule(db, input.rule_id);
        if (!rule || rule.projectId !== projectId) {
          problems.push({ path: 'rule_id', message: 'no such rule in this project' });
        }
      }
      if (input.workflow_id) {
        const workflow = await findWorkflow(db, input.workflow_id);
        if (!workflow || workflow.projectId !== projectId) {
          problems.push({ path: 'workflow_id', message: 'no such workflow in this project' });
        }
      }
      if (problems.length > 0) throw invalidBody(problems);
      return createSilence(db, {
        projectId,
        ruleId: input.rule_id ?? null,
        workflowId: input.workflow_id ?? null,
        startsAt: input.starts_at == null ? null : new Date(input.starts_at),
        endsAt: new Date(input.ends_at),
        comment: input.comment ?? null,
        createdBy: caller.userId ?? null,
      });
    });
    return c.json(silenceJson(created), 201);
  });

  app.get('/:id', async (c) => {
    const silenceId = uuidParam(c, 'id', 'silence');
    const found = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      findSilence(db, silenceId),
    );
    if (!found) throw notFound('silence');
    return c.json(silenceJson(found));
  });

  // Ends the silence rather than deleting it: the log's "muted by silence … until …" reasons
  // keep pointing at a row (one not started yet is deleted, having muted nothing).
  app.delete('/:id', requireRole('member'), async (c) => {
    const silenceId = uuidParam(c, 'id', 'silence');
    const ended = await withTenant(deps.pool, c.get('caller').claims, (db) =>
      endSilence(db, silenceId),
    );
    if (!ended) throw notFound('silence');
    return c.body(null, 204);
  });

  return app;
}
