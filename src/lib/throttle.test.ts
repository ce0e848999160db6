import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttle } from './throttle.ts';

describe('throttle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls at once when idle, then once at the end of the window for a burst', () => {
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    throttled();
    expect(fn).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(40);
      throttled();
    }
    expect(fn).toHaveBeenCalledTimes(1);
    // The window opened at 0 closes at 500: the burst's trailing call runs then, not later.
    vi.advanceTimersByTime(99);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5_000);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('never calls more often than once per window under a steady stream', () => {
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    for (let t = 0; t < 5_000; t += 10) {
      throttled();
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(500);
    // 5 s of calls: one per 500 ms window, plus the trailing one after the last call.
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(10);
    expect(fn.mock.calls.length).toBeLessThanOrEqual(11);
  });

  it('calls at once again after a quiet window, and cancel drops a waiting call', () => {
    const fn = vi.fn();
    const throttled = throttle(fn, 500);
    throttled();
    vi.advanceTimersByTime(600);
    throttled();
    expect(fn).toHaveBeenCalledTimes(2);
    throttled();
    throttled.cancel();
    vi.advanceTimersByTime(1_000);
    expect(fn).toHaveBeenCalledTimes(2);
    throttled();
    expect(fn).toHaveBeenCalledTimes(3);
  });
});
