import { Hono } from 'hono';
import { z } from 'zod';
import { validateRule, type AlertRule } from '../../core/alert-rules.ts';
import { isRecord, type FieldProblem } from '../../core/field-problems.ts';
import type { Queryable } from '../../db/client.ts';
import { withTenant } from '../../db/client.ts';
import {
  createRule,
  deleteRule,
  existingChannelIds,
  findRule,
  isRuleNameTaken,
  listChannels,
  listRules,
  lockAlertNames,
  replaceRule,
  type RuleRow,
} from '../../db/queries/alert-config.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { notFound } from '../app-error.ts';
import { projectOf, requireRole } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { iso } from '../range.ts';
import { cursor, readQuery, uuidParam } from '../validate.ts';
import {
  invalidBody,
  isNameCursor,
  nameTaken,
  omitKeys,
  pageOf,
  pageQuery,
  problemsWithin,
  readBody,
} from './alert-input.ts';
import { filterWorkflow } from './errors.ts';

/** Fields of a rule answer that a body may carry back; they are ignored. */
const READ_ONLY = [
  'id',
  'kind',
  'state',
  'state_since',
  'last_value',
  'last_evaluated_at',
  'created_at',
  'updated_at',
] as const;

/** How a rule may name a channel instead of by id: `name:<channel name>`. */
export const CHANNEL_NAME_PREFIX = 'name:';

// Stands in for a channel name that names nothing, so the rest of the rule is still checked.
const NO_CHANNEL = '00000000-0000-0000-0000-000000000000';

/** A rule as the API shows it: its definition as sent (defaults filled in) and its state. */
export function ruleJson(r: RuleRow) {
  const d = r.definition;
  const t = d.threshold;
  const q = d.quiet_hours;
  return {
    id: r.id,
    name: r.name,
    workflow_id: r.workflowId,
    kind: r.kind,
    enabled: r.enabled,
    events: d.events,
    threshold: t && {
      metric: t.metric,
      op: t.op,
      value: t.value,
      window: t.window,
      for: t.for,
      resolve_value: t.resolve_value,
      source: t.source,
      type: t.type,
      severity: t.severity,
    },
    channels: r.channels,
    throttle: {
      group_wait: d.throttle.group_wait,
      group_interval: d.throttle.group_interval,
      repeat_interval: d.throttle.repeat_interval,
    },
    template: d.template,
    quiet_hours: q && { start: q.start, end: q.end, time_zone: q.time_zone, days: q.days },
    criticality: d.criticality,
    state: r.state,
    state_since: iso(r.stateSince),
    last_value: r.lastValue,
    last_evaluated_at: iso(r.lastEvaluatedAt),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
}

/** An answer's nulls inside the nested objects read as absent, so a rule read can be sent back. */
function withoutNulls(value: unknown): unknown {
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null));
}

/** A rule body ready for validateRule: read-only fields and nested nulls dropped. */
function ruleInput(body: unknown): unknown {
  const input = omitKeys(body, READ_ONLY);
  if (!isRecord(input)) return input;
  const copy = { ...input };
  for (const key of ['threshold', 'throttle', 'quiet_hours'] as const) {
    if (isRecord(copy[key])) copy[key] = withoutNulls(copy[key]);
  }
  return copy;
}

/**
 * Checks a rule body (`at` its place in a larger one) in the caller's project: validateRule,
 * then that its workflow and channels are the project's. Channels may be named
 * `name:<channel name>`; they are resolved against the project's channels as `db` sees them.
 */
