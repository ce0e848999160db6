import type { AlertChannel, AlertRule, ChannelType } from '../../core/alert-rules.ts';
import type { Queryable } from '../client.ts';

/**
 * What users configure about alerts (migration 0007): channels and rules (silences are in
 * alert-silences.ts).
 * Everything runs under withTenant, so RLS keeps each caller to its projects and roles: members
 * and above read channels, admins write them; viewers read rules and silences, members write
 * them. A write the policies refuse changes no row and reads as "not found".
 */

/** Where a page of a name-sorted list ended. */
export interface NameCursor {
  name: string;
  id: string;
}

/** Where a page of a newest-first list ended: the creation time as exact text, and the id. */
export interface TimeCursor {
  at: string;
  id: string;
}

// Timestamps to the microsecond as text, which a Date would round, for exact keyset cursors.
const MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
/** The text form of a timestamp column for a TimeCursor. */
export const cursorText = (column: string): string =>
  `to_char(${column} at time zone 'UTC', ${MICROS})`;

/**
 * Serialises the writes that name channels and rules in a project until the transaction ends,
 * so two requests cannot both find a name free and take it. Names are kept distinct by the API
 * rather than by a unique index: a name is for people (and the settings forms), and rows
 * written by other means need not follow it.
 */
export async function lockAlertNames(db: Queryable, projectId: string): Promise<void> {
  await db.query(
    `select pg_advisory_xact_lock(hashtextextended('meshhook.alert_names:' || $1, 0))`,
    [projectId],
  );
}

/** Whether another channel of the project has this name. */
export async function isChannelNameTaken(
  db: Queryable,
  input: { projectId: string; name: string; exceptId?: string },
): Promise<boolean> {
  const { rows } = await db.query<{ taken: boolean }>(
    `select exists (
       select from alert_channels
       where project_id = $1::uuid and name = $2 and id is distinct from $3::uuid) as taken`,
    [input.projectId, input.name, input.exceptId ?? null],
  );
  return rows[0]!.taken;
}

/** Whether another rule of the project and workflow (null: of every workflow) has this name. */
export async function isRuleNameTaken(
  db: Queryable,
  input: { projectId: string; workflowId: string | null; name: string; exceptId?: string },
): Promise<boolean> {
  const { rows } = await db.query<{ taken: boolean }>(
    `select exists (
       select from alert_rules
       where project_id = $1::uuid and workflow_id is not distinct from $2::uuid and name = $3
         and id is distinct from $4::uuid) as taken`,
    [input.projectId, input.workflowId, input.name, input.exceptId ?? null],
  );
  return rows[0]!.taken;
}

/** A stored channel; its config holds the credentials in full. */
export interface ChannelRow {
  id: string;
  projectId: string;
  name: string;
  type: ChannelType;
  config: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  lastStatus: 'sent' | 'failed' | null;
  lastAttemptAt: Date | null;
  lastError: string | null;
  failingSince: Date | null;
}

interface ChannelDbRow {
  id: string;
  project_id: string;
  name: string;
  type: ChannelType;
  config: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  last_status: 'sent' | 'failed' | null;
  last_attempt_at: Date | null;
  last_error: string | null;
  failing_since: Date | null;
}

const CHANNEL_COLUMNS = `id, project_id, name, type, config, created_at, updated_at, last_status,
  last_attempt_at, last_error, failing_since`;

const toChannel = (r: ChannelDbRow): ChannelRow => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  type: r.type,
  config: r.config,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastStatus: r.last_status,
  lastAttemptAt: r.last_attempt_at,
  lastError: r.last_error,
  failingSince: r.failing_since,
});

/** Creates a channel. */
export async function createChannel(
  db: Queryable,
  input: { projectId: string; channel: AlertChannel },
): Promise<ChannelRow> {
  const { rows } = await db.query<ChannelDbRow>(
    `insert into alert_channels (project_id, name, type, config)
     values ($1::uuid, $2, $3, $4::jsonb)
     returning ${CHANNEL_COLUMNS}`,
    [input.projectId, input.channel.name, input.channel.type, JSON.stringify(input.channel.config)],
  );
  return toChannel(rows[0]!);
}

