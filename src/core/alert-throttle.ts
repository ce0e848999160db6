// Alertmanager-style grouping, decided from stored state so any process can take the next step:
// the dispatcher reads a group's row, calls decideGroup, writes nextState back in the same
// transaction and sends when told to. A group is one rule × one workflow. Nothing is dropped:
// a failure is either in a message or counted in `pendingCount` for the next one.
//
// The timers mean what they mean in Alertmanager: the first failure of a quiet group waits
// `group_wait` so that the failures of one incident arrive as one message; after a send the group
// stays active and whatever arrives is sent as one message `group_interval` after that send;
// a threshold alert that keeps firing is sent again every `repeat_interval`. Failures are
// one-off events, so they are never repeated.

import type { Throttle } from './alert-rules.ts';

/** A threshold alert's state, as evaluated or as last announced. */
export type ThresholdState = 'firing' | 'resolved';

/**
 * The throttling state of one group (rule × workflow), meant to be one database row: three
 * timestamptz columns, one integer and two short texts. Start from QUIET_GROUP.
 */
export interface GroupState {
  /** When the oldest failure (or threshold change) not yet in any message arrived; null when none waits. */
  firstPendingAt: Date | null;
  /** Failures that arrived since the last send and wait for the next message. */
  pendingCount: number;
  /** When the group's last message went out; null before the first. */
  lastSentAt: Date | null;
  /** Threshold groups: the state last evaluated; null before the first evaluation. */
  observed: ThresholdState | null;
  /** Threshold groups: the state last sent; null before the first message. */
  announced: ThresholdState | null;
  /**
   * When decideGroup must next run without an event (the pending message's send time or the next
   * repeat); null when the group is quiet. Derived, but stored so that a scheduler finds due
   * groups with an index on it.
   */
  dueAt: Date | null;
}

/** A group in which nothing has happened. */
export const QUIET_GROUP: GroupState = Object.freeze({
  firstPendingAt: null,
  pendingCount: 0,
  lastSentAt: null,
  observed: null,
  announced: null,
  dueAt: null,
});

/** What happened to a group: failures arrived, or its threshold was evaluated. */
export type GroupEvent =
  | { kind: 'failure'; /** How many failures arrived at once; default 1. */ count?: number }
  | { kind: 'threshold'; state: ThresholdState };

/** What to send when decideGroup says send_now. */
export type GroupMessage = 'failures' | 'threshold_firing' | 'threshold_resolved';

/** The outcome of decideGroup. */
export interface GroupDecision {
  /** send_now: send one message now; hold: send nothing now. */
  action: 'send_now' | 'hold';
  /** send_now: now. hold: when to call again without an event; null when the group is quiet. */
  sendAt: Date | null;
  /** send_now: how many failures the message summarises (1 for a threshold message); hold: 0. */
  covers: number;
  /** send_now: what the message says; hold: null. */
  message: GroupMessage | null;
  /** send_now of threshold_firing: whether it repeats an alert already sent (unchanged since). */
  repeat: boolean;
  /** The state to store in place of the one given. */
  nextState: GroupState;
}

/** The timers decideGroup reads. */
export type GroupThrottle = Pick<
  Throttle,
  'group_wait_ms' | 'group_interval_ms' | 'repeat_interval_ms'
>;

interface Timers {
  firstPendingAt: number | null;
  pendingCount: number;
  lastSentAt: number | null;
  observed: ThresholdState | null;
  announced: ThresholdState | null;
}

const time = (date: Date | null): number | null => (date === null ? null : date.getTime());
const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * Decides what a group does now. Call it when failures arrive or a threshold is evaluated
 * (`event` set) and when `dueAt` has come (no event), then store `nextState` and send when the
 * action is send_now.
 *
 * - The first failure of a quiet group (no send within the last group_interval) is sent
 *   group_wait after it arrived (at once for 0s), together with every failure that arrived
 *   meanwhile.
 * - Failures arriving while the group is active wait until group_interval after the last send
 *   and go out as one message covering all of them ("and 37 more failures").
 * - A threshold change (firing, or resolved after firing) is sent like a first failure; a change
 *   undone before its send (a flap) sends nothing. A threshold that keeps firing is sent again
 *   repeat_interval after the last send (never sooner than group_interval).
 * - A group with nothing new stays quiet: hold with sendAt null.
 *
 * So two sends of one group are never closer than group_interval, and the covers of its sends
 * add up to the failures it received. A group is either a failure group or a threshold group
 * (one rule is of one kind); a call coming late sends at once what was due.
 *
 * @example
 * const d = decideGroup({ state: row ?? QUIET_GROUP, now, throttle: rule.throttle, event: { kind: 'failure' } });
 * await saveGroup(d.nextState);
 * if (d.action === 'send_now') await enqueueAlert({ covers: d.covers, message: d.message });
 */
