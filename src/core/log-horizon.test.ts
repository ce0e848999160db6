import { describe, expect, it } from 'vitest';
import { LogHorizon } from './log-horizon.ts';

const running = (...xids: number[]) => new Set(xids.map(BigInt));

describe('LogHorizon', () => {
  it('is final at once when nothing was running', () => {
    const horizon = new LogHorizon(0n);
    expect(horizon.observe(42n, running())).toBe(42n);
    expect(horizon.waiting).toBe(false);
  });

  it('waits for every transaction running at the reading, then moves up', () => {
    const horizon = new LogHorizon(0n);
    expect(horizon.observe(42n, running(101, 103))).toBe(0n);
    expect(horizon.waiting).toBe(true);
    // 101 ended, 103 still runs: 42 is not final yet.
    expect(horizon.observe(42n, running(103, 105))).toBe(0n);
    // 103 ended; 105, running at this reading, holds the next mark back.
    expect(horizon.observe(50n, running(105))).toBe(42n);
    expect(horizon.observe(50n, running())).toBe(50n);
    expect(horizon.waiting).toBe(false);
  });

  it('never moves down and ignores a mark it already passed', () => {
    const horizon = new LogHorizon(100n);
    expect(horizon.observe(90n, running(7))).toBe(100n);
    expect(horizon.waiting).toBe(false);
  });

  it('keeps later marks waiting behind an earlier one that still waits', () => {
    const horizon = new LogHorizon(0n);
    horizon.observe(10n, running(20));
    horizon.observe(20n, running(20, 23));
    // 23 ended but 20 still runs: no mark is final.
    expect(horizon.observe(30n, running(20, 24))).toBe(0n);
    // 20 ended: the first two marks are final, 30 waits for 24.
    expect(horizon.observe(30n, running(24, 25))).toBe(20n);
    expect(horizon.observe(31n, running(25))).toBe(30n);
  });
});
