import { Hono } from 'hono';
import { z } from 'zod';
import type { AlertChannel, AlertRule } from '../../core/alert-rules.ts';
import { isRecord, type FieldProblem } from '../../core/field-problems.ts';
import { withTenant, type Queryable } from '../../db/client.ts';
import {
  createChannel,
  createRule,
  listChannels,
  listRules,
  lockAlertNames,
  replaceChannel,
  replaceRule,
} from '../../db/queries/alert-config.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { AppError, notFound } from '../app-error.ts';
import { atLeast, projectOf, requireRole } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { readJson, UUID } from '../validate.ts';
import { channelJson, checkChannel } from './alert-channels.ts';
import { invalidBody } from './alert-input.ts';
import { checkRule, ruleJson } from './alert-rules.ts';

/** Most channels and rules one settings form holds. */
export const MAX_SETTINGS_ITEMS = 100;

const formSchema = z.strictObject({
  workflow_id: z.string().regex(UUID, 'a workflow id (UUID)').nullish(),
  channels: z.array(z.unknown()).max(MAX_SETTINGS_ITEMS).default([]),
  rules: z.array(z.unknown()).max(MAX_SETTINGS_ITEMS).default([]),
});

/** The settings of a project (workflowId null) or of one of its workflows, as the form shows them. */
async function readSettings(
  db: Queryable,
  input: { projectId: string; workflowId: string | null },
) {
  const [channels, rules] = [
    await listChannels(db, { projectId: input.projectId }),
    await listRules(db, { projectId: input.projectId, workflowId: input.workflowId }),
  ];
  return {
    project_id: input.projectId,
    workflow_id: input.workflowId,
    channels: channels.map(channelJson),
    rules: rules.map(ruleJson),
  };
}

/** The trimmed name of an item of the form, if it has one, for upserting by name. */
const nameOf = (item: unknown): string | undefined =>
  isRecord(item) && typeof item.name === 'string' ? item.name.trim() : undefined;

/** Problems for names given twice in one list of the form (`channels[3].name`). */
function duplicateNames(
  items: unknown[],
  input: { at: string; key: (item: unknown) => string | undefined },
): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  items.forEach((item, i) => {
    const key = input.key(item);
    if (key === undefined) return;
    if (seen.has(key)) {
      problems.push({ path: `${input.at}[${i}].name`, message: 'is given twice in this form' });
    }
    seen.add(key);
  });
  return problems;
}

/** The first of the rows of each name (rows come sorted by name, then id). */
function byName<T extends { name: string }>(rows: T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const row of rows) if (!map.has(row.name)) map.set(row.name, row);
  return map;
}

/** Checks the channels of a form, each against the stored one of its name (which it replaces). */
async function checkChannels(
  db: Queryable,
  input: { projectId: string; items: unknown[] },
): Promise<{ writes: Array<{ id?: string; channel: AlertChannel }>; problems: FieldProblem[] }> {
  const stored = byName(await listChannels(db, { projectId: input.projectId }));
  const problems = duplicateNames(input.items, { at: 'channels', key: nameOf });
  const writes: Array<{ id?: string; channel: AlertChannel }> = [];
  input.items.forEach((item, i) => {
    const found = stored.get(nameOf(item) ?? '');
    const checked = checkChannel(item, {
      at: `channels[${i}]`,
      ...(found ? { stored: found } : {}),
    });
    if (checked.channel)
      writes.push({ ...(found ? { id: found.id } : {}), channel: checked.channel });
    problems.push(...checked.problems);
  });
  return { writes, problems };
}

/** Checks the rules of a form; each takes the form's workflow, and may name its channels. */
async function checkRules(
  db: Queryable,
  input: { projectId: string; workflowId: string | null; items: unknown[] },
): Promise<{ writes: Array<{ id?: string; rule: AlertRule }>; problems: FieldProblem[] }> {
  const stored = byName(
    await listRules(db, { projectId: input.projectId, workflowId: input.workflowId }),
  );
  const problems = duplicateNames(input.items, { at: 'rules', key: nameOf });
  const writes: Array<{ id?: string; rule: AlertRule }> = [];
  for (const [i, item] of input.items.entries()) {
    let body = item;
    if (isRecord(item)) {
      const own = item.workflow_id;
      const sameScope =
        own === undefined ||
        (own === null ? input.workflowId === null : String(own).toLowerCase() === input.workflowId);
      if (!sameScope) {
        problems.push({
          path: `rules[${i}].workflow_id`,
          message: "must be the form's workflow_id, or left out",
        });
      }
      body = { ...item, workflow_id: input.workflowId };
    }
    const checked = await checkRule(db, { projectId: input.projectId, body, at: `rules[${i}]` });
    const found = checked.rule && stored.get(checked.rule.name);
    if (checked.rule) writes.push({ ...(found ? { id: found.id } : {}), rule: checked.rule });
    problems.push(...checked.problems);
  }
  return { writes, problems };
}

/**
 * /api/alerts/settings: the dashboard's forms. One body upserts a project's (or a workflow's)
 * channels, then its rules, in one transaction: channels by name within the project, rules by
 * name within the project and workflow; rules may name their channels (`name:<channel>`).
 * Nothing is deleted. Members and above read and post them; a form with channels needs admin.
 */
export function alertSettingsRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.post('/', requireRole('member'), async (c) => {
    const form = await readJson(c, formSchema);
    const caller = c.get('caller');
    if (form.channels.length > 0 && !atLeast(caller.role, 'admin')) {
      throw new AppError('forbidden', 'changing channels needs the admin role or above');
    }
    const projectId = projectOf(c);
    const workflowId = form.workflow_id?.toLowerCase() ?? null;
    const settings = await withTenant(deps.pool, caller.claims, async (db) => {
      if (workflowId !== null) {
        const workflow = await findWorkflow(db, workflowId);
        if (!workflow || workflow.projectId !== projectId) {
          throw invalidBody([{ path: 'workflow_id', message: 'no such workflow in this project' }]);
        }
      }
      // Names are read and taken under the lock, so two forms cannot both create one name.
      await lockAlertNames(db, projectId);
      // Channels first, so that rules can name the channels of the same form.
      const channels = await checkChannels(db, { projectId, items: form.channels });
      if (channels.problems.length > 0) throw invalidBody(channels.problems);
      for (const { id, channel } of channels.writes) {
        if (id) await replaceChannel(db, { id, channel });
        else await createChannel(db, { projectId, channel });
      }
      const rules = await checkRules(db, { projectId, workflowId, items: form.rules });
      if (rules.problems.length > 0) throw invalidBody(rules.problems);
      for (const { id, rule } of rules.writes) {
        if (id) await replaceRule(db, { id, rule });
        else await createRule(db, { projectId, rule });
      }
      return readSettings(db, { projectId, workflowId });
    });
    return c.json(settings);
  });

  app.get('/:project/:workflow?', requireRole('member'), async (c) => {
    const projectId = projectOf(c);
    // Another project's settings read like a project that does not exist.
    if (c.req.param('project').toLowerCase() !== projectId.toLowerCase()) {
      throw notFound('project');
    }
    const ref = c.req.param('workflow');
    const settings = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      let workflowId: string | null = null;
      if (ref !== undefined) {
        const workflow = UUID.test(ref) ? await findWorkflow(db, ref) : undefined;
        if (!workflow || workflow.projectId !== projectId) throw notFound('workflow');
        workflowId = workflow.id;
      }
      return readSettings(db, { projectId, workflowId });
    });
    return c.json(settings);
  });

  return app;
}
