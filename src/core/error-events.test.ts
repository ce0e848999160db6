import { describe, it, expect } from 'vitest';
import {
  ERROR_TYPE_PATTERN,
  KNOWN_ERROR_TYPES,
  MAX_MESSAGE_LENGTH,
  MAX_METADATA_LENGTH,
  MAX_STACK_LENGTH,
  MAX_TITLE_LENGTH,
  classifyError,
  describeError,
  fingerprintOf,
  inAppFrames,
  normaliseMessage,
  severityOf,
  type ErrorContext,
  type ErrorSource,
  type Severity,
} from './error-events.ts';
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

describe('normaliseMessage', () => {
  it('makes repeats that differ in run id, number and timestamp equal', () => {
    const a = normaliseMessage(`run ${RUN_A} failed at 2025-03-01T12:00:00.123Z after 3 attempts`);
    const b = normaliseMessage(`run ${RUN_B} failed at 2025-03-02T08:15:09Z after 5 attempts`);
    expect(a).toBe('run <uuid> failed at <time> after <n> attempts');
    expect(b).toBe(a);
  });

  it('keeps what tells failures apart', () => {
    expect(normaliseMessage('GET https://api.example.com/orders answered 503')).not.toBe(
      normaliseMessage('GET https://api.example.com/orders answered 404'),
    );
    expect(normaliseMessage('relation "runs" does not exist')).not.toBe(
      normaliseMessage('relation "users" does not exist'),
    );
    expect(normaliseMessage('step exceeded its timeout')).not.toBe(
      normaliseMessage('step exceeded its budget'),
    );
  });

  it.each([
    [
      'GET https://api.example.com/orders/8812?page=2&sort=asc answered 503',
      'GET https://api.example.com/orders/<n>?<query> answered 503',
    ],
    ['no reply from ops@example.com', 'no reply from <email>'],
    ['job 0a1b2c3d4e5f failed, tx 0xDEADBEEF01', 'job <hex> failed, tx <hex>'],
    ['connect ECONNREFUSED 10.0.0.3:5432', 'connect ECONNREFUSED <ip>:<n>'],
    [
      'took 250 ms, then 120ms, then 1.5 s; 99% done',
      'took <n> ms, then <n>ms, then <n> s; <n>% done',
    ],
    ['exceeded its 30000 ms timeout on 2025-03-01', 'exceeded its <n> ms timeout on <time>'],
    ['status 500 after 600 tries', 'status 500 after <n> tries'],
    [
      'duplicate key value violates unique constraint "workflow_versions_workflow_id_key"',
      'duplicate key value violates unique constraint "workflow_versions_workflow_id_key"',
    ],
    [
      'Unexpected token "this body is not json, order 1234" in payload',
      'Unexpected token "<str>" in payload',
    ],
    [
      'http_5xx with sha256 over utf-8 from v1.2.3 at step_2',
      'http_5xx with sha256 over utf-8 from v1.2.3 at step_2',
    ],
    ['  two\n\tlines   here ', 'two lines here'],
    ['the word deadbeefcafe and decade stay', 'the word deadbeefcafe and decade stay'],
  ])('normalises %j', (input, expected) => {
    expect(normaliseMessage(input)).toBe(expected);
  });

  it('is stable when applied twice', () => {
    const once = normaliseMessage(
      `run ${RUN_A} at 2025-03-01T12:00:00Z: "a long quoted value with spaces" 42 0xabc12345`,
    );
    expect(normaliseMessage(once)).toBe(once);
  });
});

const STACK = [
  'Error: claim failed',
  '    at claimStepJobs (file:///srv/meshhook/src/engine/claim.ts:41:11)',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  '    at async BoundPool.query (/srv/meshhook/node_modules/pg-pool/index.js:45:11)',
  '    at async Worker.#tick (file:///srv/meshhook/src/engine/worker.ts:120:7)',
  '    at async Promise.all (index 0)',
  '    at eval (eval at <anonymous> (file:///srv/meshhook/src/core/expression.ts:5:1), <anonymous>:1:1)',
  '    at file:///srv/meshhook/src/cli.ts:88:3',
  '    at new Settler (file:///srv/meshhook/src/engine/settler.ts:20:5)',
  '    at Object.run (/home/me/src/meshhook/src/engine/run.ts:7:1)',
].join('\n');

