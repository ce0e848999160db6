import type pg from 'pg';
import { isThresholdBreached, type Threshold } from '../../core/alert-thresholds.ts';
import { decideGroup } from '../../core/alert-throttle.ts';
import { withTransaction, type Queryable } from '../../db/client.ts';
import {
  insertAlertLogs,
  lockGroups,
  saveGroups,
  workflowSlugs,
  type RuleRow,
} from '../../db/queries/alert-delivery.ts';
import {
  readConsecutiveFailures,
  readErrorWindow,
  readRunWindow,
  saveThresholdState,
  takeThresholdRules,
} from '../../db/queries/alert-thresholds.ts';
import { definitionOf } from './evaluator.ts';

/** Rules one transaction evaluates at most. */
const BATCH = 100;

/** A threshold rule's state after an evaluation. */
type RuleState = RuleRow['state'];

/**
 * Evaluates threshold rules over the rollups: failure rate or count, errors per run over the
 * rule's window, or consecutive failures. A breach must hold for the rule's `for` before it
 * fires (pending meanwhile); a firing rule resolves once the reading falls to its resolve value.
 * Only state changes send a notice (FIRING, then RESOLVED), through the rule's group, which
 * also repeats an unchanged firing notice after repeat_interval. Rules are taken with SKIP
 * LOCKED, so any number of processes share them.
 */
export class ThresholdEvaluator {
  readonly #pool: pg.Pool;
  readonly #now: () => Date;

  constructor(options: { pool: pg.Pool; now?: () => Date }) {
    this.#pool = options.pool;
    this.#now = options.now ?? (() => new Date());
  }

  /** Evaluates every rule not evaluated in the last second; returns the notices it queued. */
  async run(): Promise<number> {
    let notices = 0;
    for (;;) {
      const pass = await withTransaction(this.#pool, (tx) => this.#evaluate(tx));
      notices += pass.notices;
      if (pass.rules < BATCH) return notices;
    }
  }

  async #evaluate(tx: Queryable): Promise<{ rules: number; notices: number }> {
    const rules = await takeThresholdRules(tx, BATCH);
    if (rules.length === 0) return { rules: 0, notices: 0 };
    const now = this.#now();
    const slugs = await workflowSlugs(tx, [
      ...new Set(rules.flatMap((r) => (r.workflowId ? [r.workflowId] : []))),
    ]);
    const groups = await lockGroups(
      tx,
      rules.map((r) => ({ ruleId: r.id, groupKey: r.workflowId ?? '', projectId: r.projectId })),
    );
    let notices = 0;
    const changed = [];
    for (const rule of rules) {
      const threshold = definitionOf(rule).threshold!;
      const value = await this.#read(tx, rule, threshold, now);
      const next = nextState(rule, threshold, value, now);
      await saveThresholdState(tx, { ruleId: rule.id, ...next, value });

      const group = groups.get(`${rule.id}/${rule.workflowId ?? ''}`)!;
      const observed = next.state === 'firing' ? 'firing' : 'resolved';
      const decision = decideGroup({
        state: group.state,
        now,
        throttle: definitionOf(rule).throttle,
        event: { kind: 'threshold', state: observed },
      });
      changed.push({ ...group, state: decision.nextState });
      if (decision.action !== 'send_now' || !decision.message) continue;
      const type =
        decision.message === 'threshold_resolved' ? 'threshold_resolved' : 'threshold_firing';
      const messageId = crypto.randomUUID();
      const alert = {
        type: 'threshold',
        project_id: rule.projectId,
        workflow: rule.workflowId
          ? { id: rule.workflowId, slug: slugs.get(rule.workflowId) ?? rule.workflowId }
          : null,
        run: null,
        node_id: null,
        error: null,
        attempts: null,
        covers: 1,
        rule: { id: rule.id, name: rule.name },
        criticality: definitionOf(rule).criticality,
        template: definitionOf(rule).template,
        threshold: {
          metric: threshold.metric,
          op: threshold.op,
          value: value ?? 0,
          threshold: type === 'threshold_resolved' ? threshold.resolve_value : threshold.value,
          state: type === 'threshold_resolved' ? 'resolved' : 'firing',
          window: threshold.window,
        },
        repeat: decision.repeat,
        at: now.toISOString(),
      };
      await insertAlertLogs(
        tx,
        rule.channels.map((channelId) => ({
          projectId: rule.projectId,
          ruleId: rule.id,
          channelId,
          groupKey: rule.workflowId ?? '',
          event: type,
          status: 'pending' as const,
          messageId,
          workflowId: rule.workflowId,
          runId: null,
          alert,
          dueAt: now,
        })),
      );
      notices++;
    }
    await saveGroups(tx, changed);
    return { rules: rules.length, notices };
  }

  /** The rule's metric now; null when there is nothing to compute it from (no runs). */
  async #read(
    tx: Queryable,
    rule: RuleRow,
    threshold: Threshold,
    now: Date,
  ): Promise<number | null> {
    const window = {
      projectId: rule.projectId,
      workflowId: rule.workflowId,
      since: new Date(now.getTime() - threshold.window_ms),
    };
    switch (threshold.metric) {
      case 'failure_rate': {
        const runs = await readRunWindow(tx, window);
        const total = runs.succeeded + runs.failed + runs.canceled;
        return total === 0 ? null : runs.failed / total;
      }
      case 'failure_count':
        return (await readRunWindow(tx, window)).failed;
      case 'consecutive_failures':
        return readConsecutiveFailures(tx, { ...window, limit: threshold.value });
      case 'error_rate': {
        const runs = await readRunWindow(tx, window);
        const total = runs.succeeded + runs.failed + runs.canceled;
        if (total === 0) return null;
        const errors = await readErrorWindow(tx, { ...window, ...threshold });
        return errors / total;
      }
    }
  }
}

/** The rule's next state from a reading: ok → pending → firing → ok. */
function nextState(
  rule: RuleRow,
  threshold: Threshold,
  value: number | null,
  now: Date,
): { state: RuleState; since: Date | null } {
  const firing = rule.state === 'firing';
  const breached = value !== null && isThresholdBreached(threshold, { value, firing });
  if (!breached) return { state: 'ok', since: null };
  if (firing) return { state: 'firing', since: rule.stateSince };
  const since = rule.state === 'pending' && rule.stateSince ? rule.stateSince : now;
  return now.getTime() - since.getTime() >= threshold.for_ms
    ? { state: 'firing', since: now }
    : { state: 'pending', since };
}
