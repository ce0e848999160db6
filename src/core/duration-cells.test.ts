import { describe, expect, it } from 'vitest';
import {
  DURATION_CELL_BOUNDS,
  DURATION_CELLS,
  DurationHistogram,
  cellSpan,
  durationCell,
} from './duration-cells.ts';

describe('duration cells', () => {
  it('are the R10 series from 1 ms to 10,000 s, at most 28% apart', () => {
    expect(DURATION_CELLS).toBe(72);
    expect(DURATION_CELL_BOUNDS.slice(0, 11)).toEqual([
      1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8, 10,
    ]);
    expect(DURATION_CELL_BOUNDS.at(-1)).toBe(1e7);
    for (let i = 1; i < DURATION_CELL_BOUNDS.length; i++) {
      expect(DURATION_CELL_BOUNDS[i]! / DURATION_CELL_BOUNDS[i - 1]!).toBeLessThanOrEqual(1.28);
    }
  });

  it('place a duration as width_bucket does: lower bound inclusive', () => {
    expect(durationCell(0)).toBe(0);
    expect(durationCell(0.99)).toBe(0);
    expect(durationCell(1)).toBe(1);
    expect(durationCell(1.2)).toBe(1);
    expect(durationCell(1.25)).toBe(2);
    expect(durationCell(1e7)).toBe(71);
    expect(durationCell(1e9)).toBe(71);
    expect(cellSpan(durationCell(250))).toEqual({ from: 250, to: 320 });
  });
});

describe('quantiles from cells', () => {
  it('are within a cell of the true quantile', () => {
    const samples = Array.from({ length: 5_000 }, () => Math.exp(Math.random() * 12));
    const h = new DurationHistogram();
    for (const ms of samples) h.add(durationCell(ms), 1);
    samples.sort((x, y) => x - y);
    for (const q of [0.5, 0.95, 0.99]) {
      const truth = samples[Math.floor(q * samples.length)]!;
      const estimate = h.quantile(q)!;
      expect(estimate / truth).toBeGreaterThan(1 / 1.28);
      expect(estimate / truth).toBeLessThan(1.28);
    }
  });

  it('are null without runs, and the lower bound in the open last cell', () => {
    const h = new DurationHistogram();
    expect(h.quantile(0.5)).toBeNull();
    h.add(71, 3);
    expect(h.quantile(0.95)).toBe(1e7);
  });

  it('count the runs below a cell bound for cumulative buckets', () => {
    const h = new DurationHistogram();
    h.add(durationCell(3), 2);
    h.add(durationCell(40), 5);
    h.add(durationCell(900), 1);
    expect(h.countBelow(5)).toBe(2);
    expect(h.countBelow(50)).toBe(7);
    expect(h.countBelow(1_000)).toBe(8);
    expect(h.countBelow(Infinity)).toBe(8);
  });
});
