import { describe, expect, it } from 'vitest';
import {
  bucketCount,
  bucketStarts,
  checkGrain,
  chooseGrain,
  coverRange,
  parseDuration,
  retentionAt,
  type Segment,
} from './metric-range.ts';

const t = (s: string) => Date.parse(s);
const show = (segments: Segment[]) =>
  segments.map(
    (s) => `${s.grain} ${new Date(s.from).toISOString()} → ${new Date(s.to).toISOString()}`,
  );

const NOW = t('2026-12-01T10:17:30Z');
const kept = retentionAt(NOW, { minuteDays: 2, hourDays: 90 });

describe('retention boundaries', () => {
  it('are aligned: minutes from an hour, hours from a day', () => {
    expect(new Date(kept.minuteSince).toISOString()).toBe('2026-11-29T11:00:00.000Z');
    expect(new Date(kept.hourSince).toISOString()).toBe('2026-09-03T00:00:00.000Z');
  });
});

describe('coverRange', () => {
  it('uses days in the middle, hours and minutes at the edges', () => {
    const cover = coverRange(t('2026-11-29T22:10:30Z'), NOW, kept);
    expect(show(cover.segments)).toEqual([
      'minute 2026-11-29T22:11:00.000Z → 2026-11-29T23:00:00.000Z',
      'hour 2026-11-29T23:00:00.000Z → 2026-11-30T00:00:00.000Z',
      'day 2026-11-30T00:00:00.000Z → 2026-12-01T00:00:00.000Z',
      'hour 2026-12-01T00:00:00.000Z → 2026-12-01T10:00:00.000Z',
      'minute 2026-12-01T10:00:00.000Z → 2026-12-01T10:18:00.000Z',
    ]);
    expect(new Date(cover.from).toISOString()).toBe('2026-11-29T22:11:00.000Z');
    expect(new Date(cover.to).toISOString()).toBe('2026-12-01T10:18:00.000Z');
  });

  it('falls back to hours, then days, where finer rows are no longer kept', () => {
    const cover = coverRange(t('2026-10-01T05:30:00Z'), NOW, kept);
    expect(show(cover.segments)[0]).toBe(
      'hour 2026-10-01T06:00:00.000Z → 2026-10-02T00:00:00.000Z',
    );
    const old = coverRange(t('2026-06-15T05:30:00Z'), t('2026-06-20T00:00:00Z'), kept);
    expect(show(old.segments)).toEqual(['day 2026-06-16T00:00:00.000Z → 2026-06-20T00:00:00.000Z']);
  });

  it('covers a range crossing a month end with whole days', () => {
    const cover = coverRange(t('2026-10-30T00:00:00Z'), t('2026-11-02T00:00:00Z'), kept);
    expect(show(cover.segments)).toEqual([
      'day 2026-10-30T00:00:00.000Z → 2026-11-02T00:00:00.000Z',
    ]);
  });

  it('covers every instant once: segments touch and never overlap', () => {
    for (let i = 0; i < 200; i++) {
      const from = NOW - Math.random() * 120 * 86_400_000;
      const to = from + Math.random() * (NOW - from);
      const { segments, from: start, to: end } = coverRange(from, to, kept);
      let at = start;
      for (const s of segments) {
        expect(s.from).toBe(at);
        expect(s.to).toBeGreaterThan(s.from);
        at = s.to;
      }
      expect(at).toBe(Math.max(start, end));
    }
  });
});

describe('grains', () => {
  it('counts the buckets that start in a range', () => {
    expect(bucketCount('hour', t('2026-12-01T00:30:00Z'), t('2026-12-01T03:00:00Z'))).toBe(2);
    expect(
      bucketStarts('day', t('2026-11-29T12:00:00Z'), t('2026-12-01T12:00:00Z')).map((s) =>
        new Date(s).toISOString(),
      ),
    ).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
  });

  it('refuses a grain that is not kept or would hold too many buckets', () => {
    expect(checkGrain('minute', NOW - 10 * 86_400_000, NOW, kept)).toMatchObject({
      kind: 'unavailable',
    });
    expect(checkGrain('minute', NOW - 86_400_000 * 1.5, NOW, kept)).toMatchObject({
      kind: 'too_many',
    });
    expect(checkGrain('hour', NOW - 30 * 86_400_000, NOW, kept)).toBeUndefined();
  });

  it('chooses the finest grain within the target number of buckets', () => {
    expect(chooseGrain(NOW - 3_600_000, NOW, kept)).toBe('minute');
    expect(chooseGrain(NOW - 86_400_000, NOW, kept)).toBe('hour');
    expect(chooseGrain(NOW - 30 * 86_400_000, NOW, kept)).toBe('day');
    expect(chooseGrain(NOW - 1_000 * 86_400_000, NOW, kept)).toBe('day');
  });
});

describe('parseDuration', () => {
  it('reads s, m, h and d, and nothing else', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    for (const bad of ['', '1w', '-1h', '1.5h', 'h']) expect(parseDuration(bad)).toBeUndefined();
  });
});