describe('inAppFrames', () => {
  it('keeps the frames of src/, top first, without line numbers', () => {
    expect(inAppFrames(STACK)).toEqual([
      'claimStepJobs (src/engine/claim.ts)',
      'Worker.#tick (src/engine/worker.ts)',
      '<anonymous> (src/cli.ts)',
      'new Settler (src/engine/settler.ts)',
      'Object.run (src/engine/run.ts)',
    ]);
  });

  it('stops at max', () => {
    expect(inAppFrames(STACK, 2)).toEqual([
      'claimStepJobs (src/engine/claim.ts)',
      'Worker.#tick (src/engine/worker.ts)',
    ]);
  });

  it('reads Windows paths and dev-server URLs, and skips bundles outside src/', () => {
    const stack = [
      'TypeError: x is undefined',
      '    at render (http://localhost:5173/src/lib/chart.ts?t=1718000000000:12:9)',
      '    at C:\\meshhook\\src\\http\\api.ts:3:4',
      '    at h (https://meshhook.example.com/_app/immutable/chunks/Bx7a9.js:1:2044)',
    ].join('\n');
    expect(inAppFrames(stack)).toEqual([
      'render (src/lib/chart.ts)',
      '<anonymous> (src/http/api.ts)',
    ]);
  });

  it('gives nothing for a missing stack or one without frames', () => {
    expect(inAppFrames(undefined)).toEqual([]);
    expect(inAppFrames('Error: boom')).toEqual([]);
  });
});

