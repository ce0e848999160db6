import { describe, expect, it } from 'vitest';
import { REDACTED } from './redact.ts';
import {
  SENTRY_SENSITIVE_KEYS,
  createSentryScrubber,
  scrubSentryEvent,
} from './scrub-sentry-event.ts';

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.abc123';
const CARD = '4111 1111 1111 1111';

/** An event as the SDK hands it to beforeSend, with something to hide in every part. */
function event() {
  return {
    event_id: 'a6371c410b754cdba02cdf4859e57ecf',
    level: 'error',
    release: 'meshhook@0.1.0',
    environment: 'production',
    fingerprint: ['0f6270ff0de69fbf3ebd24beae2770ef'],
    message: `charge with card ${CARD} failed`,
    transaction: 'POST /hooks/wh_live_token_1234',
    exception: {
      values: [
        {
          type: 'internal',
          value: `upstream said Authorization: Bearer ${TOKEN}`,
          mechanism: { type: 'meshhook', handled: true, data: { api_key: 'k-123456' } },
          stacktrace: {
            frames: [
              {
                filename: '/srv/meshhook/src/engine/worker.ts',
                function: 'execute',
                lineno: 10,
                vars: { password: 'hunter22', body: '{"a":1}' },
                context_line: `const key = "Bearer ${TOKEN}";`,
                pre_context: ['// mail ops@example.com'],
                post_context: ['ok'],
              },
            ],
          },
        },
      ],
    },
    threads: {
      values: [{ id: 1, stacktrace: { frames: [{ function: 'main', vars: { token: 'x' } }] } }],
    },
    breadcrumbs: [
      {
        category: 'console',
        message: `connecting with password=hunter22 host=db`,
        data: { arguments: [`Bearer ${TOKEN}`], logger: 'console' },
      },
      { category: 'http', data: { url: 'https://api.example.com/v1?access_token=abcd1234' } },
    ],
    request: {
      method: 'POST',
      url: 'https://meshhook.example.com/hooks/wh_live_token_1234?token=abcd1234',
      query_string: 'token=abcd1234&page=2',
      cookies: { session: 's3ss10n' },
      data: '{"password":"hunter22"}',
      env: { REMOTE_ADDR: '203.0.113.9' },
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        Cookie: 'session=s3ss10n',
        'X-Forwarded-For': '203.0.113.9',
        'X-Api-Key': 'k-123456',
        'User-Agent': 'curl/8.0',
      },
    },
    user: {
      id: 'b1f4e7a2-5c1d-4f7e-9a3b-2d8c6e0f1a2b',
      email: 'ada@example.com',
      ip_address: '203.0.113.9',
      username: 'ada',
      geo: { city: 'London' },
    },
    extra: { attempt: 3, password: 'hunter22', nested: { authorization: 'Basic dXNlcjpwYXNz' } },
    tags: { source: 'worker', run_id: 'r-1', secret_tag: 'shh-quiet' },
    contexts: {
      meshhook: { title: `failed for ada@example.com with ${CARD}` },
      client: { ip_address: '203.0.113.9' },
      trace: { trace_id: '4111111111111111aaaaaaaaaaaaaaaa', span_id: '86d97a4ef434e328' },
    },
  };
}

