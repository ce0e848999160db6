import type pg from 'pg';
import { matchesEvent, type AlertEventType, type AlertRule } from '../../core/alert-rules.ts';
import { decideGroup } from '../../core/alert-throttle.ts';
import { activeSilence, isQuiet, quietUntil } from '../../core/quiet-hours.ts';
import { withTransaction, type Queryable } from '../../db/client.ts';
import {
  activeSilences,
  coverHeld,
  enabledRules,
  groupId,
  insertAlertLogs,
  lockGroups,
  saveGroups,
  takeDueGroups,
  takeOutbox,
  workflowSlugs,
  type NewAlertLog,
  type OutboxEvent,
  type RuleRow,
  type StoredGroup,
} from '../../db/queries/alert-delivery.ts';

/** Outbox rows one transaction evaluates at most. */
const BATCH = 200;

/** What an alert message is made of, as stored with each log row (src/core/alert-message.ts). */
export type StoredAlert = Record<string, unknown>;

/** What one evaluation pass did. */
export interface Evaluated {
  events: number;
  /** Deliveries created (one per channel of each message). */
  deliveries: number;
  suppressed: number;
  muted: number;
}

/**
 * Turns failures into alert decisions, in the database: each pass takes outbox rows (SKIP
 * LOCKED, deleted at commit), matches them against the enabled event rules, and in the same
 * transaction writes a delivery per channel, or a suppressed row (held for a later message), or
 * a muted row (a silence or quiet hours), and the groups' throttling state. Then it flushes
 * the groups whose held failures are due. Any number of processes may run it at once.
 */
export class AlertEvaluator {
  readonly #pool: pg.Pool;
  readonly #publicUrl: string;
  readonly #now: () => Date;

  constructor(options: { pool: pg.Pool; publicUrl: string; now?: () => Date }) {
    this.#pool = options.pool;
    this.#publicUrl = options.publicUrl.replace(/\/$/, '');
    this.#now = options.now ?? (() => new Date());
  }

  /** Evaluates everything waiting (the outbox, then due groups); returns what it did. */
  async run(): Promise<Evaluated> {
    const total: Evaluated = { events: 0, deliveries: 0, suppressed: 0, muted: 0 };
    for (;;) {
      const pass = await withTransaction(this.#pool, (tx) => this.#evaluate(tx));
      add(total, pass);
      if (pass.events < BATCH) break;
    }
    for (;;) {
      const flushed = await withTransaction(this.#pool, (tx) => this.#flush(tx));
      add(total, flushed);
      if (flushed.events < BATCH) break;
    }
    return total;
  }

  async #evaluate(tx: Queryable): Promise<Evaluated> {
    const events = await takeOutbox(tx, BATCH);
    const done: Evaluated = { events: events.length, deliveries: 0, suppressed: 0, muted: 0 };
    if (events.length === 0) return done;
    const now = this.#now();
    const projectIds = [...new Set(events.map((e) => e.projectId))];
    const rules = await enabledRules(tx, { projectIds, kind: 'events' });
    const silences = await activeSilences(tx, { projectIds, at: now });
    const slugs = await workflowSlugs(tx, [
      ...new Set(events.flatMap((e) => (e.workflowId ? [e.workflowId] : []))),
    ]);

    const matches: Array<{ event: OutboxEvent; rule: RuleRow }> = [];
    for (const event of events) {
      for (const rule of rules) {
        if (rule.projectId !== event.projectId) continue;
        const failure = {
          type: event.type as AlertEventType,
          workflowId: event.workflowId,
          runId: event.runId,
          nodeId: event.nodeId,
        };
        if (matchesEvent(definitionOf(rule), failure)) matches.push({ event, rule });
      }
    }

    const logs: NewAlertLog[] = [];
    const live: typeof matches = [];
    for (const match of matches) {
      const muted = this.#mutedBy(match.rule, match.event, silences, now);
      if (!muted) {
        live.push(match);
        continue;
      }
      done.muted++;
      logs.push({
        ...this.#logBase(match.rule, match.event, slugs),
        channelId: null,
        status: 'muted',
        reason: muted,
      });
    }

    const groups = await lockGroups(
      tx,
      live.map(({ rule, event }) => ({
        ruleId: rule.id,
        groupKey: event.workflowId ?? '',
        projectId: rule.projectId,
      })),
    );
    // Decided on the clock read once the groups are locked: another evaluator that held a lock
    // first may have sent a message after this pass began, and a decision taken "before" that
    // send would hold a failure that is due now.
    const decidedAt = this.#now();
    const changed = new Map<string, StoredGroup>();
    for (const { rule, event } of live) {
      const key = groupId(rule.id, event.workflowId ?? '');
      const group = changed.get(key) ?? groups.get(key)!;
      const decision = decideGroup({
        state: group.state,
        now: latest(decidedAt, group.state.lastSentAt),
        throttle: definitionOf(rule).throttle,
        event: { kind: 'failure' },
      });
      changed.set(key, { ...group, state: decision.nextState });
      const base = this.#logBase(rule, event, slugs);
      if (decision.action === 'hold') {
        done.suppressed++;
        logs.push({ ...base, channelId: null, status: 'suppressed' });
        continue;
      }
      const message = await this.#message(tx, { rule, group, base });
      done.deliveries += message.length;
      // The failures held before this one are covered by the message too; this one is its
      // subject, so it needs no row of its own.
      logs.push(...message);
    }
    await saveGroups(tx, [...changed.values()]);
    await insertAlertLogs(tx, logs);
    return done;
  }

  /** Sends what due groups held back: one message per group, covering every held failure. */
  async #flush(tx: Queryable): Promise<Evaluated> {
    const due = await takeDueGroups(tx, BATCH);
    const done: Evaluated = { events: due.length, deliveries: 0, suppressed: 0, muted: 0 };
    if (due.length === 0) return done;
    const rules = await enabledRules(tx, {
      projectIds: [...new Set(due.map((g) => g.projectId))],
      kind: 'events',
    });
    const byId = new Map(rules.map((r) => [r.id, r]));
    const now = this.#now();
    const logs: NewAlertLog[] = [];
    const changed: StoredGroup[] = [];
    for (const group of due) {
      const rule = byId.get(group.ruleId);
      if (!rule) {
        // Disabled or deleted meanwhile: what it held stays in the log as suppressed.
        changed.push({ ...group, state: { ...group.state, dueAt: null } });
        continue;
      }
      const decision = decideGroup({
        state: group.state,
        now,
        throttle: definitionOf(rule).throttle,
      });
      changed.push({ ...group, state: decision.nextState });
      if (decision.action !== 'send_now') continue;
      const message = await this.#message(tx, { rule, group });
      done.deliveries += message.length;
      logs.push(...message);
    }
    await saveGroups(tx, changed);
    await insertAlertLogs(tx, logs);
    return done;
  }