/** Replaces a channel's name, type and config; undefined when not visible or not writable. */
export async function replaceChannel(
  db: Queryable,
  input: { id: string; channel: AlertChannel },
): Promise<ChannelRow | undefined> {
  const { rows } = await db.query<ChannelDbRow>(
    `update alert_channels set name = $2, type = $3, config = $4::jsonb, updated_at = now()
     where id = $1::uuid
     returning ${CHANNEL_COLUMNS}`,
    [input.id, input.channel.name, input.channel.type, JSON.stringify(input.channel.config)],
  );
  return rows[0] && toChannel(rows[0]);
}

/** One channel; undefined when it does not exist or the caller cannot see it. */
export async function findChannel(db: Queryable, id: string): Promise<ChannelRow | undefined> {
  const { rows } = await db.query<ChannelDbRow>(
    `select ${CHANNEL_COLUMNS} from alert_channels where id = $1::uuid`,
    [id],
  );
  return rows[0] && toChannel(rows[0]);
}

/** The channels of a project by name, after the cursor; pass no limit for all of them. */
export async function listChannels(
  db: Queryable,
  input: { projectId: string; limit?: number; after?: NameCursor },
): Promise<ChannelRow[]> {
  const { rows } = await db.query<ChannelDbRow>(
    `select ${CHANNEL_COLUMNS} from alert_channels
     where project_id = $1::uuid and ($2::text is null or (name, id) > ($2::text, $3::uuid))
     order by name, id
     limit $4`,
    [input.projectId, input.after?.name ?? null, input.after?.id ?? null, input.limit ?? null],
  );
  return rows.map(toChannel);
}

/**
 * Deletes a channel no rule sends to. `in_use` names the rules that still do (a rule left
 * without its channel would alert no one); `not_found` when it is not visible or not writable.
 */
export async function deleteChannel(
  db: Queryable,
  id: string,
): Promise<'deleted' | 'not_found' | { inUse: Array<{ id: string; name: string }> }> {
  const { rows: users } = await db.query<{ id: string; name: string }>(
    `select id, name from alert_rules where $1::uuid = any(channels) order by name, id`,
    [id],
  );
  if (users.length > 0) {
    const visible = await findChannel(db, id);
    return visible ? { inUse: users } : 'not_found';
  }
  const { rowCount } = await db.query(`delete from alert_channels where id = $1::uuid`, [id]);
  return rowCount ? 'deleted' : 'not_found';
}

/** Which of these ids are channels the caller sees in the project. */
export async function existingChannelIds(
  db: Queryable,
  input: { projectId: string; ids: string[] },
): Promise<Set<string>> {
  if (input.ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `select id from alert_channels where project_id = $1::uuid and id = any($2::uuid[])`,
    [input.projectId, input.ids],
  );
  return new Set(rows.map((r) => r.id));
}

