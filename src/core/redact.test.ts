import { describe, it, expect } from 'vitest';
import { REDACTED, createRedactor, isSensitiveKey, redact, redactText } from './redact.ts';

describe('isSensitiveKey', () => {
  it.each([
    // Sentry's default list.
    'password',
    'passwd',
    'secret',
    'api_key',
    'apikey',
    'auth',
    'authorization',
    'credentials',
    'mysql_pwd',
    'privatekey',
    'private_key',
    'token',
    'bearer',
    // Headers and OAuth names.
    'cookie',
    'set-cookie',
    'session',
    'x-api-key',
    'x-hub-signature',
    'x-hub-signature-256',
    'stripe-signature',
    'webhook-signature',
    'x-signature',
    'client_secret',
    'access_token',
    'refresh_token',
    // Case and separator variants, and keys that contain a stem.
    'Authorization',
    'PASSWORD',
    'API-KEY',
    'apiKey',
    'APIKey',
    'db_password',
    'githubToken',
    'githubtoken',
    'X-Auth-Token',
    'x-auth',
    'authToken',
    'authtoken',
    'oauth',
    'OAuthToken',
    'basicAuth',
    'proxy-authorization',
    'sessionId',
    'jwt',
    'pass',
    'tokens',
  ])('treats %s as sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });

  it.each([
    'author',
    'Author',
    'authors',
    'authority',
    'authorId',
    'authenticated',
    'www-authenticate',
    'tokenizer',
    'passenger',
    'bypass',
    'key',
    'monkey',
    'id',
    'name',
    'email',
    'url',
    'headers',
    'content-type',
    'user-agent',
    'x-request-id',
    'PWD',
  ])('leaves %s alone', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });

  it('adds extra key patterns without disturbing a global pattern', () => {
    const pin = /pin/gi;
    expect(isSensitiveKey('cardPin', [pin])).toBe(true);
    expect(isSensitiveKey('cardPin', [pin])).toBe(true);
    expect(pin.lastIndex).toBe(0);
    expect(isSensitiveKey('cardPin')).toBe(false);
    expect(isSensitiveKey('name', [pin])).toBe(false);
  });
});