  /**
   * The deliveries of one message, one per channel, due now. Held failures of the group are
   * marked as covered by it; `base` is the failure that triggered it, if one did.
   */
  async #message(
    tx: Queryable,
    input: {
      rule: RuleRow;
      group: StoredGroup;
      base?: Omit<NewAlertLog, 'channelId' | 'status'>;
    },
  ): Promise<NewAlertLog[]> {
    const { rule, group } = input;
    const messageId = crypto.randomUUID();
    const held = await coverHeld(tx, { ruleId: rule.id, groupKey: group.groupKey, messageId });
    // The message describes its newest failure; `covers` says how many it stands for.
    const subject = input.base ?? {
      projectId: rule.projectId,
      ruleId: rule.id,
      groupKey: group.groupKey,
      event: String(held.last?.type ?? 'run_failed'),
      workflowId: (held.last?.workflow as { id?: string } | undefined)?.id ?? null,
      runId: (held.last?.run as { id?: string } | undefined)?.id ?? null,
      alert: held.last ?? {},
    };
    const covers = held.count + (input.base ? 1 : 0);
    return rule.channels.map((channelId) => ({
      ...subject,
      channelId,
      status: 'pending' as const,
      covers,
      messageId,
      alert: { ...subject.alert, covers },
      dueAt: this.#now(),
    }));
  }

  #mutedBy(
    rule: RuleRow,
    event: OutboxEvent,
    silences: Awaited<ReturnType<typeof activeSilences>>,
    now: Date,
  ): string | undefined {
    const silence = activeSilence(
      silences.filter((s) => s.project_id === rule.projectId),
      { ruleId: rule.id, workflowId: event.workflowId, at: now },
    );
    if (silence) return `silence ${silence.id} until ${silence.ends_at.toISOString()}`;
    const quiet = definitionOf(rule).quiet_hours;
    if (quiet && isQuiet(quiet, now)) {
      const until = quietUntil(quiet, now);
      return `quiet hours${until ? ` until ${until.toISOString()}` : ''}`;
    }
    return undefined;
  }

  #logBase(
    rule: RuleRow,
    event: OutboxEvent,
    slugs: Map<string, string>,
  ): Omit<NewAlertLog, 'channelId' | 'status'> {
    return {
      projectId: rule.projectId,
      ruleId: rule.id,
      groupKey: event.workflowId ?? '',
      event: event.type,
      workflowId: event.workflowId,
      runId: event.runId,
      alert: this.#alertOf(rule, event, slugs),
    };
  }

  /**
   * The alert as messages are made from it (src/engine/alerts/channels/message-input.ts reads
   * it back): the failure, its workflow and run, the rule with its template and criticality.
   */
  #alertOf(rule: RuleRow, event: OutboxEvent, slugs: Map<string, string>): StoredAlert {
    const details = event.details as { error?: unknown; attempts?: unknown };
    const error = details.error as { type?: unknown; message?: unknown } | undefined;
    return {
      type: event.type,
      project_id: event.projectId,
      workflow: event.workflowId
        ? { id: event.workflowId, slug: slugs.get(event.workflowId) ?? event.workflowId }
        : null,
      run: event.runId ? { id: event.runId, url: `${this.#publicUrl}/runs/${event.runId}` } : null,
      node_id: event.nodeId,
      error:
        error && typeof error.message === 'string'
          ? {
              type: typeof error.type === 'string' ? error.type : 'internal',
              message: error.message,
            }
          : null,
      attempts: typeof details.attempts === 'number' ? details.attempts : null,
      covers: 1,
      rule: { id: rule.id, name: rule.name },
      criticality: definitionOf(rule).criticality,
      template: definitionOf(rule).template,
      at: event.createdAt.toISOString(),
    };
  }
}

/** The validated rule a row holds. */
export function definitionOf(rule: RuleRow): AlertRule {
  return rule.definition as unknown as AlertRule;
}

/** The later of two instants (a stored one may be missing). */
function latest(a: Date, b: Date | null): Date {
  return b && b.getTime() > a.getTime() ? b : a;
}

function add(total: Evaluated, pass: Evaluated): void {
  total.events += pass.events;
  total.deliveries += pass.deliveries;
  total.suppressed += pass.suppressed;
  total.muted += pass.muted;
}
