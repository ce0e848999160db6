import { describe, it, expect } from 'vitest';
import {
  ERROR_TYPE_PATTERN,
  KNOWN_ERROR_TYPES,
  MAX_TITLE_LENGTH,
  classifyError,
  describeError,
  severityOf,
  type ErrorContext,
  type ErrorSource,
  type Severity,
} from './error-events.ts';
import { fingerprintOf } from './error-fingerprint.ts';
import { REDACTED, createRedactor } from './redact.ts';

const RUN_A = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const RUN_B = '9b2d1c4e-0a7f-4d3b-8e6a-51f0c2d7e9ab';
const fixed = { now: () => new Date('2025-03-01T12:00:00.000Z'), randomId: () => 'event-1' };

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR', name: 'error' });
}

function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
    errno: -111,
    code: 'ECONNREFUSED',
    syscall: 'connect',
    address: '127.0.0.1',
    port: 5432,
  });
}

class LeaseLostError extends Error {
  constructor() {
    super('lease lost for job 42');
    this.name = 'LeaseLostError';
  }
}

describe('KNOWN_ERROR_TYPES', () => {
  it('all match ERROR_TYPE_PATTERN', () => {
    expect(KNOWN_ERROR_TYPES.filter((type) => !ERROR_TYPE_PATTERN.test(type))).toEqual([]);
  });
});

describe('classifyError', () => {
  it.each<[string, unknown, string]>([
    [
      'a pg-shaped unique violation',
      { code: '23505', severity: 'ERROR', message: 'duplicate key value' },
      'db_error',
    ],
    [
      'a pg error for a missing relation',
      pgError('42P01', 'relation "runs" does not exist'),
      'db_error',
    ],
    ['a server shutting down (57P01)', pgError('57P01', 'terminating connection'), 'db_error'],
    ['a refused connection', connectionRefused(), 'db_error'],
    [
      'a refused connection to every address of a host',
      Object.assign(new AggregateError([connectionRefused()], ''), { code: 'ECONNREFUSED' }),
      'db_error',
    ],
    [
      'a reset connection',
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      'db_error',
    ],
    ['a lost pg connection', new Error('Connection terminated unexpectedly'), 'db_error'],
    ['a pool timeout', new Error('timeout exceeded when trying to connect'), 'db_error'],
    ['a wrapped pg error', new Error('claim failed', { cause: pgError('40001', 'x') }), 'db_error'],
    ['a LeaseLostError', new LeaseLostError(), 'lease_lost'],
    [
      "fetch's failure, even with a refused connection inside",
      new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }),
      'network',
    ],
    [
      'an undici error',
      Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
      'network',
    ],
    [
      'a DNS failure',
      Object.assign(new Error('getaddrinfo ENOTFOUND x.invalid'), { code: 'ENOTFOUND' }),
      'network',
    ],
    [
      'a wrapped fetch failure',
      new Error('load failed', { cause: new TypeError('fetch failed') }),
      'network',
    ],
    ['an AbortError', new DOMException('This operation was aborted', 'AbortError'), 'internal'],
    ['a TimeoutError', new DOMException('The operation timed out', 'TimeoutError'), 'internal'],
    [
      'a five-letter errno, which is no SQLSTATE',
      Object.assign(new Error('x'), { code: 'EPERM' }),
      'internal',
    ],
    ['a plain Error', new Error('boom'), 'internal'],
    ['a TypeError from a bug', new TypeError('x is not a function'), 'internal'],
    ['a string', 'fetch failed', 'internal'],
    ['null', null, 'internal'],
    ['a number', 42, 'internal'],
  ])('classifies %s', (_label, error, type) => {
    expect(classifyError(error)).toBe(type);
  });

  it('looks three causes deep and no deeper', () => {
    const wrap = (cause: unknown, levels: number): unknown =>
      levels === 0 ? cause : wrap(new Error(`level ${levels}`, { cause }), levels - 1);
    expect(classifyError(wrap(connectionRefused(), 3))).toBe('db_error');
    expect(classifyError(wrap(connectionRefused(), 4))).toBe('internal');
  });

  it('ends on a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as Error & { cause: unknown }).cause = b;
    expect(classifyError(a)).toBe('internal');
  });
});