describe('redactText', () => {
  it('masks a Bearer token in a free-text message, keeping the scheme', () => {
    expect(
      redactText('request failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc-_123 (401)'),
    ).toBe(`request failed: Authorization: Bearer ${REDACTED} (401)`);
    expect(redactText('bearer ghp_abcdefABCDEF0123456789')).toBe(`bearer ${REDACTED}`);
  });

  it('leaves a plain word after Bearer, since it is prose and not a token', () => {
    expect(redactText('Missing Bearer token in header')).toBe('Missing Bearer token in header');
  });

  it('masks Basic credentials but not the word Basic in prose', () => {
    // dXNlcjpwYXNz is base64 of "user:pass".
    expect(redactText('Authorization: Basic dXNlcjpwYXNz')).toBe(
      `Authorization: Basic ${REDACTED}`,
    );
    expect(redactText('Basic plan costs 5 dollars')).toBe('Basic plan costs 5 dollars');
  });

  it('masks the password of URL userinfo and keeps the user', () => {
    expect(redactText('https://user:pass@host')).toBe(`https://user:${REDACTED}@host`);
    expect(redactText('connecting to postgres://app:s3cr%40t@db.internal:5432/meshhook')).toBe(
      `connecting to postgres://app:${REDACTED}@db.internal:5432/meshhook`,
    );
    // An unencoded @ in the password must not leave its tail behind.
    expect(redactText('redis://u:p@ss@cache:6379')).toBe(`redis://u:${REDACTED}@cache:6379`);
    expect(redactText('https://host:8080/path?x=1')).toBe('https://host:8080/path?x=1');
  });

  it('masks query parameters with a sensitive name only', () => {
    expect(redactText('https://api.example.com/hook?token=abc&x=1')).toBe(
      `https://api.example.com/hook?token=${REDACTED}&x=1`,
    );
    expect(redactText('GET /cb?code=1&access_token=ya29.a0&api%5Fkey=k1#frag')).toBe(
      `GET /cb?code=1&access_token=${REDACTED}&api%5Fkey=${REDACTED}#frag`,
    );
    expect(redactText('/search?author=bob&page=2')).toBe('/search?author=bob&page=2');
    expect(redactText('/login?token=&next=/')).toBe('/login?token=&next=/');
  });

  it('masks Luhn-valid card numbers and leaves other digit runs', () => {
    expect(redactText('card 4242 4242 4242 4242 declined')).toBe(`card ${REDACTED} declined`);
    expect(redactText('card 4242 4242 4242 4241 declined')).toBe(
      'card 4242 4242 4242 4241 declined',
    );
    expect(redactText('amex 3782-822463-10005, raw 5555555555554444')).toBe(
      `amex ${REDACTED}, raw ${REDACTED}`,
    );
    // Order id (not Luhn), millisecond timestamp, a 20-digit id, a fraction, a hex id.
    const ordinary =
      'order 4000123412341235 at 1718123456789 id 42424242424242424242 r=0.4242424242424242 h=a4242424242424242';
    expect(redactText(ordinary)).toBe(ordinary);
  });

  it('masks literal secret values wherever they appear, every time', () => {
    const secrets = ['whsec_9f8e7d6c'];
    expect(redactText('sig whsec_9f8e7d6c then again whsec_9f8e7d6c.', { secrets })).toBe(
      `sig ${REDACTED} then again ${REDACTED}.`,
    );
  });

  it('masks a secret value inside a JSON string', () => {
    const body = JSON.stringify({ event: 'push', note: 'used s3cr3t-value here' });
    expect(redactText(body, { secrets: ['s3cr3t-value'] })).toBe(
      `{"event":"push","note":"used ${REDACTED} here"}`,
    );
  });

  it('masks the JSON-escaped and URL-encoded forms of a secret', () => {
    const secret = 'a"b c/d';
    expect(redactText(JSON.stringify({ v: secret }), { secrets: [secret] })).toBe(
      `{"v":"${REDACTED}"}`,
    );
    expect(redactText(`?q=${encodeURIComponent(secret)}`, { secrets: [secret] })).toBe(
      `?q=${REDACTED}`,
    );
  });

  it('treats regex characters in a secret literally', () => {
    expect(redactText('x a.b*c+ y aXbbc z', { secrets: ['a.b*c+'] })).toBe(
      `x ${REDACTED} y aXbbc z`,
    );
  });

  it('masks the longer of two overlapping secrets whole', () => {
    expect(redactText('key=abcd1234', { secrets: ['abcd', 'abcd1234'] })).toBe(`key=${REDACTED}`);
  });

  it('ignores secrets shorter than 4 characters', () => {
    expect(redactText('a cat sat on the mat', { secrets: ['at', 'cat', ''] })).toBe(
      'a cat sat on the mat',
    );
    expect(redactText('a cat sat on the mat', { secrets: ['mat.'] })).toBe('a cat sat on the mat');
    expect(redactText('at the mat', { secrets: ['at', 'the mat'] })).toBe(`at ${REDACTED}`);
  });

  it('masks the value of a sensitive key inside JSON text', () => {
    expect(redactText('{"user":"bob","password":"hunter2","githubToken" : "ghp_x"}')).toBe(
      `{"user":"bob","password":"${REDACTED}","githubToken" : "${REDACTED}"}`,
    );
  });

  it('masks the values of sensitive keys in key=value and key: value text', () => {
    expect(redactText('login failed: password=hunter2 user=bob')).toBe(
      `login failed: password=${REDACTED} user=bob`,
    );
    expect(redactText('login failed: password: hunter2 for bob')).toBe(
      `login failed: password: ${REDACTED} for bob`,
    );
    expect(redactText('db_password="s3cr3t" api_key:sk_live_12345678')).toBe(
      `db_password="${REDACTED}" api_key:${REDACTED}`,
    );
    // After `:` a plain word is prose, not a credential; the scheme rules still mask a token.
    expect(redactText('session: expired; signature_invalid: the signature did not match')).toBe(
      'session: expired; signature_invalid: the signature did not match',
    );
    expect(redactText('Authorization: Bearer abc.def.ghi')).toBe(
      `Authorization: Bearer ${REDACTED}`,
    );
    expect(redactText('step failed: attempt=3 retry_in_ms=500 error: refused')).toBe(
      'step failed: attempt=3 retry_in_ms=500 error: refused',
    );
  });

  it('masks e-mail addresses only when asked', () => {
    const text = 'contact alice.smith+ops@example.co.uk or bob@example.com.';
    expect(redactText(text)).toBe(text);
    expect(redactText(text, { emails: true })).toBe(`contact ${REDACTED} or ${REDACTED}.`);
  });

  it('leaves ordinary text untouched', () => {
    const text = 'Run 42 of workflow "deploy" finished in 1.5s by author bob (step 3/7).';
    expect(redactText(text, { emails: true, secrets: ['whsec_1234'] })).toBe(text);
  });
});

