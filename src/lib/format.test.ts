import { describe, expect, it } from 'vitest';
import {
  formatBucketStart,
  formatDefinition,
  formatDuration,
  formatRate,
  formatShortDuration,
} from './format.ts';

describe('formatDefinition', () => {
  it('puts nodes before edges and id, type, from, to first, keeping config as stored', () => {
    const stored = {
      edges: [{ to: 'b', when: 'true', from: 'a' }],
      nodes: [{ config: { z: 1, a: 2 }, id: 'a', type: 'branch' }],
    };
    expect(formatDefinition(stored)).toBe(
      JSON.stringify(
        {
          nodes: [{ id: 'a', type: 'branch', config: { z: 1, a: 2 } }],
          edges: [{ from: 'a', to: 'b', when: 'true' }],
        },
        null,
        2,
      ),
    );
  });

  it('prints anything else as plain JSON', () => {
    expect(formatDefinition(null)).toBe('null');
    expect(formatDefinition([1])).toBe('[\n  1\n]');
  });
});

describe('formatDuration', () => {
  it('picks a unit that reads well', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(85)).toBe('85 ms');
    expect(formatDuration(2400)).toBe('2.40 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(7_440_000)).toBe('2 h 4 min');
  });
});

describe('formatRate', () => {
  it('shows one decimal, and 0% or 100% only when exact', () => {
    expect(formatRate(null)).toBe('—');
    expect(formatRate(undefined)).toBe('—');
    expect(formatRate(1)).toBe('100%');
    expect(formatRate(0)).toBe('0%');
    expect(formatRate(0.5)).toBe('50.0%');
    expect(formatRate(0.9734)).toBe('97.3%');
    expect(formatRate(2 / 3)).toBe('66.7%');
    expect(formatRate(4999 / 5000)).toBe('>99.9%');
    expect(formatRate(1 / 5000)).toBe('<0.1%');
    expect(formatRate(0.001)).toBe('0.1%');
    expect(formatRate(0.999)).toBe('99.9%');
  });
});

describe('formatShortDuration', () => {
  it('uses one unit, with a decimal below ten of it', () => {
    expect(formatShortDuration(null)).toBe('—');
    expect(formatShortDuration(0)).toBe('0 ms');
    expect(formatShortDuration(850)).toBe('850 ms');
    expect(formatShortDuration(2400)).toBe('2.4 s');
    expect(formatShortDuration(2000)).toBe('2 s');
    expect(formatShortDuration(42_300)).toBe('42 s');
    expect(formatShortDuration(180_000)).toBe('3 min');
    expect(formatShortDuration(185_000)).toBe('3.1 min');
    expect(formatShortDuration(25 * 60_000)).toBe('25 min');
    expect(formatShortDuration(5_400_000)).toBe('1.5 h');
    expect(formatShortDuration(3 * 86_400_000)).toBe('3 d');
  });

  it('moves to the next unit when rounding reaches it', () => {
    expect(formatShortDuration(999.6)).toBe('1 s');
    expect(formatShortDuration(59_970)).toBe('1 min');
    expect(formatShortDuration(3_599_000)).toBe('1 h');
  });
});

describe('formatBucketStart', () => {
  // Local times, so the labels hold in any time zone.
  const afternoon = new Date(2026, 2, 4, 14, 5).toISOString();
  const midnight = new Date(2026, 2, 4, 0, 0).toISOString();

  it('labels minute and hour buckets by time, midnight and day buckets by date', () => {
    for (const grain of ['minute', 'hour'] as const) {
      expect(formatBucketStart(afternoon, grain)).toMatch(/05/);
      expect(formatBucketStart(afternoon, grain)).not.toMatch(/Mar/);
      expect(formatBucketStart(midnight, grain)).toMatch(/Mar/);
      expect(formatBucketStart(midnight, grain)).toMatch(/4/);
    }
    expect(formatBucketStart(afternoon, 'day')).toMatch(/Mar/);
    expect(formatBucketStart(afternoon, 'day')).not.toMatch(/05/);
    expect(formatBucketStart('not a time', 'hour')).toBe('not a time');
  });
});
