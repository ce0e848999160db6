import { describe, it, expect } from 'vitest';
import { backoffDelay, parseRetryAfter } from './retry.ts';

const delays = (options: { baseMs: number; maxMs?: number; random: () => number }): number[] =>
  [1, 2, 3, 4, 5].map((attempt) => backoffDelay({ attempt, ...options }));

describe('backoffDelay', () => {
  it('with random 0 gives half of the exponential ceiling', () => {
    expect(delays({ baseMs: 500, random: () => 0 })).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('with random 1 gives the full exponential ceiling', () => {
    expect(delays({ baseMs: 500, random: () => 1 })).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it('with random 0.5 gives three quarters of the ceiling', () => {
    expect(delays({ baseMs: 500, random: () => 0.5 })).toEqual([375, 750, 1500, 3000, 6000]);
  });

  it('doubles from one attempt to the next', () => {
    const values = delays({ baseMs: 100, random: () => 0.25 });
    expect(values).toEqual([63, 125, 250, 500, 1000]);
    for (let i = 2; i < values.length; i++) expect(values[i]).toBe(2 * values[i - 1]!);
  });

  it('is capped by maxMs', () => {
    expect(delays({ baseMs: 500, maxMs: 3000, random: () => 1 })).toEqual([
      500, 1000, 2000, 3000, 3000,
    ]);
    expect(delays({ baseMs: 500, maxMs: 3000, random: () => 0 })).toEqual([
      250, 500, 1000, 1500, 1500,
    ]);
    expect(delays({ baseMs: 500, maxMs: 3000, random: () => 0.5 })).toEqual([
      375, 750, 1500, 2250, 2250,
    ]);
  });

  it('is capped at 300000 ms by default', () => {
    expect(backoffDelay({ attempt: 20, baseMs: 500, random: () => 1 })).toBe(300_000);
    expect(backoffDelay({ attempt: 20, baseMs: 500, random: () => 0 })).toBe(150_000);
    expect(backoffDelay({ attempt: 10, baseMs: 500, random: () => 1 })).toBe(256_000);
    expect(backoffDelay({ attempt: 11, baseMs: 500, random: () => 1 })).toBe(300_000);
  });

  it('treats an attempt below 1 as the first', () => {
    expect(backoffDelay({ attempt: 0, baseMs: 500, random: () => 1 })).toBe(500);
    expect(backoffDelay({ attempt: -3, baseMs: 500, random: () => 0 })).toBe(250);
  });

  it('rounds to whole milliseconds', () => {
    expect(backoffDelay({ attempt: 1, baseMs: 3, random: () => 0 })).toBe(2);
    expect(backoffDelay({ attempt: 1, baseMs: 1, random: () => 0.5 })).toBe(1);
    expect(backoffDelay({ attempt: 2, baseMs: 7, random: () => 0.1 })).toBe(8);
  });

  it('is 0 for a base of 0', () => {
    expect(delays({ baseMs: 0, random: () => 1 })).toEqual([0, 0, 0, 0, 0]);
  });

  it('draws one random number per call', () => {
    let calls = 0;
    backoffDelay({
      attempt: 3,
      baseMs: 500,
      random: () => {
        calls++;
        return 0.5;
      },
    });
    expect(calls).toBe(1);
  });

  it('uses Math.random by default, staying within the upper half of the ceiling', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay({ attempt: 3, baseMs: 500 });
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(2000);
    }
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2024-03-01T12:00:00Z');

  it.each([
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    ['  7 ', 7000],
    ['007', 7000],
    ['3600', 3_600_000],
  ])('reads seconds %j as %d ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it.each([
    ['Fri, 01 Mar 2024 12:00:10 GMT', 10_000],
    ['Fri, 01 Mar 2024 12:02:00 GMT', 120_000],
    ['Fri, 01 Mar 2024 12:30:00 GMT', 1_800_000],
    ['Fri, 01 Mar 2024 12:00:00 GMT', 0],
    // RFC 850 form, which recipients must still accept.
    ['Friday, 01-Mar-24 12:00:30 GMT', 30_000],
  ])('reads HTTP-date %j relative to now as %d ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('gives 0 for an HTTP-date in the past', () => {
    expect(parseRetryAfter('Thu, 29 Feb 2024 12:00:00 GMT', now)).toBe(0);
  });

  it('measures from the injected now', () => {
    const date = 'Fri, 01 Mar 2024 12:00:10 GMT';
    expect(parseRetryAfter(date, new Date('2024-03-01T12:00:04Z'))).toBe(6000);
    // Over an hour away: capped at MAX_RETRY_AFTER_MS.
    expect(parseRetryAfter(date, new Date('2024-03-01T11:00:00Z'))).toBe(3_600_000);
    expect(parseRetryAfter('86400', now)).toBe(3_600_000);
  });

  it.each([undefined, '', '   '])('gives undefined for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it.each(['soon', 'later', '5 minutes', '10s', '0x10', '1e3', 'NaN'])(
    'gives undefined for garbage %j',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );

  // V8's lenient Date.parse reads '1.5' as 2001-01-05 and 'retry 3000' as the year 3000: only
  // the RFC forms may reach it.
  it.each(['1.5', '-5', 'retry 3000'])('gives undefined for non-standard %j', (value) => {
    expect(parseRetryAfter(value, new Date('2000-01-01T00:00:00Z'))).toBeUndefined();
  });
});
