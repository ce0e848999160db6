import { describe, expect, it } from 'vitest';
import { createIssueThrottle } from './issue-throttle.ts';

describe('createIssueThrottle', () => {
  it('lets a burst of an issue through, then a steady few a minute, counting the rest', () => {
    let t = 0;
    const throttle = createIssueThrottle({ perMinute: 3, now: () => t });
    const sent = () =>
      Array.from({ length: 10 }, () => throttle.admit('f')).filter((a) => a.send).length;
    expect(sent()).toBe(3);
    // Twenty seconds earn one token back (3 a minute).
    t += 20_000;
    expect(throttle.admit('f')).toEqual({ send: true, suppressedBefore: 7 });
    expect(throttle.admit('f')).toEqual({ send: false });
    t += 60_000;
    expect(throttle.admit('f')).toEqual({ send: true, suppressedBefore: 1 });
    expect(throttle.admit('f')).toEqual({ send: true, suppressedBefore: 0 });
  });

  it('keeps issues apart', () => {
    const throttle = createIssueThrottle({ perMinute: 1, now: () => 0 });
    expect(throttle.admit('a').send).toBe(true);
    expect(throttle.admit('a').send).toBe(false);
    expect(throttle.admit('b')).toEqual({ send: true, suppressedBefore: 0 });
  });

  it('admits everything with a limit of 0', () => {
    const throttle = createIssueThrottle({ perMinute: 0, now: () => 0 });
    for (let i = 0; i < 100; i++) expect(throttle.admit('a').send).toBe(true);
  });
});