describe('fingerprintOf', () => {
  const base = {
    source: 'worker' as const,
    errorType: 'http_5xx',
    workflowId: 'wf-1',
    nodeId: 'charge',
    message: 'POST https://pay.example.com/charge answered 503',
    frames: [] as string[],
  };

  it('is 32 hex characters and the same for the same parts', () => {
    expect(fingerprintOf(base)).toMatch(/^[0-9a-f]{32}$/);
    expect(fingerprintOf({ ...base })).toBe(fingerprintOf(base));
  });

  it('ignores what normalisation removes and keeps every other part', () => {
    const fp = fingerprintOf({ ...base, message: `run ${RUN_A}: attempt 3 failed` });
    expect(fingerprintOf({ ...base, message: `run ${RUN_B}: attempt 4 failed` })).toBe(fp);
    const others = [
      fingerprintOf(base),
      fingerprintOf({ ...base, source: 'system' }),
      fingerprintOf({ ...base, errorType: 'http_4xx' }),
      fingerprintOf({ ...base, workflowId: 'wf-2' }),
      fingerprintOf({ ...base, nodeId: 'refund' }),
      fingerprintOf({ ...base, nodeId: null }),
      fingerprintOf({ ...base, message: 'POST https://pay.example.com/charge answered 502' }),
      fingerprintOf({ ...base, frames: ['charge (src/engine/nodes/http-call.ts)'] }),
    ];
    expect(new Set([fp, ...others]).size).toBe(others.length + 1);
  });

  it('keeps parts apart, so moving text between them changes the fingerprint', () => {
    expect(fingerprintOf({ ...base, workflowId: 'a', nodeId: 'bc' })).not.toBe(
      fingerprintOf({ ...base, workflowId: 'ab', nodeId: 'c' }),
    );
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

  it('joins the messages inside an AggregateError', () => {
    const error = new AggregateError(
      [
        new Error('connect ECONNREFUSED ::1:5432'),
        new Error('connect ECONNREFUSED 127.0.0.1:5432'),
      ],
      '',
    );
    expect(describeError(error, { source: 'system' }, fixed).message).toBe(
      'connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432',
    );
    expect(
      describeError(new AggregateError(['a', 'b'], 'all failed'), { source: 'system' }, fixed)
        .message,
    ).toBe('all failed: a; b');
  });

  it('stringifies values that are not errors', () => {
    const message = (value: unknown) => describeError(value, { source: 'web' }, fixed).message;
    expect(message('plain text')).toBe('plain text');
    expect(message({ reason: 'nope', code: 7 })).toBe('{"reason":"nope","code":7}');
    expect(message([1, 'two'])).toBe('[1,"two"]');
    expect(message(42)).toBe('42');
    expect(message(10n)).toBe('10');
    expect(message(false)).toBe('false');
    expect(message(null)).toBe('null');
    expect(message(undefined)).toBe('undefined');
    expect(message(Symbol('odd'))).toBe('Symbol(odd)');
    expect(message(function handler() {})).toBe('[Function: handler]');
    expect(message(new Date('2025-03-01T00:00:00Z'))).toBe('2025-03-01T00:00:00.000Z');
    expect(message(Object.create(null))).toBe('{}');
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

  it('cuts message, stack and metadata to their limits', () => {
    const error = new Error('m'.repeat(10_000));
    error.stack = `Error: x\n${'    at f (file:///srv/meshhook/src/a.ts:1:1)\n'.repeat(1_000)}`;
    const metadata: Record<string, unknown> = { long: 'l'.repeat(5_000) };
    for (let i = 0; i < 40; i++) metadata[`key${i}`] = 'v'.repeat(500);
    const event = describeError(error, { source: 'system', attempt: 3, metadata }, fixed);
    expect(event.message).toBe(`${'m'.repeat(MAX_MESSAGE_LENGTH - 1)}…`);
    expect(event.title).toBe(`${'m'.repeat(MAX_TITLE_LENGTH - 1)}…`);
    expect(event.stack).toHaveLength(MAX_STACK_LENGTH);
    expect(event.stack!.endsWith('…')).toBe(true);
    const size = JSON.stringify(event.metadata).length;
    expect(size).toBeLessThanOrEqual(MAX_METADATA_LENGTH);
    expect(event.metadata.attempt).toBe(3);
    expect(event.metadata.long).toBe(`${'l'.repeat(999)}…`);
    // 2 + attempt (11) + long (1,010) + 12 keys of 511 or 512 characters fit under 8,192 - 1,024.
    expect(Object.keys(event.metadata)).toEqual([
      'attempt',
      'long',
      ...Array.from({ length: 12 }, (_, i) => `key${i}`),
      'truncated',
      'droppedKeys',
    ]);
    expect(event.metadata.truncated).toBe(true);
    expect(event.metadata.droppedKeys).toEqual(
      Array.from({ length: 10 }, (_, i) => `key${i + 12}`),
    );
  });

  it('does not cut a secret in two when a huge message is mostly secrets', () => {
    const secret = `S3CRET-${'z'.repeat(993)}`;
    const error = new Error(`${secret} `.repeat(300));
    const event = describeError(
      error,
      { source: 'system' },
      {
        ...fixed,
        redactor: createRedactor({ secrets: [secret] }),
      },
    );
    expect(event.message).toBe(`${REDACTED} `.repeat(300));
    expect(JSON.stringify(event)).not.toContain('zzzz');
  });

  it('describes a 5 MB message without a problem', () => {
    const event = describeError('q'.repeat(5_000_000), { source: 'web' }, fixed);
    expect(event.message).toBe(`${'q'.repeat(MAX_MESSAGE_LENGTH - 1)}…`);
  });

  it('copies awkward metadata into plain JSON', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 12; i++) cursor = (cursor.next = {}) as Record<string, unknown>;
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const metadata = {
      circular,
      get broken(): never {
        throw new Error('getter failed');
      },
      big: 12n,
      sym: Symbol('s'),
      fn: () => 1,
      nan: Number.NaN,
      missing: undefined,
      when: new Date('2025-03-01T00:00:00Z'),
      bytes: new Uint8Array(3),
      map: new Map([['k', 'v']]),
      set: new Set([1, 2]),
      cause: Object.assign(new Error('inner'), { code: 'E1' }),
      revoked: revocable.proxy,
      deep,
    };
    const event = describeError(new Error('x'), { source: 'system', metadata }, fixed);
    expect(event.metadata).toEqual({
      circular: { a: 1, self: '[Circular]' },
      broken: '[Unreadable]',
      big: '12',
      sym: 'Symbol(s)',
      fn: '[Function: fn]',
      nan: 'NaN',
      when: '2025-03-01T00:00:00.000Z',
      bytes: '[Binary: 3 bytes]',
      map: { k: 'v' },
      set: [1, 2],
      cause: {
        name: 'Error',
        message: 'inner',
        code: 'E1',
        stack: expect.stringMatching(/^Error: inner\n/),
      },
      revoked: '[Unreadable]',
      deep: { next: { next: { next: { next: { next: { next: { next: '[Truncated]' } } } } } } },
    });
    expect(JSON.parse(JSON.stringify(event.metadata))).toEqual(event.metadata);
  });

  it('always returns a record, whatever it is given', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const throwingMessage = {
      get message(): string {
        throw new Error('no');
      },
    };
    const throwingError = new Error('hidden');
    Object.defineProperty(throwingError, 'message', {
      get() {
        throw new Error('no');
      },
    });
    const cases: Array<[unknown, string]> = [
      [circular, '{"a":1,"self":"[Circular]"}'],
      [revocable.proxy, '[Unreadable]'],
      [throwingMessage, '{"message":"[Unreadable]"}'],
      [throwingError, '{"name":"Error","message":"[Unreadable]"}'],
    ];
    for (const [value, message] of cases) {
      const event = describeError(value, { source: 'system' }, fixed);
      expect(event.message).toBe(message);
      expect(event.errorType).toBe('internal');
      expect(event.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    }
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
