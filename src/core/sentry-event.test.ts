import { describe, expect, it } from 'vitest';
import { describeError, type CapturedError, type ErrorContext } from './error-events.ts';
import { isExpectedError, reportsToSentry, sentryEventOf } from './sentry-event.ts';

const ids = {
  projectId: '9985b3d0-0c45-4ffe-bdf8-e6cfa01af30a',
  workflowId: '0b6c1b7e-2f53-4a0e-8f2c-8f4a3b6d2e11',
  runId: '5d2a9c3e-7b41-4e6f-a0d8-1c9e3f7b5a24',
  nodeId: 'charge',
};

function captured(error: unknown, context: Partial<ErrorContext> = {}): CapturedError {
  return describeError(
    error,
    { source: 'worker', runEnding: true, ...ids, ...context },
    {
      now: () => new Date('2026-11-23T16:03:06.786Z'),
      randomId: () => 'a6371c41-0b75-4cdb-a02c-df4859e57ecf',
    },
  );
}

describe('sentryEventOf', () => {
  it('carries the ids, source, type and severity as tags, and the fingerprint as is', () => {
    const error = captured(new Error('POST https://api.example.com answered 503'), {
      errorType: 'http_5xx',
      attempt: 3,
      userId: 'b1f4e7a2-5c1d-4f7e-9a3b-2d8c6e0f1a2b',
    });
    const event = sentryEventOf(error);
    expect(event).toMatchObject({
      event_id: 'a6371c410b754cdba02cdf4859e57ecf',
      timestamp: Date.parse('2026-11-23T16:03:06.786Z') / 1_000,
      level: 'error',
      platform: 'node',
      fingerprint: [error.fingerprint],
      tags: {
        source: 'worker',
        error_type: 'http_5xx',
        severity: 'high',
        project_id: ids.projectId,
        workflow_id: ids.workflowId,
        run_id: ids.runId,
        node_id: 'charge',
      },
      user: { id: 'b1f4e7a2-5c1d-4f7e-9a3b-2d8c6e0f1a2b' },
      contexts: { meshhook: { error_id: error.id, fingerprint: error.fingerprint } },
      extra: { attempt: 3 },
    });
    expect(event.exception.values).toEqual([
      {
        type: 'http_5xx',
        value: 'POST https://api.example.com answered 503',
        mechanism: { type: 'meshhook', handled: true },
      },
    ]);
  });

  it('maps high, medium and low to error, warning and info', () => {
    const levels = (['high', 'medium', 'low'] as const).map(
      (severity) => sentryEventOf(captured('x', { severity })).level,
    );
    expect(levels).toEqual(['error', 'warning', 'info']);
  });

  it('leaves out the tags of ids it does not know, and the user when nobody acted', () => {
    const event = sentryEventOf(
      captured('x', {
        source: 'system',
        projectId: null,
        workflowId: null,
        runId: null,
        nodeId: null,
      }),
    );
    expect(Object.keys(event.tags).sort()).toEqual(['error_type', 'severity', 'source']);
    expect(event).not.toHaveProperty('user');
  });

  it('parses the redacted stack with the parser given, and survives one that throws', () => {
    const error = captured(new Error('boom with Bearer abcdef0123456789'));
    const stacks: string[] = [];
    const event = sentryEventOf(error, {
      parseStack: (stack) => {
        stacks.push(stack);
        return [{ filename: 'src/engine/worker.ts', function: 'run', in_app: true }];
      },
    });
    expect(stacks).toEqual([error.stack]);
    expect(stacks[0]).not.toContain('abcdef0123456789');
    expect(event.exception.values[0]!.stacktrace).toEqual({
      frames: [{ filename: 'src/engine/worker.ts', function: 'run', in_app: true }],
    });
    const broken = sentryEventOf(error, {
      parseStack: () => {
        throw new Error('unparsable');
      },
    });
    expect(broken.exception.values[0]).not.toHaveProperty('stacktrace');
  });

  it('marks uncaught exceptions and unhandled rejections as unhandled', () => {
    for (const errorType of ['uncaught_exception', 'unhandled_rejection']) {
      const event = sentryEventOf(captured(new Error('x'), { source: 'system', errorType }));
      expect(event.exception.values[0]!.mechanism).toEqual({ type: 'meshhook', handled: false });
    }
  });

  it('says a browser’s report is JavaScript', () => {
    expect(sentryEventOf(captured('x', { source: 'web' })).platform).toBe('javascript');
  });
});

describe('which errors go to Sentry', () => {
  it('not the expected ones: metadata.status 4xx', () => {
    const refused = captured('signature mismatch', {
      source: 'webhook',
      errorType: 'signature_invalid',
      metadata: { status: 401 },
    });
    expect(isExpectedError(refused)).toBe(true);
    expect(reportsToSentry(refused)).toBe(false);
    for (const status of [399, 500, '404', undefined]) {
      const other = captured('x', { source: 'api', metadata: { status } });
      expect(isExpectedError(other)).toBe(false);
    }
  });

  it('not a step attempt another attempt follows, but the one that ends the run', () => {
    expect(reportsToSentry(captured('x', { runEnding: false, attempt: 1 }))).toBe(false);
    expect(reportsToSentry(captured('x', { runEnding: true, attempt: 2 }))).toBe(true);
    expect(reportsToSentry(captured('x', { runEnding: undefined, errorType: 'lease_lost' }))).toBe(
      true,
    );
  });

  it('a browser’s report unless the browser reports to Sentry itself', () => {
    const report = captured('x', { source: 'web' });
    expect(reportsToSentry(report)).toBe(true);
    expect(reportsToSentry(report, { browserReportsItself: true })).toBe(false);
    expect(reportsToSentry(captured('x'), { browserReportsItself: true })).toBe(true);
  });
});