describe('redact', () => {
  it('masks a run log entry end to end', () => {
    const entry = {
      level: 'error',
      msg: 'webhook call failed with Bearer abc.def.ghi',
      runId: 'run_123',
      attempt: 2,
      ok: false,
      parent: null,
      request: {
        url: 'https://user:pw@hooks.example.com/in?token=t0k3n&x=1',
        headers: {
          'Content-Type': 'application/json',
          Authorization: 'Bearer abc.def.ghi',
          'X-Hub-Signature-256': 'sha256=deadbeef',
          Cookie: 'sid=1',
          'X-Request-Id': 'req-1',
        },
        body: { amount: 10, card: '4242-4242-4242-4242', author: 'alice' },
      },
      config: { db_password: 1234, apiKey: { id: 1 }, tokens: ['a', 'b'], session: null },
    };
    expect(redact(entry)).toEqual({
      level: 'error',
      msg: `webhook call failed with Bearer ${REDACTED}`,
      runId: 'run_123',
      attempt: 2,
      ok: false,
      parent: null,
      request: {
        url: `https://user:${REDACTED}@hooks.example.com/in?token=${REDACTED}&x=1`,
        headers: {
          'Content-Type': 'application/json',
          Authorization: REDACTED,
          'X-Hub-Signature-256': REDACTED,
          Cookie: REDACTED,
          'X-Request-Id': 'req-1',
        },
        body: { amount: 10, card: REDACTED, author: 'alice' },
      },
      config: { db_password: REDACTED, apiKey: REDACTED, tokens: REDACTED, session: REDACTED },
    });
  });

  it('masks the value of a sensitive key whatever its type', () => {
    expect(
      redact({
        password: 'x',
        token: 12345,
        secret: true,
        auth: { user: 'u', pass: 'p' },
        credentials: ['a', 'b'],
        cookie: null,
        session: undefined,
      }),
    ).toEqual({
      password: REDACTED,
      token: REDACTED,
      secret: REDACTED,
      auth: REDACTED,
      credentials: REDACTED,
      cookie: REDACTED,
      session: REDACTED,
    });
  });

  it('never mutates the input', () => {
    const input = {
      password: 'p',
      nested: { list: [{ token: 't' }, 'Bearer abc123xyz'], when: new Date(0) },
    };
    const before = structuredClone(input);
    const out = redact(input);
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect(out.nested).not.toBe(input.nested);
    expect(out.nested.list).not.toBe(input.nested.list);
  });

  it('recurses through nested arrays and objects', () => {
    const input = {
      steps: [
        [{ name: 'a', output: { access_token: 'x', items: [1, 'whsec_abcdef'] } }],
        [],
        [['Basic dXNlcjpwYXNz', null, true]],
      ],
    };
    expect(redact(input, { secrets: ['whsec_abcdef'] })).toEqual({
      steps: [
        [{ name: 'a', output: { access_token: REDACTED, items: [1, REDACTED] } }],
        [],
        [[`Basic ${REDACTED}`, null, true]],
      ],
    });
  });

  it('masks a headers object by header name', () => {
    const headers = {
      host: 'example.com',
      'user-agent': 'GitHub-Hookshot/1',
      'x-hub-signature': 'sha1=abc',
      'x-hub-signature-256': 'sha256=abc',
      'stripe-signature': 't=1,v1=abc',
      'webhook-signature': 'v1,abc',
      'x-signature': 'abc',
      'x-api-key': 'k',
      'set-cookie': ['a=1', 'b=2'],
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'x-github-event': 'push',
    };
    expect(redact(headers)).toEqual({
      host: 'example.com',
      'user-agent': 'GitHub-Hookshot/1',
      'x-hub-signature': REDACTED,
      'x-hub-signature-256': REDACTED,
      'stripe-signature': REDACTED,
      'webhook-signature': REDACTED,
      'x-signature': REDACTED,
      'x-api-key': REDACTED,
      'set-cookie': REDACTED,
      'proxy-authorization': REDACTED,
      'x-github-event': 'push',
    });
  });

  it('masks a fetch Headers instance and a Map by key', () => {
    const headers = new Headers({ Authorization: 'Bearer x1', Accept: 'text/plain' });
    const map = new Map<string, unknown>([
      ['token', 't'],
      ['name', 'n'],
    ]);
    expect(redact({ headers, map, set: new Set(['a', 'Bearer abc123']) })).toEqual({
      headers: { authorization: REDACTED, accept: 'text/plain' },
      map: { token: REDACTED, name: 'n' },
      set: ['a', `Bearer ${REDACTED}`],
    });
  });

  it('masks a secret value inside a JSON string field, twice', () => {
    const body = JSON.stringify({ a: 'sk_live_12345', b: ['sk_live_12345'] });
    expect(redact({ body }, { secrets: ['sk_live_12345'] })).toEqual({
      body: `{"a":"${REDACTED}","b":["${REDACTED}"]}`,
    });
  });

  it('masks a card number string but keeps numbers, booleans and null', () => {
    expect(
      redact({
        pan: '4242 4242 4242 4242',
        other: '4242 4242 4242 4241',
        n: 4242,
        b: true,
        z: null,
      }),
    ).toEqual({ pan: REDACTED, other: '4242 4242 4242 4241', n: 4242, b: true, z: null });
  });

  it('masks e-mail addresses in values when asked', () => {
    const input = { from: 'alice@example.com', note: 'cc bob@example.org' };
    expect(redact(input)).toEqual(input);
    expect(redact(input, { emails: true })).toEqual({ from: REDACTED, note: `cc ${REDACTED}` });
  });

  it('honours extra key patterns', () => {
    expect(
      redact({ cardPin: '1234', ssn: '078-05-1120', name: 'x' }, { extraKeys: [/pin$/i, /^ssn$/] }),
    ).toEqual({
      cardPin: REDACTED,
      ssn: REDACTED,
      name: 'x',
    });
  });

  it('turns a Date into its ISO string', () => {
    expect(redact({ at: new Date('2024-05-01T10:00:00.000Z'), bad: new Date(NaN) })).toEqual({
      at: '2024-05-01T10:00:00.000Z',
      bad: 'Invalid Date',
    });
  });

  it('turns an Error into a redacted { name, message, stack }', () => {
    const error = new TypeError('fetch https://u:pw@x.io?api_key=k1 failed');
    error.stack =
      'TypeError: fetch https://u:pw@x.io?api_key=k1 failed\n    at run (engine.ts:1:1)';
    expect(redact({ error })).toEqual({
      error: {
        name: 'TypeError',
        message: `fetch https://u:${REDACTED}@x.io?api_key=${REDACTED} failed`,
        stack: `TypeError: fetch https://u:${REDACTED}@x.io?api_key=${REDACTED} failed\n    at run (engine.ts:1:1)`,
      },
    });
  });

  it('replaces a cycle with [Circular] but copies a shared reference', () => {
    const shared = { v: 1 };
    const node: Record<string, unknown> = { name: 'root', a: shared, b: shared };
    node['self'] = node;
    node['list'] = [node, { back: node }];
    expect(redact(node)).toEqual({
      name: 'root',
      a: { v: 1 },
      b: { v: 1 },
      self: '[Circular]',
      list: ['[Circular]', { back: '[Circular]' }],
    });
  });

  it('caps depth at 20 levels below the root', () => {
    type Nest = { level: number; child?: Nest };
    const root: Nest = { level: 0 };
    let cursor = root;
    for (let level = 1; level <= 25; level++) {
      cursor.child = { level };
      cursor = cursor.child;
    }
    let out = redact(root) as Nest | string;
    for (let level = 0; level <= 20; level++) {
      expect(out).toMatchObject({ level });
      out = (out as Nest).child as Nest | string;
    }
    expect(out).toBe('[Truncated]');
  });

  it('redacts a bare string and passes other primitives through', () => {
    expect(redact('Bearer abc123def')).toBe(`Bearer ${REDACTED}`);
    expect(redact(7)).toBe(7);
    expect(redact(null)).toBe(null);
    expect(redact(undefined)).toBe(undefined);
  });

  it('keeps an own __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__":{"password":"p"},"x":1}') as Record<string, unknown>;
    const out = redact(input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'x']);
    expect(out['__proto__']).toEqual({ password: REDACTED });
  });
});

