import type { ChannelType } from '../../core/alert-channels.ts';
import type { GroupState } from '../../core/alert-throttle.ts';
import type { Silence } from '../../core/quiet-hours.ts';
import type { Queryable } from '../client.ts';

/** Notification channel waking evaluators and dispatchers (payload: what is waiting). */
export const ALERTS_CHANNEL = 'meshhook_alerts';

/** A failure waiting in the outbox. */
export interface OutboxEvent {
  id: string;
  projectId: string;
  type: string;
  workflowId: string | null;
  runId: string | null;
  nodeId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Takes up to `limit` outbox rows for this transaction: they are deleted at its commit, and
 * other evaluators skip them meanwhile, so each failure is evaluated once.
 */
export async function takeOutbox(db: Queryable, limit: number): Promise<OutboxEvent[]> {
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    type: string;
    workflow_id: string | null;
    run_id: string | null;
    node_id: string | null;
    details: Record<string, unknown>;
    created_at: Date;
  }>(
    `delete from alert_outbox
     where id in (select id from alert_outbox order by id limit $1 for update skip locked)
     returning id, project_id, type, workflow_id, run_id, node_id, details, created_at`,
    [limit],
  );
  return rows
    .map((r) => ({
      id: r.id,
      projectId: r.project_id,
      type: r.type,
      workflowId: r.workflow_id,
      runId: r.run_id,
      nodeId: r.node_id,
      details: r.details,
      createdAt: r.created_at,
    }))
    .sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
}

/** Puts an event in the outbox (the watchdog's, the internal trigger endpoint's). */
export async function addToOutbox(
  db: Queryable,
  event: Omit<OutboxEvent, 'id' | 'createdAt'>,
): Promise<void> {
  await db.query(
    `insert into alert_outbox (project_id, type, workflow_id, run_id, node_id, details)
     select $1, $2, $3, $4, $5, $6 where meshhook.alerting($1)`,
    [
      event.projectId,
      event.type,
      event.workflowId,
      event.runId,
      event.nodeId,
      JSON.stringify(event.details),
    ],
  );
}

/** A rule as the engine reads it. */
export interface RuleRow {
  id: string;
  projectId: string;
  workflowId: string | null;
  name: string;
  kind: 'events' | 'threshold';
  channels: string[];
  /** The validated definition (src/core/alert-rules.ts). */
  definition: Record<string, unknown>;
  state: 'ok' | 'pending' | 'firing';
  stateSince: Date | null;
  lastValue: number | null;
}

interface RuleDbRow {
  id: string;
  project_id: string;
  workflow_id: string | null;
  name: string;
  kind: 'events' | 'threshold';
  channels: string[];
  definition: Record<string, unknown>;
  state: 'ok' | 'pending' | 'firing';
  state_since: Date | null;
  last_value: number | null;
}

const toRule = (r: RuleDbRow): RuleRow => ({
  id: r.id,
  projectId: r.project_id,
  workflowId: r.workflow_id,
  name: r.name,
  kind: r.kind,
  channels: r.channels,
  definition: r.definition,
  state: r.state,
  stateSince: r.state_since,
  lastValue: r.last_value,
});

const RULE_COLUMNS = `id, project_id, workflow_id, name, kind, channels, definition, state,
  state_since, last_value`;

/** The enabled rules of the given kind in these projects. */
export async function enabledRules(
  db: Queryable,
  input: { projectIds: string[]; kind: 'events' | 'threshold' },
): Promise<RuleRow[]> {
  const { rows } = await db.query<RuleDbRow>(
    `select ${RULE_COLUMNS} from alert_rules
     where project_id = any($1::uuid[]) and enabled and kind = $2
     order by id`,
    [input.projectIds, input.kind],
  );
  return rows.map(toRule);
}

/** The silences of these projects that are on at `at` (src/core/quiet-hours.ts's Silence). */
export async function activeSilences(
  db: Queryable,
  input: { projectIds: string[]; at: Date },
): Promise<Array<Silence & { project_id: string }>> {
  const { rows } = await db.query<Silence & { project_id: string }>(
    `select id, project_id, rule_id, workflow_id, starts_at, ends_at from alert_silences
     where project_id = any($1::uuid[]) and starts_at <= $2 and ends_at > $2`,
    [input.projectIds, input.at],
  );
  return rows;
}

