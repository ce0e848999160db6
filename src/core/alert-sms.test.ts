import { describe, it, expect } from 'vitest';
import { MAX_SMS_LENGTH, smsText } from './alert-sms.ts';
import type { Alert } from './alert-text.ts';

const RUN_URL = 'https://mesh.example/runs/r1';
const alert: Alert = {
  type: 'run_failed',
  project: { id: 'p1' },
  workflow: { id: 'w1', slug: 'orders' },
  run: { id: 'r1', url: RUN_URL },
  node_id: 'charge',
  error: { type: 'http_5xx', message: 'upstream answered 502' },
  attempts: 3,
  covers: 1,
  rule: { id: 'ru1', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00Z'),
};

describe('smsText', () => {
  it('is the summary and the run URL on one line', () => {
    expect(smsText(alert)).toBe(
      `MeshHook: orders: run r1 failed at step charge with http_5xx: upstream answered 502 ${RUN_URL}`,
    );
    expect(smsText({ ...alert, covers: 2 })).toBe(
      `MeshHook: orders: run r1 failed at step charge with http_5xx: upstream answered 502 (and 1 more failure) ${RUN_URL}`,
    );
  });

  it('cuts the summary, never the URL, to stay within 320 characters', () => {
    const text = smsText({
      ...alert,
      covers: 9,
      error: { type: 'x', message: `line one\n${'long '.repeat(200)}` },
    });
    expect(text.length).toBe(MAX_SMS_LENGTH);
    expect(text.endsWith(`… ${RUN_URL}`)).toBe(true);
    expect(text).toMatch(
      /^MeshHook: orders: run r1 failed at step charge with x: line one long long/,
    );
    expect(text).not.toContain('\n');
  });

  it('leaves out a URL too long to leave room for the summary', () => {
    const url = `https://mesh.example/runs/r1?${'q'.repeat(300)}`;
    const text = smsText({ ...alert, run: { id: 'r1', url } });
    expect(text).toBe(
      'MeshHook: orders: run r1 failed at step charge with http_5xx: upstream answered 502',
    );
    const long = smsText({
      ...alert,
      run: { id: 'r1', url },
      error: { type: 'x', message: 'y'.repeat(400) },
    });
    expect(long.length).toBe(MAX_SMS_LENGTH);
  });

  it('has no URL for alerts of no run', () => {
    expect(
      smsText({ type: 'queue_stalled', project: { id: 'p' }, covers: 3, at: new Date(0) }),
    ).toBe('MeshHook: The queue is stalled (and 2 more failures)');
  });
});