describe('createRedactor', () => {
  it('gives the same results as redact and redactText', () => {
    const options = { secrets: ['whsec_abcdef'], emails: true, extraKeys: [/^pin$/] };
    const redactor = createRedactor(options);
    const inputs: unknown[] = [
      { pin: 1, headers: { authorization: 'Basic dXNlcjpwYXNz' }, text: 'whsec_abcdef' },
      ['mail alice@example.com', 'card 4242424242424242', { nested: [{ token: 'x' }] }],
      'https://u:p@h?token=1 Bearer abc.def whsec_abcdef',
      new Error('whsec_abcdef'),
      42,
    ];
    for (const input of inputs) {
      expect(redactor.value(input)).toEqual(redact(input, options));
    }
    const text = 'Bearer abc.def sent to bob@example.com with whsec_abcdef and ?secret=s';
    expect(redactor.text(text)).toBe(redactText(text, options));
    expect(redactor.text(text)).toBe(
      `Bearer ${REDACTED} sent to ${REDACTED} with ${REDACTED} and ?secret=${REDACTED}`,
    );
  });

  it('is unaffected by later changes to the options it was built from', () => {
    const secrets = ['whsec_abcdef'];
    const redactor = createRedactor({ secrets });
    secrets.push('other-secret');
    expect(redactor.text('whsec_abcdef other-secret')).toBe(`${REDACTED} other-secret`);
  });
});