/** Workflow slugs by id, for messages. */
export async function workflowSlugs(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; slug: string }>(
    `select id, slug from workflows where id = any($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.slug]));
}

/** A group's throttling state (src/core/alert-throttle.ts) and where it belongs. */
export interface StoredGroup {
  ruleId: string;
  groupKey: string;
  projectId: string;
  state: GroupState;
}

interface GroupRow {
  rule_id: string;
  group_key: string;
  project_id: string;
  first_pending_at: Date | null;
  pending_count: number;
  last_sent_at: Date | null;
  observed: GroupState['observed'];
  announced: GroupState['announced'];
  due_at: Date | null;
}

const GROUP_COLUMNS = `g.rule_id, g.group_key, g.project_id, g.first_pending_at, g.pending_count,
  g.last_sent_at, g.observed, g.announced, g.due_at`;

const toGroup = (r: GroupRow): StoredGroup => ({
  ruleId: r.rule_id,
  groupKey: r.group_key,
  projectId: r.project_id,
  state: {
    firstPendingAt: r.first_pending_at,
    pendingCount: r.pending_count,
    lastSentAt: r.last_sent_at,
    observed: r.observed,
    announced: r.announced,
    dueAt: r.due_at,
  },
});

/** The map key of a group. */
export const groupId = (ruleId: string, groupKey: string): string => `${ruleId}/${groupKey}`;

/**
 * Locks the groups for this transaction, creating those that do not exist yet, in key order so
 * that two evaluators never wait on each other in a cycle.
 */
export async function lockGroups(
  db: Queryable,
  keys: Array<{ ruleId: string; groupKey: string; projectId: string }>,
): Promise<Map<string, StoredGroup>> {
  const unique = new Map(keys.map((k) => [groupId(k.ruleId, k.groupKey), k]));
  const sorted = [...unique.values()].sort((a, b) =>
    a.ruleId === b.ruleId ? a.groupKey.localeCompare(b.groupKey) : a.ruleId < b.ruleId ? -1 : 1,
  );
  const columns = [sorted.map((k) => k.ruleId), sorted.map((k) => k.groupKey)];
  await db.query(
    `insert into alert_groups (rule_id, group_key, project_id)
     select * from unnest($1::uuid[], $2::text[], $3::uuid[])
     on conflict do nothing`,
    [...columns, sorted.map((k) => k.projectId)],
  );
  const { rows } = await db.query<GroupRow>(
    `select ${GROUP_COLUMNS}
     from alert_groups g
     join unnest($1::uuid[], $2::text[]) with ordinality as k(rule_id, group_key, n)
       on g.rule_id = k.rule_id and g.group_key = k.group_key
     order by k.n
     for update of g`,
    columns,
  );
  return new Map(rows.map((r) => [groupId(r.rule_id, r.group_key), toGroup(r)]));
}

/** Writes back the groups changed in this transaction. */
export async function saveGroups(db: Queryable, groups: StoredGroup[]): Promise<void> {
  if (groups.length === 0) return;
  await db.query(
    `update alert_groups g
     set first_pending_at = t.first_pending_at, pending_count = t.pending_count,
         last_sent_at = t.last_sent_at, observed = t.observed, announced = t.announced,
         due_at = t.due_at
     from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[], $5::timestamptz[],
                 $6::text[], $7::text[], $8::timestamptz[])
       as t(rule_id, group_key, first_pending_at, pending_count, last_sent_at, observed,
            announced, due_at)
     where g.rule_id = t.rule_id and g.group_key = t.group_key`,
    [
      groups.map((g) => g.ruleId),
      groups.map((g) => g.groupKey),
      groups.map((g) => g.state.firstPendingAt),
      groups.map((g) => g.state.pendingCount),
      groups.map((g) => g.state.lastSentAt),
      groups.map((g) => g.state.observed),
      groups.map((g) => g.state.announced),
      groups.map((g) => g.state.dueAt),
    ],
  );
}

/** Takes the groups that are due (a held message, a repeat), locked for this transaction. */
export async function takeDueGroups(db: Queryable, limit: number): Promise<StoredGroup[]> {
  const { rows } = await db.query<GroupRow>(
    `select ${GROUP_COLUMNS} from alert_groups g
     where g.due_at <= now()
     order by g.due_at limit $1
     for update skip locked`,
    [limit],
  );
  return rows.map(toGroup);
}

/** One row of the alert log to write. */
export interface NewAlertLog {
  id?: string;
  projectId: string;
  ruleId: string | null;
  channelId: string | null;
  groupKey: string | null;
  event: string;
  status: 'pending' | 'suppressed' | 'muted';
  covers?: number;
  messageId?: string | null;
  reason?: string | null;
  workflowId: string | null;
  runId: string | null;
  alert: Record<string, unknown>;
  /** When a pending delivery is due. */
  dueAt?: Date | null;
}

/** Appends rows to the alert log. */
export async function insertAlertLogs(db: Queryable, logs: NewAlertLog[]): Promise<void> {
  if (logs.length === 0) return;
  await db.query(
    `insert into alert_logs
       (id, project_id, rule_id, channel_id, group_key, event, status, covers, message_id, reason,
        workflow_id, run_id, alert, due_at)
     select coalesce(id, gen_random_uuid()), project_id, rule_id, channel_id, group_key, event,
            status, covers, message_id, reason, workflow_id, run_id, alert, due_at
     from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],
                 $7::text[], $8::int[], $9::uuid[], $10::text[], $11::uuid[], $12::uuid[],
                 $13::jsonb[], $14::timestamptz[])
       as t(id, project_id, rule_id, channel_id, group_key, event, status, covers, message_id,
            reason, workflow_id, run_id, alert, due_at)`,
    [
      logs.map((l) => l.id ?? null),
      logs.map((l) => l.projectId),
      logs.map((l) => l.ruleId),
      logs.map((l) => l.channelId),
      logs.map((l) => l.groupKey),
      logs.map((l) => l.event),
      logs.map((l) => l.status),
      logs.map((l) => l.covers ?? 1),
      logs.map((l) => l.messageId ?? null),
      logs.map((l) => l.reason ?? null),
      logs.map((l) => l.workflowId),
      logs.map((l) => l.runId),
      logs.map((l) => JSON.stringify(l.alert)),
      logs.map((l) => l.dueAt ?? null),
    ],
  );
}

/**
 * Marks the held failures of a group as covered by a message, oldest first; returns the alert
 * of the first of them (what the message describes) and how many there were.
 */
export async function coverHeld(
  db: Queryable,
  input: { ruleId: string; groupKey: string; messageId: string },
): Promise<{ count: number; first?: Record<string, unknown>; last?: Record<string, unknown> }> {
  const { rows } = await db.query<{ alert: Record<string, unknown>; created_at: Date }>(
    `update alert_logs l set covered_by = $3
     where l.rule_id = $1 and l.group_key = $2 and l.status = 'suppressed' and l.covered_by is null
     returning l.alert, l.created_at`,
    [input.ruleId, input.groupKey, input.messageId],
  );
  rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  return {
    count: rows.length,
    ...(rows[0] ? { first: rows[0].alert, last: rows[rows.length - 1]!.alert } : {}),
  };
}

/** A channel as the engine sends to it. */
export interface ChannelRow {
  id: string;
  projectId: string;
  name: string;
  type: ChannelType;
  config: Record<string, unknown>;
}

/** A channel as the engine sends to it. */
export interface ChannelRow {
  id: string;
  projectId: string;
  name: string;
  type: ChannelType;
  config: Record<string, unknown>;
}

/** The channels of these ids, as the engine sends to them. */
export async function readChannels(db: Queryable, ids: string[]): Promise<Map<string, ChannelRow>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    name: string;
    type: ChannelType;
    config: Record<string, unknown>;
  }>(`select id, project_id, name, type, config from alert_channels where id = any($1::uuid[])`, [
    ids,
  ]);
  return new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, projectId: r.project_id, name: r.name, type: r.type, config: r.config },
    ]),
  );
}

/** A delivery a dispatcher holds. */
export interface ClaimedDelivery {
  id: string;
  projectId: string;
  ruleId: string | null;
  channelId: string;
  event: string;
  covers: number;
  messageId: string | null;
  alert: Record<string, unknown>;
  /** This attempt's number, from 1. */
  attempt: number;
}

/**
 * Claims due deliveries (pending and due, or sending with an expired lease: their dispatcher
 * died mid-send) for `leaseMs`, skipping those another dispatcher holds.
 */
export async function claimDeliveries(
  db: Queryable,
  input: { dispatcherId: string; limit: number; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<{
    id: string;
    created_at: Date;
    project_id: string;
    rule_id: string | null;
    channel_id: string;
    event: string;
    covers: number;
    message_id: string | null;
    alert: Record<string, unknown>;
    attempts: number;
  }>(
    `update alert_logs l
     set status = 'sending', attempts = l.attempts + 1, locked_by = $2,
         due_at = now() + make_interval(secs => $3::float8 / 1000)
     from (
       select id, created_at from alert_logs
       where status in ('pending', 'sending') and due_at <= now()
       order by due_at
       limit $1
       for update skip locked
     ) due
     where l.id = due.id and l.created_at = due.created_at
     returning l.id, l.created_at, l.project_id, l.rule_id, l.channel_id, l.event, l.covers,
               l.message_id, l.alert, l.attempts`,
    [input.limit, input.dispatcherId, input.leaseMs],
  );
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    ruleId: r.rule_id,
    channelId: r.channel_id,
    event: r.event,
    covers: r.covers,
    messageId: r.message_id,
    alert: r.alert,
    attempt: r.attempts,
  }));
}

/** What one attempt to send a delivery came to. */
export interface AttemptOutcome {
  ok: boolean;
  /** A failure no retry can mend (a revoked hook, a 4xx): the delivery fails now. */
  permanent?: boolean;
  statusCode?: number;
  error?: string;
  durationMs: number;
  /** When a retry is due, if there is one. */
  retryAt?: Date;
}

/**
 * Records an attempt and settles the delivery (sent, failed, or pending again for a retry),
 * only while this dispatcher still holds it; and the channel's last status. Returns whether
 * the dispatcher still held it.
 */
export async function completeDelivery(
  db: Queryable,
  input: { delivery: ClaimedDelivery; dispatcherId: string; outcome: AttemptOutcome },
): Promise<boolean> {
  const { delivery, outcome } = input;
  const status = outcome.ok ? 'sent' : outcome.retryAt ? 'pending' : 'failed';
  const { rows } = await db.query<{ held: boolean }>(
    `with settled as (
       update alert_logs
       set status = $3, due_at = $4, locked_by = null, last_error = $5,
           permanent = $6, sent_at = case when $3 = 'sent' then now() end
       where id = $1 and locked_by = $2 and status = 'sending'
       returning id
     ), attempt as (
       insert into alert_attempts (log_id, attempt, project_id, outcome, status_code, error, duration_ms)
       select $1, $7, $8, case when $3 = 'sent' then 'sent' else 'failed' end, $9, $5, $10
       from settled
       on conflict do nothing
     ), channel as (
       update alert_channels
       set last_status = case when $3 = 'sent' then 'sent' else 'failed' end,
           last_attempt_at = now(), last_error = $5,
           failing_since = case when $3 = 'sent' then null
                                when $6 then coalesce(failing_since, now())
                                else failing_since end
       where id = $11 and exists (select from settled)
     )
     select exists (select from settled) as held`,
    [
      delivery.id,
      input.dispatcherId,
      status,
      outcome.retryAt ?? null,
      outcome.error ?? null,
      outcome.permanent ?? false,
      delivery.attempt,
      delivery.projectId,
      outcome.statusCode ?? null,
      Math.round(outcome.durationMs),
      delivery.channelId,
    ],
  );
  return rows[0]?.held ?? false;
}

/** When the next delivery falls due, for the dispatcher's timer. */
export async function nextDeliveryDueAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(
    `select least(
       (select min(due_at) from alert_logs where status in ('pending', 'sending')),
       (select min(due_at) from alert_groups)) as at`,
  );
  return rows[0]?.at ?? undefined;
}
