import { describe, it, expect } from 'vitest';
import {
  activeSilence,
  canonicalTimeZone,
  isQuiet,
  parseClock,
  quietUntil,
  type QuietHours,
  type Silence,
} from './quiet-hours.ts';

const at = (iso: string) => new Date(iso);
const paris: QuietHours = { start: '22:00', end: '07:00', time_zone: 'Europe/Paris' };
const newYork: QuietHours = { start: '22:00', end: '07:00', time_zone: 'America/New_York' };

/** quietUntil as an ISO string, or undefined. */
const until = (quietHours: QuietHours, iso: string) =>
  quietUntil(quietHours, at(iso))?.toISOString();

describe('parseClock and canonicalTimeZone', () => {
  it('reads HH:MM on a 24-hour clock', () => {
    expect(parseClock('00:00')).toBe(0);
    expect(parseClock('07:30')).toBe(450);
    expect(parseClock('23:59')).toBe(1439);
    for (const bad of ['24:00', '7:30', '07:60', '07:3', ' 07:30', '07:30:00']) {
      expect(parseClock(bad)).toBeUndefined();
    }
  });

  it('gives the canonical IANA name and refuses fixed offsets and unknown zones', () => {
    expect(canonicalTimeZone('Europe/Paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    expect(canonicalTimeZone('+01:00')).toBeUndefined();
    expect(canonicalTimeZone('Mars/Olympus_Mons')).toBeUndefined();
    expect(canonicalTimeZone('')).toBeUndefined();
  });
});

describe('isQuiet', () => {
  it('covers a range across midnight, start inclusive and end exclusive', () => {
    // Winter in Paris is UTC+1.
    expect(isQuiet(paris, at('2026-01-15T20:59:59Z'))).toBe(false);
    expect(isQuiet(paris, at('2026-01-15T21:00:00Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-01-15T23:30:00Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-01-16T05:59:59Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-01-16T06:00:00Z'))).toBe(false);
    expect(isQuiet(paris, at('2026-01-16T12:00:00Z'))).toBe(false);
  });

  it('covers a range within one day', () => {
    const lunch: QuietHours = { start: '12:00', end: '13:30', time_zone: 'UTC' };
    expect(isQuiet(lunch, at('2026-05-01T11:59:00Z'))).toBe(false);
    expect(isQuiet(lunch, at('2026-05-01T12:00:00Z'))).toBe(true);
    expect(isQuiet(lunch, at('2026-05-01T13:29:59Z'))).toBe(true);
    expect(isQuiet(lunch, at('2026-05-01T13:30:00Z'))).toBe(false);
  });

  it('counts a night to the day it starts on', () => {
    // 2026-03-27 is a Friday: quiet Friday night into Saturday morning, not Thursday night.
    const fridays: QuietHours = { ...paris, days: [5] };
    expect(isQuiet(fridays, at('2026-03-27T22:00:00Z'))).toBe(true); // Fri 23:00
    expect(isQuiet(fridays, at('2026-03-28T02:00:00Z'))).toBe(true); // Sat 03:00
    expect(isQuiet(fridays, at('2026-03-27T02:00:00Z'))).toBe(false); // Fri 03:00, Thursday's night
    expect(isQuiet(fridays, at('2026-03-28T22:00:00Z'))).toBe(false); // Sat 23:00
    const weekend: QuietHours = { start: '00:00', end: '23:59', time_zone: 'UTC', days: [0, 6] };
    expect(isQuiet(weekend, at('2026-03-28T10:00:00Z'))).toBe(true); // Saturday
    expect(isQuiet(weekend, at('2026-03-30T10:00:00Z'))).toBe(false); // Monday
  });

  it('reads the wall clock of the zone, not a fixed offset (Europe/Paris, 2026-03-29)', () => {
    // Clocks go from 02:00 CET to 03:00 CEST at 01:00 UTC; 07:00 is then 05:00 UTC.
    expect(isQuiet(paris, at('2026-03-29T04:59:59Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-03-29T05:00:00Z'))).toBe(false);
    expect(isQuiet(paris, at('2026-03-29T19:59:59Z'))).toBe(false);
    expect(isQuiet(paris, at('2026-03-29T20:00:00Z'))).toBe(true);
  });

  it('reads the wall clock the night clocks go back (Europe/Paris, 2026-10-25)', () => {
    // 22:00 CEST on the 24th is 20:00 UTC; 07:00 CET on the 25th is 06:00 UTC.
    expect(isQuiet(paris, at('2026-10-24T19:59:59Z'))).toBe(false);
    expect(isQuiet(paris, at('2026-10-24T20:00:00Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-10-25T05:59:59Z'))).toBe(true);
    expect(isQuiet(paris, at('2026-10-25T06:00:00Z'))).toBe(false);
  });

  it('follows America/New_York across both changes', () => {
    // 2026-03-08: 02:00 EST → 03:00 EDT. 2026-11-01: 02:00 EDT → 01:00 EST.
    expect(isQuiet(newYork, at('2026-03-08T10:59:00Z'))).toBe(true); // 06:59 EDT
    expect(isQuiet(newYork, at('2026-03-08T11:00:00Z'))).toBe(false); // 07:00 EDT
    expect(isQuiet(newYork, at('2026-11-01T11:59:00Z'))).toBe(true); // 06:59 EST
    expect(isQuiet(newYork, at('2026-11-01T12:00:00Z'))).toBe(false); // 07:00 EST
  });

  it('is quiet both times a repeated hour inside the range is read', () => {
    const early: QuietHours = { start: '00:00', end: '02:30', time_zone: 'Europe/Paris' };
    expect(isQuiet(early, at('2026-10-25T00:15:00Z'))).toBe(true); // 02:15 CEST
    expect(isQuiet(early, at('2026-10-25T00:45:00Z'))).toBe(false); // 02:45 CEST
    expect(isQuiet(early, at('2026-10-25T01:15:00Z'))).toBe(true); // 02:15 CET
  });
});

describe('quietUntil', () => {
  it('is undefined outside quiet hours', () => {
    expect(until(paris, '2026-01-15T12:00:00Z')).toBeUndefined();
  });

  it('ends a winter night at 07:00 local', () => {
    expect(until(paris, '2026-01-15T21:00:00Z')).toBe('2026-01-16T06:00:00.000Z');
    expect(until(paris, '2026-01-16T05:00:00Z')).toBe('2026-01-16T06:00:00.000Z');
  });

  it('ends the short night of 2026-03-29 in Paris at 07:00 summer time', () => {
    expect(until(paris, '2026-03-28T21:00:00Z')).toBe('2026-03-29T05:00:00.000Z');
  });

  it('ends the long night of 2026-10-25 in Paris at 07:00 winter time', () => {
    expect(until(paris, '2026-10-24T20:00:00Z')).toBe('2026-10-25T06:00:00.000Z');
  });

  it('ends New York nights at 07:00 local across both changes', () => {
    expect(until(newYork, '2026-03-08T03:00:00Z')).toBe('2026-03-08T11:00:00.000Z');
    expect(until(newYork, '2026-11-01T02:00:00Z')).toBe('2026-11-01T12:00:00.000Z');
  });

  it('ends at the jump when the clock skips the end time', () => {
    const gap: QuietHours = { start: '01:00', end: '02:30', time_zone: 'Europe/Paris' };
    expect(until(gap, '2026-03-29T00:30:00Z')).toBe('2026-03-29T01:00:00.000Z');
    const nyGap: QuietHours = { start: '01:30', end: '02:30', time_zone: 'America/New_York' };
    expect(until(nyGap, '2026-03-08T06:45:00Z')).toBe('2026-03-08T07:00:00.000Z');
  });

  it('ends at the first reading of a repeated end time', () => {
    const early: QuietHours = { start: '00:00', end: '02:30', time_zone: 'Europe/Paris' };
    expect(until(early, '2026-10-24T22:30:00Z')).toBe('2026-10-25T00:30:00.000Z');
  });

  it('runs on through a period that starts where a DST jump swallowed the gap', () => {
    // 02:30–02:00: the night clocks go forward, 02:00 becomes 03:00, already past 02:30.
    const almostAllDay: QuietHours = { start: '02:30', end: '02:00', time_zone: 'Europe/Paris' };
    expect(until(almostAllDay, '2026-03-29T00:30:00Z')).toBe('2026-03-30T00:00:00.000Z');
  });

  it('returns the first instant that is not quiet, across a year of starts', () => {
    const zones = ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];
    for (const time_zone of zones) {
      const quietHours: QuietHours = { start: '22:00', end: '02:30', time_zone };
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 7 * 3_600_000 + 60_000) {
        const end = quietUntil(quietHours, new Date(t));
        if (!end) continue;
        expect(end.getTime()).toBeGreaterThan(t);
        expect(isQuiet(quietHours, end)).toBe(false);
        expect(isQuiet(quietHours, new Date(end.getTime() - 1))).toBe(true);
      }
    }
  });
});