describe('severityOf', () => {
  it.each<[ErrorSource, string, boolean | undefined, Severity]>([
    ['worker', 'http_5xx', true, 'high'],
    ['worker', 'http_5xx', false, 'low'],
    ['worker', 'http_5xx', undefined, 'medium'],
    ['worker', 'db_error', false, 'low'],
    ['webhook', 'signature_missing', undefined, 'medium'],
    ['webhook', 'signature_malformed', undefined, 'medium'],
    ['webhook', 'signature_invalid', undefined, 'medium'],
    ['webhook', 'signature_expired', undefined, 'medium'],
    ['webhook', 'payload_invalid', undefined, 'low'],
    ['webhook', 'payload_too_large', undefined, 'low'],
    ['webhook', 'workflow_not_found', undefined, 'low'],
    ['webhook', 'internal', undefined, 'high'],
    ['webhook', 'db_error', undefined, 'high'],
    ['webhook', 'rate_limited', undefined, 'medium'],
    ['api', 'internal', undefined, 'high'],
    ['api', 'db_error', undefined, 'high'],
    ['api', 'invalid_config', undefined, 'medium'],
    ['web', 'browser_error', undefined, 'medium'],
    ['web', 'internal', undefined, 'medium'],
    ['system', 'uncaught_exception', undefined, 'high'],
    ['system', 'unhandled_rejection', undefined, 'high'],
    ['system', 'db_error', undefined, 'high'],
    ['system', 'internal', undefined, 'high'],
    ['system', 'lease_lost', undefined, 'medium'],
    ['system', 'network', undefined, 'medium'],
  ])('%s %s (runEnding %s) → %s', (source, errorType, runEnding, severity) => {
    expect(severityOf({ source, errorType, runEnding })).toBe(severity);
  });

  it('lets an explicit severity win, and ignores one that is not a severity', () => {
    expect(severityOf({ source: 'worker', errorType: 'x', runEnding: true, severity: 'low' })).toBe(
      'low',
    );
    expect(severityOf({ source: 'web', errorType: 'browser_error', severity: 'high' })).toBe(
      'high',
    );
    expect(
      severityOf({ source: 'api', errorType: 'internal', severity: 'urgent' as Severity }),
    ).toBe('high');
  });
});