export async function checkRule(
  db: Queryable,
  input: { projectId: string; body: unknown; at: string },
): Promise<{ rule?: AlertRule; problems: FieldProblem[] }> {
  const raw = ruleInput(input.body);
  const problems: FieldProblem[] = [];
  const unresolved = new Set<number>();
  if (isRecord(raw) && Array.isArray(raw.channels)) {
    const refs: unknown[] = raw.channels;
    if (refs.some((ref) => typeof ref === 'string' && ref.startsWith(CHANNEL_NAME_PREFIX))) {
      const byName = new Map<string, string[]>();
      for (const ch of await listChannels(db, { projectId: input.projectId })) {
        byName.set(ch.name, [...(byName.get(ch.name) ?? []), ch.id]);
      }
      raw.channels = refs.map((ref, i) => {
        if (typeof ref !== 'string' || !ref.startsWith(CHANNEL_NAME_PREFIX)) return ref;
        const name = ref.slice(CHANNEL_NAME_PREFIX.length).trim();
        const ids = byName.get(name) ?? [];
        if (ids.length === 1) return ids[0];
        unresolved.add(i);
        problems.push({
          path: `channels[${i}]`,
          message:
            ids.length === 0
              ? `no channel named "${name}" in this project`
              : `${ids.length} channels are named "${name}"; name it by id`,
        });
        return NO_CHANNEL;
      });
    }
  }
  const checked = validateRule(raw);
  if (!checked.ok) problems.push(...checked.error);
  if (checked.ok) {
    const rule = checked.value;
    if (rule.workflow_id !== null) {
      const workflow = await findWorkflow(db, rule.workflow_id);
      if (!workflow || workflow.projectId !== input.projectId) {
        problems.push({ path: 'workflow_id', message: 'no such workflow in this project' });
      }
    }
    const known = await existingChannelIds(db, { projectId: input.projectId, ids: rule.channels });
    const sent = (raw as { channels: unknown[] }).channels.map((ref) => String(ref).toLowerCase());
    for (const id of rule.channels) {
      const index = sent.indexOf(id);
      if (known.has(id) || unresolved.has(index)) continue;
      problems.push({ path: `channels[${index}]`, message: 'no such channel in this project' });
    }
  }
  if (problems.length > 0) return { problems: problemsWithin(input.at, problems) };
  return { rule: checked.ok ? checked.value : undefined, problems };
}

/** Takes the names lock and refuses a rule name another rule of its scope has (409). */
async function claimRuleName(
  db: Queryable,
  input: { projectId: string; rule: AlertRule; exceptId?: string },
): Promise<void> {
  const { projectId, rule } = input;
  await lockAlertNames(db, projectId);
  const taken = await isRuleNameTaken(db, {
    projectId,
    workflowId: rule.workflow_id,
    name: rule.name,
    ...(input.exceptId ? { exceptId: input.exceptId } : {}),
  });
  if (taken) throw nameTaken('rule of the same workflow', rule.name);
}

const listSchema = z.object({ ...pageQuery, workflow: z.string().min(1).max(100).optional() });

/**
 * /api/alerts/rules: which failures, or which threshold, alert whom. Viewers read them,
 * members and above create, replace and delete them.
 */
export function alertRuleRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, listSchema);
    const after = cursor.decode(query.cursor, isNameCursor);
    const projectId = projectOf(c);
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflowId = await filterWorkflow(db, { projectId, ref: query.workflow });
      return listRules(db, {
        projectId,
        ...(workflowId ? { workflowId } : {}),
        limit: query.limit + 1,
        ...(after ? { after } : {}),
      });
    });
    const page = pageOf(rows, query.limit, (r) => ({ name: r.name, id: r.id }));
    return c.json({ items: page.items.map(ruleJson), next_cursor: page.nextCursor });
  });

  app.post('/', requireRole('member'), async (c) => {
    const body = await readBody(c);
    const projectId = projectOf(c);
    const created = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const { rule, problems } = await checkRule(db, { projectId, body, at: '' });
      if (!rule) throw invalidBody(problems);
      await claimRuleName(db, { projectId, rule });
      return createRule(db, { projectId, rule });
    });
    return c.json(ruleJson(created), 201);
  });

  app.get('/:id', async (c) => {
    const id = uuidParam(c, 'id', 'rule');
    const found = await withTenant(deps.pool, c.get('caller').claims, (db) => findRule(db, id));
    if (!found) throw notFound('rule');
    return c.json(ruleJson(found));
  });

  app.put('/:id', requireRole('member'), async (c) => {
    const id = uuidParam(c, 'id', 'rule');
    const body = await readBody(c);
    const projectId = projectOf(c);
    const replaced = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      if (!(await findRule(db, id))) throw notFound('rule');
      const { rule, problems } = await checkRule(db, { projectId, body, at: '' });
      if (!rule) throw invalidBody(problems);
      await claimRuleName(db, { projectId, rule, exceptId: id });
      return replaceRule(db, { id, rule });
    });
    if (!replaced) throw notFound('rule');
    return c.json(ruleJson(replaced));
  });

  app.delete('/:id', requireRole('member'), async (c) => {
    const id = uuidParam(c, 'id', 'rule');
    const deleted = await withTenant(deps.pool, c.get('caller').claims, (db) => deleteRule(db, id));
    if (!deleted) throw notFound('rule');
    return c.body(null, 204);
  });

  return app;
}
