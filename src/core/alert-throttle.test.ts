import { describe, it, expect } from 'vitest';
import {
  QUIET_GROUP,
  decideGroup,
  type GroupDecision,
  type GroupEvent,
  type GroupState,
  type GroupThrottle,
} from './alert-throttle.ts';

const T0 = Date.parse('2026-05-01T10:00:00Z');
const S = 1_000;
const M = 60_000;
const H = 3_600_000;
const defaults: GroupThrottle = {
  group_wait_ms: 30 * S,
  group_interval_ms: 5 * M,
  repeat_interval_ms: 4 * H,
};

/** Feeds calls in order, each at T0 + offset ms, and returns every decision. */
function run(
  calls: Array<[offset: number, event?: GroupEvent]>,
  throttle = defaults,
): GroupDecision[] {
  let state: GroupState = QUIET_GROUP;
  return calls.map(([offset, event]) => {
    const decision = decideGroup({ state, now: new Date(T0 + offset), throttle, event });
    state = decision.nextState;
    return decision;
  });
}

const failure: GroupEvent = { kind: 'failure' };
const firing: GroupEvent = { kind: 'threshold', state: 'firing' };
const resolved: GroupEvent = { kind: 'threshold', state: 'resolved' };
const at = (offset: number) => new Date(T0 + offset);
const brief = (d: GroupDecision) => [d.action, d.sendAt?.getTime() ?? null, d.covers, d.message];

describe('decideGroup: failures', () => {
  it('holds the first failure of a quiet group for group_wait, then sends every one that joined', () => {
    const [first, second, third, due] = run([
      [0, failure],
      [10 * S, failure],
      [20 * S, failure],
      [30 * S],
    ]);
    expect(brief(first!)).toEqual(['hold', T0 + 30 * S, 0, null]);
    expect(first!.nextState).toEqual({
      firstPendingAt: at(0),
      pendingCount: 1,
      lastSentAt: null,
      observed: null,
      announced: null,
      dueAt: at(30 * S),
    });
    expect(brief(second!)).toEqual(['hold', T0 + 30 * S, 0, null]);
    expect(brief(third!)).toEqual(['hold', T0 + 30 * S, 0, null]);
    expect(brief(due!)).toEqual(['send_now', T0 + 30 * S, 3, 'failures']);
    expect(due!.nextState).toEqual({
      ...QUIET_GROUP,
      lastSentAt: at(30 * S),
    });
  });

  it('sends at once when group_wait is 0s', () => {
    const [d] = run([[0, failure]], { ...defaults, group_wait_ms: 0 });
    expect(brief(d!)).toEqual(['send_now', T0, 1, 'failures']);
  });

  it('holds later failures until group_interval after the last send, as one message', () => {
    const calls: Array<[number, GroupEvent?]> = [[0, failure], [30 * S]];
    for (let i = 1; i <= 38; i++) calls.push([30 * S + i * 5 * S, failure]);
    calls.push([30 * S + 5 * M]);
    const decisions = run(calls);
    expect(brief(decisions[1]!)).toEqual(['send_now', T0 + 30 * S, 1, 'failures']);
    for (const held of decisions.slice(2, -1)) {
      expect(brief(held)).toEqual(['hold', T0 + 30 * S + 5 * M, 0, null]);
    }
    expect(brief(decisions.at(-1)!)).toEqual(['send_now', T0 + 30 * S + 5 * M, 38, 'failures']);
  });

  it('stays quiet when nothing new arrived', () => {
    const [, sent, idle] = run([[0, failure], [30 * S], [30 * S + 5 * M]]);
    expect(sent!.action).toBe('send_now');
    expect(brief(idle!)).toEqual(['hold', null, 0, null]);
    expect(idle!.nextState.dueAt).toBeNull();
  });

  it('treats a group that has been idle for group_interval as quiet again', () => {
    const [, , late] = run([[0, failure], [30 * S], [30 * S + 5 * M, failure]]);
    expect(brief(late!)).toEqual(['hold', T0 + 30 * S + 5 * M + 30 * S, 0, null]);
  });

  it('sends at once what was due when the call comes late, counting a batch of failures', () => {
    const [, late] = run([
      [0, { kind: 'failure', count: 4 }],
      [2 * H, failure],
    ]);
    expect(brief(late!)).toEqual(['send_now', T0 + 2 * H, 5, 'failures']);
  });

  it('holds until the due time when called early', () => {
    const [, early] = run([[0, failure], [10 * S]]);
    expect(brief(early!)).toEqual(['hold', T0 + 30 * S, 0, null]);
  });

  it('refuses a failure count that is not a positive whole number', () => {
    expect(() => run([[0, { kind: 'failure', count: 0 }]])).toThrow(/positive whole number/);
  });
});

