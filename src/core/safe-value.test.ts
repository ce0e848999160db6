import { describe, it, expect } from 'vitest';
import {
  MAX_MESSAGE_LENGTH,
  MAX_METADATA_LENGTH,
  MAX_STACK_LENGTH,
  MAX_TITLE_LENGTH,
  describeError,
} from './error-events.ts';
import { REDACTED, createRedactor } from './redact.ts';

const fixed = { now: () => new Date('2025-03-01T12:00:00.000Z'), randomId: () => 'event-1' };

// These helpers exist for describeError and are tested through it, so that each assertion is on
// the record that gets stored.
describe('describeError', () => {
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
});