describe('scrubSentryEvent', () => {
  const scrubbed = scrubSentryEvent(event());
  const text = JSON.stringify(scrubbed);

  it('leaves none of the planted secrets, addresses or personal data anywhere', () => {
    for (const planted of [
      TOKEN,
      'hunter22',
      'k-123456',
      's3ss10n',
      '203.0.113.9',
      'ada@example.com',
      'ops@example.com',
      'wh_live_token_1234',
      'abcd1234',
      'dXNlcjpwYXNz',
      'shh-quiet',
      'London',
      '"ada"',
      CARD,
    ]) {
      expect(text).not.toContain(planted);
    }
  });

  it('keeps what identifies the event and helps a reader', () => {
    expect(scrubbed).toMatchObject({
      event_id: 'a6371c410b754cdba02cdf4859e57ecf',
      level: 'error',
      release: 'meshhook@0.1.0',
      fingerprint: ['0f6270ff0de69fbf3ebd24beae2770ef'],
      transaction: `POST /hooks/${REDACTED}`,
      tags: { source: 'worker', run_id: 'r-1', secret_tag: REDACTED },
      extra: { attempt: 3, password: REDACTED, nested: { authorization: REDACTED } },
      user: { id: 'b1f4e7a2-5c1d-4f7e-9a3b-2d8c6e0f1a2b' },
    });
    const [exception] = scrubbed.exception.values;
    expect(exception!.value).toBe(`upstream said Authorization: Bearer ${REDACTED}`);
    expect(exception!.stacktrace.frames[0]).toMatchObject({
      filename: '/srv/meshhook/src/engine/worker.ts',
      function: 'execute',
      lineno: 10,
    });
  });

  it('drops local variables, request bodies, cookies, the environment and credential headers', () => {
    expect(scrubbed.exception.values[0]!.stacktrace.frames[0]).not.toHaveProperty('vars');
    expect(scrubbed.threads.values[0]!.stacktrace.frames[0]).not.toHaveProperty('vars');
    expect(scrubbed.request).toEqual({
      method: 'POST',
      url: `https://meshhook.example.com/hooks/${REDACTED}?token=${REDACTED}`,
      query_string: `token=${REDACTED}&page=2`,
      headers: { 'User-Agent': 'curl/8.0' },
    });
    expect(scrubbed.user).toEqual({ id: 'b1f4e7a2-5c1d-4f7e-9a3b-2d8c6e0f1a2b' });
  });

  it('masks name=value pairs with a sensitive name in free text, and leaves others', () => {
    expect(scrubbed.breadcrumbs[0]!.message).toBe(`connecting with password=${REDACTED} host=db`);
    const other = scrubSentryEvent({ message: 'retry=3 timeout_ms=500 --token=t0ken-value' });
    expect(other.message).toBe(`retry=3 timeout_ms=500 --token=${REDACTED}`);
  });

  it('leaves the trace context as it is: ids, not data', () => {
    expect(scrubbed.contexts.trace).toEqual(event().contexts.trace);
    expect(scrubbed.contexts.client).toEqual({ ip_address: REDACTED });
  });

  it("masks a value under each of Sentry's own sensitive key names", () => {
    const extra = Object.fromEntries(SENTRY_SENSITIVE_KEYS.map((key) => [key, 'value-1234']));
    const out = scrubSentryEvent({ extra });
    expect(out.extra).toEqual(Object.fromEntries(SENTRY_SENSITIVE_KEYS.map((k) => [k, REDACTED])));
  });

  it('never mutates the event it is given', () => {
    const input = event();
    const copy = structuredClone(input);
    scrubSentryEvent(input);
    expect(input).toEqual(copy);
  });

  it('takes events with parts missing or of unexpected shapes', () => {
    expect(scrubSentryEvent({})).toEqual({});
    expect(
      scrubSentryEvent({ exception: { values: 'x' }, user: 'someone', request: 7, breadcrumbs: 3 }),
    ).toEqual({ exception: { values: 'x' }, user: undefined, request: undefined, breadcrumbs: 3 });
    expect(scrubSentryEvent({ message: { message: 'Bearer abc.def-123', params: [] } })).toEqual({
      message: { message: `Bearer ${REDACTED}`, params: [] },
    });
  });

  it('masks literal secrets and extra keys it is given', () => {
    const scrub = createSentryScrubber({
      secrets: ['the-signing-secret'],
      extraKeys: [/^order_ref$/],
    });
    const out = scrub.event({
      message: 'signature made with the-signing-secret',
      extra: { order_ref: 'A-1', order: 'B-2' },
    });
    expect(out).toEqual({
      message: `signature made with ${REDACTED}`,
      extra: { order_ref: REDACTED, order: 'B-2' },
    });
  });
});

describe('scrubbing breadcrumbs and spans', () => {
  const scrub = createSentryScrubber();

  it('masks a breadcrumb’s message and data', () => {
    expect(
      scrub.breadcrumb({
        category: 'console',
        level: 'info',
        message: `{"level":"info","msg":"calling","authorization":"Bearer ${TOKEN}"}`,
        data: { arguments: [{ password: 'hunter22' }], logger: 'console' },
      }),
    ).toEqual({
      category: 'console',
      level: 'info',
      message: `{"level":"info","msg":"calling","authorization":"${REDACTED}"}`,
      data: { arguments: [{ password: REDACTED }], logger: 'console' },
    });
  });

  it('masks a span’s name and attributes, and keeps its ids', () => {
    const span = {
      trace_id: '57df2cb44071416e840bdd925670214b',
      span_id: '86d97a4ef434e328',
      name: 'POST /hooks/wh_live_token_1234',
      attributes: {
        'http.url': 'http://127.0.0.1/hooks/wh_live_token_1234?token=abcd1234',
        'http.request.header.authorization': `Bearer ${TOKEN}`,
        'http.status_code': 202,
      },
    };
    expect(scrub.span(span)).toEqual({
      ...span,
      name: `POST /hooks/${REDACTED}`,
      attributes: {
        'http.url': `http://127.0.0.1/hooks/${REDACTED}?token=${REDACTED}`,
        'http.request.header.authorization': REDACTED,
        'http.status_code': 202,
      },
    });
  });
});
