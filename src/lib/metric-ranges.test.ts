import { describe, expect, it } from 'vitest';
import {
  checkCustomRange,
  rangeParams,
  rangeQuery,
  reachesNow,
  readRange,
  toLocalInput,
} from './metric-ranges.ts';

const NOW = Date.parse('2026-03-04T12:00:00Z');

describe('readRange', () => {
  it('reads a preset, a from/to pair, and falls back to 24 hours', () => {
    expect(readRange(new URLSearchParams('range=7d'))).toEqual({ preset: '7d' });
    expect(readRange(new URLSearchParams('range=2w'))).toEqual({ preset: '24h' });
    expect(readRange(new URLSearchParams(''))).toEqual({ preset: '24h' });
    const pair = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' };
    expect(readRange(new URLSearchParams(pair))).toEqual(pair);
    // An end alone, or a date that does not parse, is no custom range.
    expect(readRange(new URLSearchParams({ to: pair.to, range: '1h' }))).toEqual({ preset: '1h' });
    expect(readRange(new URLSearchParams({ from: 'yesterday', to: pair.to }))).toEqual({
      preset: '24h',
    });
  });

  it('round-trips through the address, the default needing no parameter', () => {
    expect(rangeParams({ preset: '24h' })).toEqual({});
    for (const range of [{ preset: '90d' as const }, { from: 'a', to: 'b' }]) {
      const params = new URLSearchParams(rangeParams(range));
      if ('preset' in range) expect(readRange(params)).toEqual(range);
      else expect(Object.fromEntries(params)).toEqual(range);
    }
    expect(rangeQuery({ preset: '24h' })).toEqual({ range: '24h' });
  });
});

describe('reachesNow', () => {
  it('is true for presets and for custom ranges ending after now', () => {
    expect(reachesNow({ preset: '1h' }, NOW)).toBe(true);
    expect(reachesNow({ from: '2026-03-01T00:00:00Z', to: '2026-03-05T00:00:00Z' }, NOW)).toBe(
      true,
    );
    expect(reachesNow({ from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }, NOW)).toBe(
      false,
    );
  });
});

describe('checkCustomRange', () => {
  const local = (iso: string) => toLocalInput(iso);

  it('answers the range in UTC for valid local inputs', () => {
    const checked = checkCustomRange(
      { from: local('2026-03-01T08:00:00Z'), to: local('2026-03-02T08:00:00Z') },
      NOW,
    );
    expect(checked).toEqual({
      ok: true,
      value: { from: '2026-03-01T08:00:00.000Z', to: '2026-03-02T08:00:00.000Z' },
    });
  });

  it('says what is wrong', () => {
    const error = (from: string, to: string) => {
      const checked = checkCustomRange({ from, to }, NOW);
      return checked.ok ? undefined : checked.error;
    };
    expect(error('', local('2026-03-02T08:00:00Z'))).toBe('Give both a start and an end.');
    expect(error('soon', local('2026-03-02T08:00:00Z'))).toBe('The start is not a date and time.');
    expect(error(local('2026-03-02T08:00:00Z'), local('2026-03-02T08:00:00Z'))).toBe(
      'The start must be before the end.',
    );
    expect(error(local('1999-12-01T00:00:00Z'), local('2000-02-01T00:00:00Z'))).toBe(
      'The start must be in 2000 or later.',
    );
    expect(error(local('2026-03-01T00:00:00Z'), local('2026-03-06T00:00:00Z'))).toBe(
      'The end may be at most a day from now.',
    );
    expect(error(local('2010-01-01T00:00:00Z'), local('2026-03-01T00:00:00Z'))).toBe(
      'A range spans at most 3,660 days.',
    );
  });
});

describe('toLocalInput', () => {
  it('gives local time to the minute, as datetime-local inputs take it', () => {
    const value = toLocalInput('2026-03-04T12:34:56Z');
    expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    expect(new Date(value).getTime()).toBe(Date.parse('2026-03-04T12:34:00Z'));
    expect(toLocalInput('nonsense')).toBe('');
  });
});