describe('describeError', () => {
  it('turns a step failure into a full record', () => {
    const stepError = {
      type: 'http_5xx',
      message: 'POST https://pay.example.com/charge answered 503',
      details: { status: 503 },
    };
    const event = describeError(
      stepError,
      {
        source: 'worker',
        errorType: stepError.type,
        projectId: 'p1',
        workflowId: 'wf-1',
        runId: RUN_A,
        nodeId: 'charge',
        runEnding: false,
        attempt: 2,
        metadata: { url: 'https://pay.example.com/charge' },
      },
      fixed,
    );
    expect(event).toEqual({
      id: 'event-1',
      ts: new Date('2025-03-01T12:00:00.000Z'),
      projectId: 'p1',
      source: 'worker',
      errorType: 'http_5xx',
      severity: 'low',
      title: 'POST https://pay.example.com/charge answered 503',
      message: 'POST https://pay.example.com/charge answered 503',
      stack: null,
      fingerprint: fingerprintOf({
        source: 'worker',
        errorType: 'http_5xx',
        workflowId: 'wf-1',
        nodeId: 'charge',
        message: 'POST https://pay.example.com/charge answered 503',
        frames: [],
      }),
      workflowId: 'wf-1',
      runId: RUN_A,
      nodeId: 'charge',
      userId: null,
      metadata: {
        attempt: 2,
        error: { details: { status: 503 } },
        url: 'https://pay.example.com/charge',
      },
    });
  });

  it('defaults to a random uuid and the current time', () => {
    const before = Date.now();
    const event = describeError(new Error('x'), { source: 'api' });
    expect(event.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(event.ts.getTime()).toBeGreaterThanOrEqual(before);
    expect(event.ts.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('classifies unless the context gives a valid type', () => {
    const pg = { code: '23505', severity: 'ERROR', message: 'duplicate key value' };
    expect(describeError(pg, { source: 'api' }, fixed)).toMatchObject({
      errorType: 'db_error',
      severity: 'high',
      message: 'duplicate key value',
      metadata: { error: { code: '23505' } },
    });
    expect(
      describeError(pg, { source: 'worker', errorType: 'step_timeout' }, fixed).errorType,
    ).toBe('step_timeout');
    expect(describeError(pg, { source: 'api', errorType: 'Not A Type!' }, fixed).errorType).toBe(
      'db_error',
    );
    expect(
      describeError(new Error('x'), { source: 'web', errorType: 'x'.repeat(65) }, fixed).errorType,
    ).toBe('internal');
  });

  it('applies the severity rules and an explicit override', () => {
    const error = new Error('boom');
    expect(describeError(error, { source: 'worker', runEnding: true }, fixed).severity).toBe(
      'high',
    );
    expect(describeError(error, { source: 'worker' }, fixed).severity).toBe('medium');
    expect(
      describeError(error, { source: 'webhook', errorType: 'signature_invalid' }, fixed).severity,
    ).toBe('medium');
    expect(describeError(error, { source: 'api', severity: 'low' }, fixed).severity).toBe('low');
  });

  it('appends up to three causes to the message, and fingerprints the top message only', () => {
    const chain = new Error('run failed', {
      cause: new Error('claim failed', {
        cause: new Error('query failed', {
          cause: new Error('socket closed', { cause: 'deepest' }),
        }),
      }),
    });
    const event = describeError(chain, { source: 'system' }, fixed);
    expect(event.message).toBe(
      'run failed (caused by: claim failed) (caused by: query failed) (caused by: socket closed)',
    );
    expect(event.title).toBe(event.message);
    const other = describeError(
      new Error('run failed', { cause: 'something else' }),
      { source: 'system' },
      fixed,
    );
    expect(other.message).toBe('run failed (caused by: something else)');
    // The same top message with different causes is one issue.
    expect(
      describeError({ message: 'run failed', cause: 'a' }, { source: 'system' }, fixed).fingerprint,
    ).toBe(
      describeError({ message: 'run failed', cause: 'b' }, { source: 'system' }, fixed).fingerprint,
    );
  });

  it('titles with the first non-empty line, cut to 200 characters', () => {
    const event = describeError(
      new Error('\n  first line  \nsecond line'),
      { source: 'api' },
      fixed,
    );
    expect(event.title).toBe('first line');
    expect(event.message).toBe('\n  first line  \nsecond line');
    const long = describeError(new Error('y'.repeat(300)), { source: 'api' }, fixed);
    expect(long.title).toBe(`${'y'.repeat(MAX_TITLE_LENGTH - 1)}…`);
    expect(describeError(new TypeError(), { source: 'api' }, fixed).title).toBe('TypeError');
    expect(describeError('', { source: 'api' }, fixed).title).toBe('internal');
  });

  it('groups repeats across runs and splits different nodes, types and messages', () => {
    const fail = (runId: string, nodeId: string, errorType: string, status = 503) => {
      const error = new Error(
        `run ${runId}: POST https://pay.example.com/charge answered ${status}`,
      );
      error.stack = `Error: ${error.message}\n    at callHttp (file:///srv/meshhook/src/engine/nodes/http-call.ts:90:11)`;
      return describeError(
        error,
        { source: 'worker', workflowId: 'wf-1', runId, nodeId, errorType },
        fixed,
      ).fingerprint;
    };
    const first = fail(RUN_A, 'charge', 'http_5xx');
    expect(fail(RUN_B, 'charge', 'http_5xx')).toBe(first);
    expect(fail(RUN_B, 'refund', 'http_5xx')).not.toBe(first);
    expect(fail(RUN_B, 'charge', 'http_timeout')).not.toBe(first);
    expect(fail(RUN_B, 'charge', 'http_5xx', 502)).not.toBe(first);
  });

  it('leaves no planted secret in any field', () => {
    const secret = 'whsec_Pl4ntedSecretValue';
    const token = 'abcDEF1234567890tokenXYZ';
    const password = 'hunter2-correct-horse';
    const redactor = createRedactor({ secrets: [secret] });
    const error = new Error(
      `signature check with ${secret} failed; Authorization: Bearer ${token}`,
      {
        cause: new Error(`retry with ${secret}`),
      },
    );
    error.stack = `Error: ${error.message}\n    at verify (file:///srv/meshhook/src/http/webhooks.ts:10:3)`;
    const event = describeError(
      error,
      {
        source: 'webhook',
        errorType: 'signature_invalid',
        attempt: 1,
        metadata: {
          password,
          note: `secret was ${secret}`,
          headers: { authorization: `Bearer ${token}` },
          [secret]: 'a key named by the secret',
          nested: [{ url: `https://x.example.com/?token=${token}` }],
        },
      },
      { ...fixed, redactor },
    );
    const json = JSON.stringify(event);
    for (const planted of [secret, token, password]) expect(json).not.toContain(planted);
    expect(event.message).toBe(
      `signature check with ${REDACTED} failed; Authorization: Bearer ${REDACTED} (caused by: retry with ${REDACTED})`,
    );
    expect(event.stack).toBe(
      `Error: signature check with ${REDACTED} failed; Authorization: Bearer ${REDACTED}\n    at verify (file:///srv/meshhook/src/http/webhooks.ts:10:3)`,
    );
    expect(event.metadata).toEqual({
      attempt: 1,
      password: REDACTED,
      note: `secret was ${REDACTED}`,
      headers: { authorization: REDACTED },
      [REDACTED]: 'a key named by the secret',
      nested: [{ url: `https://x.example.com/?token=${REDACTED}` }],
    });
    // The secret does not influence grouping: another secret, the same failure, one issue.
    const other = 'whsec_AnotherSecretValue1';
    const again = new Error(
      `signature check with ${other} failed; Authorization: Bearer zzz999yyy888`,
    );
    again.stack = `Error: ${again.message}\n    at verify (file:///srv/meshhook/src/http/webhooks.ts:10:3)`;
    expect(
      describeError(
        again,
        { source: 'webhook', errorType: 'signature_invalid' },
        {
          ...fixed,
          redactor: createRedactor({ secrets: [other] }),
        },
      ).fingerprint,
    ).toBe(event.fingerprint);
  });

  it('redacts with the built-in rules by default', () => {
    const event = describeError(
      new Error('GET https://user:pa55word@db.example.com failed'),
      { source: 'api', metadata: { apiKey: 'k-123456' } },
      fixed,
    );
    expect(event.message).toBe(`GET https://user:${REDACTED}@db.example.com failed`);
    expect(event.metadata).toEqual({ apiKey: REDACTED });
  });

  it('survives a broken context, clock, id source and redactor', () => {
    const event = describeError(
      new Error('boom'),
      { source: 'nowhere' } as unknown as ErrorContext,
      {
        now: () => {
          throw new Error('clock');
        },
        randomId: () => {
          throw new Error('ids');
        },
        redactor: {
          value: () => {
            throw new Error('redactor');
          },
          text: () => {
            throw new Error('redactor');
          },
        },
      },
    );
    expect(event.source).toBe('system');
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.ts).toBeInstanceOf(Date);
    // Text that could not be redacted is not stored.
    expect(event.message).toBe(REDACTED);
    expect(event.title).toBe(REDACTED);
    expect(event.stack).toBe(REDACTED);
    expect(event.metadata).toEqual({});
    expect(
      describeError(new Error('x'), undefined as unknown as ErrorContext, fixed),
    ).toMatchObject({
      source: 'system',
      message: 'x',
      projectId: null,
      runId: null,
    });
  });
});