describe('activeSilence', () => {
  const rule = '11111111-1111-4111-8111-111111111111';
  const otherRule = '22222222-2222-4222-8222-222222222222';
  const workflow = '33333333-3333-4333-8333-333333333333';
  const silence = (over: Partial<Silence> & { id: string }): Silence => ({
    rule_id: null,
    workflow_id: null,
    ends_at: at('2026-05-01T12:00:00Z'),
    ...over,
  });
  const target = { ruleId: rule, workflowId: workflow, at: at('2026-05-01T10:00:00Z') };

  it('applies a silence that names the rule, the workflow, both or neither', () => {
    for (const over of [
      { rule_id: rule },
      { workflow_id: workflow },
      { rule_id: rule, workflow_id: workflow },
      {},
    ]) {
      expect(activeSilence([silence({ id: 's', ...over })], target)?.id).toBe('s');
    }
  });

  it('does not apply to another rule, another workflow or an alert of no workflow', () => {
    expect(activeSilence([silence({ id: 's', rule_id: otherRule })], target)).toBeUndefined();
    expect(
      activeSilence([silence({ id: 's', workflow_id: workflow })], { ...target, workflowId: null }),
    ).toBeUndefined();
    expect(activeSilence([silence({ id: 's', workflow_id: otherRule })], target)).toBeUndefined();
  });

  it('applies from starts_at (inclusive) to ends_at (exclusive)', () => {
    const window = silence({
      id: 's',
      starts_at: at('2026-05-01T10:00:00Z'),
      ends_at: at('2026-05-01T11:00:00Z'),
    });
    expect(activeSilence([window], target)?.id).toBe('s');
    expect(activeSilence([window], { ...target, at: at('2026-05-01T09:59:59Z') })).toBeUndefined();
    expect(activeSilence([window], { ...target, at: at('2026-05-01T11:00:00Z') })).toBeUndefined();
  });

  it('returns the silence that ends last, with the caller’s own row type', () => {
    const rows = [
      { ...silence({ id: 'short', ends_at: at('2026-05-01T11:00:00Z') }), comment: 'deploy' },
      { ...silence({ id: 'long', ends_at: at('2026-05-02T00:00:00Z') }), comment: 'outage' },
      { ...silence({ id: 'over', ends_at: at('2026-05-01T09:00:00Z') }), comment: 'past' },
    ];
    expect(activeSilence(rows, target)?.comment).toBe('outage');
    expect(activeSilence([], target)).toBeUndefined();
  });
});
