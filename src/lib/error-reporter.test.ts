import { describe, expect, it } from 'vitest';
import {
  buildReport,
  createReporter,
  describeFailure,
  isNoise,
  pageContext,
  ReportGate,
  type ErrorReport,
} from './error-reporter.ts';

const RUN = '0b5c3b0e-8d1f-4f52-9a57-3f1e0f7c2a11';
const WORKFLOW = '6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b';

/** A reporter whose reports land in an array, at a clock the test moves. */
function recording(pathname = '/workflows') {
  const sent: ErrorReport[] = [];
  const clock = { now: 1_000_000 };
  const reporter = createReporter({
    send: (report) => {
      sent.push(report);
    },
    now: () => clock.now,
    pathname: () => pathname,
    userAgent: () => 'Test/1.0',
  });
  return { sent, clock, reporter };
}

describe('describeFailure', () => {
  it("takes an Error's message and stack, and anything else as words", () => {
    const error = new TypeError('x is undefined');
    expect(describeFailure(error)).toEqual({ message: 'x is undefined', stack: error.stack });
    expect(describeFailure('plain words')).toEqual({ message: 'plain words' });
    expect(describeFailure({ message: 'shaped like one', stack: 'at f' })).toEqual({
      message: 'shaped like one',
      stack: 'at f',
    });
    expect(describeFailure({ code: 42 })).toEqual({ message: '{"code":42}' });
    expect(describeFailure(undefined)).toEqual({ message: 'undefined' });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(describeFailure(cycle)).toEqual({ message: '[object Object]' });
  });

  it('names an Error without a message by its name', () => {
    const error = new RangeError();
    expect(describeFailure(error).message).toBe('RangeError');
  });
});

describe('isNoise', () => {
  it("drops a cross-origin script's hidden error and ResizeObserver's notice", () => {
    expect(isNoise({ message: 'Script error.' })).toBe(true);
    expect(
      isNoise({ message: 'ResizeObserver loop completed with undelivered notifications.' }),
    ).toBe(true);
    expect(isNoise({ message: 'Script error.', stack: 'at ours.js:1' })).toBe(false);
    expect(isNoise({ message: 'boom' })).toBe(false);
  });
});

describe('pageContext', () => {
  it('names the run or the workflow of the page', () => {
    expect(pageContext(`/runs/${RUN}`)).toEqual({ run_id: RUN });
    expect(pageContext(`/workflows/${WORKFLOW.toUpperCase()}`)).toEqual({ workflow_id: WORKFLOW });
    expect(pageContext('/workflows/checkout')).toEqual({ workflow: 'checkout' });
    expect(pageContext('/workflows/caf%C3%A9')).toEqual({ workflow: 'café' });
  });

  it('names nothing elsewhere, or for what is not an id', () => {
    expect(pageContext('/runs')).toEqual({});
    expect(pageContext('/runs/not-a-run')).toEqual({});
    expect(pageContext('/workflows/new')).toEqual({});
    expect(pageContext('/errors/abc')).toEqual({});
    expect(pageContext('/')).toEqual({});
  });
});

describe('buildReport', () => {
  it("is the API's body: source web, medium, the page's path and context", () => {
    expect(
      buildReport({
        type: 'unhandled_rejection',
        failure: { message: 'boom', stack: 'Error: boom\n  at f' },
        pathname: `/runs/${RUN}`,
        userAgent: 'Test/1.0',
      }),
    ).toEqual({
      source: 'web',
      error_type: 'unhandled_rejection',
      severity: 'medium',
      message: 'boom',
      stack: 'Error: boom\n  at f',
      run_id: RUN,
      metadata: { page: `/runs/${RUN}`, user_agent: 'Test/1.0' },
    });
  });

  it('keeps a slug in the metadata and stays far below the 64 KiB body limit', () => {
    const report = buildReport({
      type: 'browser_error',
      failure: { message: 'm'.repeat(100_000), stack: 's'.repeat(100_000) },
      pathname: '/workflows/checkout',
      userAgent: 'u'.repeat(10_000),
    });
    expect(report.metadata).toMatchObject({ workflow: 'checkout', page: '/workflows/checkout' });
    expect(report).not.toHaveProperty('workflow_id');
    expect(report.message.length).toBe(2_000);
    expect(report.message.endsWith('…')).toBe(true);
    // Every character escaped in JSON would double it: still under half the quota.
    expect(new TextEncoder().encode(JSON.stringify(report)).length).toBeLessThan((32 * 1024) / 2);
  });
});

describe('ReportGate', () => {
  it('drops an identical report within 10 s, and lets it through after', () => {
    const gate = new ReportGate();
    expect(gate.admit('a', 0)).toBe(true);
    expect(gate.admit('a', 9_999)).toBe(false);
    expect(gate.admit('b', 9_999)).toBe(true);
    expect(gate.admit('a', 10_000)).toBe(true);
  });

  it('lets through at most 10 a minute, then more as the minute moves on', () => {
    const gate = new ReportGate();
    const admitted = Array.from({ length: 15 }, (_, i) => gate.admit(`m${i}`, i * 1_000));
    expect(admitted.filter(Boolean)).toHaveLength(10);
    expect(admitted.slice(10).every((ok) => !ok)).toBe(true);
    // The first went at 0: at 60 s its slot is free again, and only its.
    expect(gate.admit('late-1', 60_000)).toBe(true);
    expect(gate.admit('late-2', 60_000)).toBe(false);
  });
});

describe('createReporter', () => {
  it('sends a report of each error, once within 10 s for the same message', () => {
    const { sent, clock, reporter } = recording(`/workflows/${WORKFLOW}`);
    reporter.report(new Error('boom from the page'));
    reporter.report(new Error('boom from the page'));
    reporter.report('other', 'unhandled_rejection');
    expect(sent.map((r) => [r.error_type, r.message])).toEqual([
      ['browser_error', 'boom from the page'],
      ['unhandled_rejection', 'other'],
    ]);
    expect(sent[0]).toMatchObject({ workflow_id: WORKFLOW, metadata: { user_agent: 'Test/1.0' } });
    clock.now += 10_000;
    reporter.report(new Error('boom from the page'));
    expect(sent).toHaveLength(3);
  });

  it('treats the same message of another type as another report', () => {
    const { sent, reporter } = recording();
    reporter.report(new Error('same'), 'browser_error');
    reporter.report(new Error('same'), 'unhandled_rejection');
    expect(sent).toHaveLength(2);
  });

  it('never reports an error raised while reporting, nor throws', () => {
    let calls = 0;
    const reporter = createReporter({
      send: () => {
        calls++;
        // A send that fails by reporting again, then throwing: neither loops.
        reporter.report(new Error('while reporting'));
        throw new Error('send failed');
      },
      pathname: () => '/',
      userAgent: () => 'Test/1.0',
    });
    expect(() => reporter.report(new Error('first'))).not.toThrow();
    expect(calls).toBe(1);
    // The reporter still works afterwards.
    expect(() => reporter.report(new Error('second'))).not.toThrow();
    expect(calls).toBe(2);
  });

  it('swallows a rejected send', async () => {
    const reporter = createReporter({
      send: () => Promise.reject(new Error('offline')),
      pathname: () => '/',
      userAgent: () => 'Test/1.0',
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      reporter.report(new Error('first'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('drops noise and caps a burst at 10', () => {
    const { sent, reporter } = recording();
    reporter.report('Script error.');
    for (let i = 0; i < 50; i++) reporter.report(new Error(`error ${i}`));
    expect(sent).toHaveLength(10);
    expect(sent.at(-1)?.message).toBe('error 9');
  });
});