describe('decideGroup: thresholds', () => {
  it('sends firing after group_wait, repeats it after repeat_interval, then sends resolved', () => {
    const decisions = run([
      [0, firing],
      [30 * S, firing],
      [M, firing],
      [30 * S + 4 * H, firing],
      [30 * S + 4 * H + M, resolved],
      [30 * S + 4 * H + 5 * M],
    ]);
    expect(decisions.map(brief)).toEqual([
      ['hold', T0 + 30 * S, 0, null],
      ['send_now', T0 + 30 * S, 1, 'threshold_firing'],
      ['hold', T0 + 30 * S + 4 * H, 0, null],
      ['send_now', T0 + 30 * S + 4 * H, 1, 'threshold_firing'],
      ['hold', T0 + 30 * S + 4 * H + 5 * M, 0, null],
      ['send_now', T0 + 30 * S + 4 * H + 5 * M, 1, 'threshold_resolved'],
    ]);
    expect(decisions.map((d) => d.repeat)).toEqual([false, false, false, true, false, false]);
    expect(decisions.at(-1)!.nextState).toEqual({
      ...QUIET_GROUP,
      lastSentAt: at(30 * S + 4 * H + 5 * M),
      observed: 'resolved',
      announced: 'resolved',
    });
  });

  it('sends nothing for a flap undone before its send, or for resolved without firing', () => {
    const decisions = run([[0, resolved], [M, firing], [M + 10 * S, resolved], [M + 30 * S]]);
    expect(decisions.map(brief)).toEqual([
      ['hold', null, 0, null],
      ['hold', T0 + M + 30 * S, 0, null],
      ['hold', null, 0, null],
      ['hold', null, 0, null],
    ]);
  });

  it('never repeats sooner than group_interval', () => {
    const throttle = { ...defaults, group_interval_ms: 10 * M, repeat_interval_ms: M };
    const [, sent] = run(
      [
        [0, firing],
        [30 * S, firing],
      ],
      throttle,
    );
    expect(sent!.nextState.dueAt).toEqual(at(30 * S + 10 * M));
  });
});

/** A small seeded generator, so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Plays failures arriving at random times against a scheduler that wakes up at dueAt, sometimes
 * late; returns the sends and the number of failures.
 */
function simulate(seed: number): {
  sends: Array<{ at: number; covers: number }>;
  failures: number;
  throttle: GroupThrottle;
  arrivals: number[];
} {
  const next = random(seed);
  const pick = <T>(values: T[]) => values[Math.floor(next() * values.length)]!;
  const throttle: GroupThrottle = {
    group_wait_ms: pick([0, 1 * S, 30 * S, 2 * M]),
    group_interval_ms: pick([0, 10 * S, 5 * M, 20 * M]),
    repeat_interval_ms: 4 * H,
  };
  const arrivals: number[] = [];
  let t = T0;
  const count = 1 + Math.floor(next() * 200);
  for (let i = 0; i < count; i++) {
    // Bursts and lulls: mostly seconds apart, sometimes an hour.
    t += next() < 0.1 ? Math.floor(next() * H) : Math.floor(next() * 20 * S);
    arrivals.push(t);
  }
  let state: GroupState = QUIET_GROUP;
  let failures = 0;
  const sends: Array<{ at: number; covers: number }> = [];
  const step = (now: number, event?: GroupEvent) => {
    const d = decideGroup({ state, now: new Date(now), throttle, event });
    state = d.nextState;
    if (d.action === 'send_now') sends.push({ at: now, covers: d.covers });
    else expect(d.covers).toBe(0);
  };
  const wakeUntil = (limit: number) => {
    while (state.dueAt !== null && state.dueAt.getTime() <= limit) {
      const lateness = next() < 0.3 ? Math.floor(next() * 3 * S) : 0;
      step(Math.min(state.dueAt.getTime() + lateness, limit));
    }
  };
  for (const arrival of arrivals) {
    wakeUntil(arrival);
    const n = next() < 0.1 ? 2 + Math.floor(next() * 5) : 1;
    failures += n;
    step(arrival, { kind: 'failure', count: n });
  }
  wakeUntil(Number.MAX_SAFE_INTEGER);
  return { sends, failures, throttle, arrivals };
}

describe('decideGroup: properties over random arrivals', () => {
  it('sends every failure exactly once and spaces sends by group_interval', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { sends, failures, throttle, arrivals } = simulate(seed);
      const covered = sends.reduce((sum, s) => sum + s.covers, 0);
      expect({ seed, covered }).toEqual({ seed, covered: failures });
      for (const s of sends) expect(s.covers).toBeGreaterThan(0);
      for (let i = 1; i < sends.length; i++) {
        const gap = sends[i]!.at - sends[i - 1]!.at;
        expect({ seed, gap: gap >= throttle.group_interval_ms }).toEqual({ seed, gap: true });
      }
      // The first failure of the group waits its full group_wait.
      expect(sends[0]!.at - arrivals[0]!).toBeGreaterThanOrEqual(throttle.group_wait_ms);
      // Nothing is left pending once the scheduler has nothing more to wake for.
      expect(sends.at(-1)!.at).toBeGreaterThanOrEqual(arrivals.at(-1)!);
    }
  });
});
