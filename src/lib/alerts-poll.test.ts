import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startPoll } from './alerts-poll.ts';

describe('startPoll', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('calls at once, then each interval after the last call settled, until stopped', async () => {
    let calls = 0;
    const poll = startPoll(async () => {
      calls++;
    }, 1_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    poll.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toBe(2);
  });

  it('never overlaps a slow call, and keeps going after a failure', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    const poll = startPoll(async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2_500));
      running--;
      if (calls === 1) throw new Error('down');
    }, 1_000);
    poll.now();
    poll.now();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(most).toBe(1);
    // At 0 s; at 2.5 s the one both now() calls asked for; then 1 s after each: 6 s, 9.5 s.
    expect(calls).toBe(4);
    poll.stop();
  });
});