/** A stored rule: the columns the engine filters on, and the validated definition. */
export interface RuleRow {
  id: string;
  projectId: string;
  workflowId: string | null;
  name: string;
  kind: 'events' | 'threshold';
  enabled: boolean;
  channels: string[];
  definition: AlertRule;
  state: 'ok' | 'pending' | 'firing';
  stateSince: Date | null;
  lastValue: number | null;
  lastEvaluatedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface RuleDbRow {
  id: string;
  project_id: string;
  workflow_id: string | null;
  name: string;
  kind: 'events' | 'threshold';
  enabled: boolean;
  channels: string[];
  definition: AlertRule;
  state: 'ok' | 'pending' | 'firing';
  state_since: Date | null;
  last_value: number | null;
  last_evaluated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const RULE_COLUMNS = `id, project_id, workflow_id, name, kind, enabled, channels, definition,
  state, state_since, last_value, last_evaluated_at, created_at, updated_at`;

const toRule = (r: RuleDbRow): RuleRow => ({
  id: r.id,
  projectId: r.project_id,
  workflowId: r.workflow_id,
  name: r.name,
  kind: r.kind,
  enabled: r.enabled,
  channels: r.channels,
  definition: r.definition,
  state: r.state,
  stateSince: r.state_since,
  lastValue: r.last_value,
  lastEvaluatedAt: r.last_evaluated_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The columns a rule is stored in: the filtered ones beside the definition they copy. */
const ruleValues = (rule: AlertRule) => [
  rule.workflow_id,
  rule.name,
  rule.events ? 'events' : 'threshold',
  rule.enabled,
  rule.channels,
  JSON.stringify(rule),
];

/** Creates a rule. */
export async function createRule(
  db: Queryable,
  input: { projectId: string; rule: AlertRule },
): Promise<RuleRow> {
  const { rows } = await db.query<RuleDbRow>(
    `insert into alert_rules (project_id, workflow_id, name, kind, enabled, channels, definition)
     values ($1::uuid, $2::uuid, $3, $4, $5, $6::uuid[], $7::jsonb)
     returning ${RULE_COLUMNS}`,
    [input.projectId, ...ruleValues(input.rule)],
  );
  return toRule(rows[0]!);
}

// A rule that becomes an event rule has no threshold state any more; a threshold rule keeps
// its state across edits, so a firing alert does not fire again because its text changed.
/** Replaces a rule; undefined when not visible or not writable. */
export async function replaceRule(
  db: Queryable,
  input: { id: string; rule: AlertRule },
): Promise<RuleRow | undefined> {
  const { rows } = await db.query<RuleDbRow>(
    `update alert_rules
     set workflow_id = $2::uuid, name = $3, kind = $4, enabled = $5, channels = $6::uuid[],
         definition = $7::jsonb, updated_at = now(),
         state = case when $4 = 'events' then 'ok' else state end,
         state_since = case when $4 = 'events' then null else state_since end,
         last_value = case when $4 = 'events' then null else last_value end
     where id = $1::uuid
     returning ${RULE_COLUMNS}`,
    [input.id, ...ruleValues(input.rule)],
  );
  return rows[0] && toRule(rows[0]);
}

/** One rule; undefined when it does not exist or the caller cannot see it. */
export async function findRule(db: Queryable, id: string): Promise<RuleRow | undefined> {
  const { rows } = await db.query<RuleDbRow>(
    `select ${RULE_COLUMNS} from alert_rules where id = $1::uuid`,
    [id],
  );
  return rows[0] && toRule(rows[0]);
}

/**
 * The rules of a project by name, after the cursor. `workflowId` narrows to the rules of one
 * workflow; `null` to the rules of every workflow (workflow_id null). No limit: all of them.
 */
export async function listRules(
  db: Queryable,
  input: { projectId: string; workflowId?: string | null; limit?: number; after?: NameCursor },
): Promise<RuleRow[]> {
  const scoped = input.workflowId !== undefined;
  const { rows } = await db.query<RuleDbRow>(
    `select ${RULE_COLUMNS} from alert_rules
     where project_id = $1::uuid
       and (not $2::boolean or workflow_id is not distinct from $3::uuid)
       and ($4::text is null or (name, id) > ($4::text, $5::uuid))
     order by name, id
     limit $6`,
    [
      input.projectId,
      scoped,
      input.workflowId ?? null,
      input.after?.name ?? null,
      input.after?.id ?? null,
      input.limit ?? null,
    ],
  );
  return rows.map(toRule);
}

/** Deletes a rule (its throttling groups and silences go with it); false when not visible. */
export async function deleteRule(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`delete from alert_rules where id = $1::uuid`, [id]);
  return (rowCount ?? 0) > 0;
}
