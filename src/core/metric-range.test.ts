import { describe, expect, it } from 'vitest';
import {
  bucketCount,
  bucketStarts,
  checkGrain,
  chooseGrain,
  parseDuration,
  retentionAt,
} from './metric-range.ts';

const t = (s: string) => Date.parse(s);

const NOW = t('2026-12-01T10:17:30Z');
const kept = retentionAt(NOW, { minuteDays: 2, hourDays: 90 });

describe('retention boundaries', () => {
  it('are aligned: minutes from an hour, hours from a day', () => {
    expect(new Date(kept.minuteSince).toISOString()).toBe('2026-11-29T11:00:00.000Z');
    expect(new Date(kept.hourSince).toISOString()).toBe('2026-09-03T00:00:00.000Z');
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
    expect(chooseGrain(NOW - 7 * 86_400_000, NOW, kept)).toBe('hour');
    expect(chooseGrain(NOW - 9 * 86_400_000, NOW, kept)).toBe('day');
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