export function decideGroup(input: {
  state: GroupState;
  now: Date;
  throttle: GroupThrottle;
  event?: GroupEvent;
}): GroupDecision {
  const { throttle, event } = input;
  const now = input.now.getTime();
  const s: Timers = {
    firstPendingAt: time(input.state.firstPendingAt),
    pendingCount: input.state.pendingCount,
    lastSentAt: time(input.state.lastSentAt),
    observed: input.state.observed,
    announced: input.state.announced,
  };
  if (event?.kind === 'failure') {
    const count = event.count ?? 1;
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`a failure event counts a positive whole number, not ${count}`);
    }
    s.pendingCount += count;
  } else if (event?.kind === 'threshold') {
    s.observed = event.state;
  }
  const change = thresholdChange(s);
  if (s.pendingCount > 0 || change) s.firstPendingAt ??= now;
  else s.firstPendingAt = null;

  if (s.firstPendingAt !== null) {
    const due = batchDue(s.firstPendingAt, s.lastSentAt, throttle);
    if (now < due) return hold(s, due);
    // A threshold message covers 1; a failure group's covers everything pending.
    const covers = Math.max(1, s.pendingCount);
    const message: GroupMessage = change ? `threshold_${change}` : 'failures';
    return send(s, { now, covers, message, repeat: false, throttle });
  }
  if (s.announced === 'firing' && s.observed === 'firing' && s.lastSentAt !== null) {
    const due = s.lastSentAt + Math.max(throttle.repeat_interval_ms, throttle.group_interval_ms);
    if (now < due) return hold(s, due);
    return send(s, { now, covers: 1, message: 'threshold_firing', repeat: true, throttle });
  }
  return hold(s, null);
}

/** The threshold state to announce, if it differs from the one last sent. */
function thresholdChange(s: Timers): ThresholdState | undefined {
  if (s.observed === null || s.observed === s.announced) return undefined;
  // Nothing was ever announced: a threshold that has not fired has nothing to resolve.
  if (s.observed === 'resolved' && s.announced === null) return undefined;
  return s.observed;
}

/** When the pending message is due: group_wait after its first failure in a quiet group. */
function batchDue(firstPendingAt: number, lastSentAt: number | null, t: GroupThrottle): number {
  if (lastSentAt === null || firstPendingAt >= lastSentAt + t.group_interval_ms) {
    return firstPendingAt + t.group_wait_ms;
  }
  return lastSentAt + t.group_interval_ms;
}

function stateOf(s: Timers, dueAt: number | null): GroupState {
  return {
    firstPendingAt: date(s.firstPendingAt),
    pendingCount: s.pendingCount,
    lastSentAt: date(s.lastSentAt),
    observed: s.observed,
    announced: s.announced,
    dueAt: date(dueAt),
  };
}

function hold(s: Timers, due: number | null): GroupDecision {
  return {
    action: 'hold',
    sendAt: date(due),
    covers: 0,
    message: null,
    repeat: false,
    nextState: stateOf(s, due),
  };
}

function send(
  s: Timers,
  options: {
    now: number;
    covers: number;
    message: GroupMessage;
    repeat: boolean;
    throttle: GroupThrottle;
  },
): GroupDecision {
  const { now, throttle } = options;
  const sent: Timers = {
    firstPendingAt: null,
    pendingCount: 0,
    lastSentAt: now,
    observed: s.observed,
    announced: s.observed,
  };
  const nextDue =
    sent.announced === 'firing'
      ? now + Math.max(throttle.repeat_interval_ms, throttle.group_interval_ms)
      : null;
  return {
    action: 'send_now',
    sendAt: new Date(now),
    covers: options.covers,
    message: options.message,
    repeat: options.repeat,
    nextState: stateOf(sent, nextDue),
  };
}
