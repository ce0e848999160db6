import { createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import {
  SIGNATURE_SCHEMES,
  signWebhook,
  verifySignature,
  type SignatureConfig,
  type SignatureErrorCode,
  type SignatureScheme,
} from './verify-signature.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

const NOW = new Date('2024-03-01T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const BODY = bytes('{"event":"order.created","id":42}');
const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SW_KEY = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');

const CONFIGS: Record<SignatureScheme, SignatureConfig> = {
  'hmac-sha256': { scheme: 'hmac-sha256', secret: 'plain-shared-secret' },
  github: { scheme: 'github', secret: "It's a Secret to Everybody" },
  stripe: { scheme: 'stripe', secret: 'whsec_stripe_test_secret' },
  'standard-webhooks': { scheme: 'standard-webhooks', secret: SW_SECRET },
  slack: { scheme: 'slack', secret: '8f742231b10e8888abcd99yyyzzz85a5' },
  'jwt-hs256': { scheme: 'jwt-hs256', secret: 'a-shared-jwt-secret' },
};

const WRONG_SECRETS: Record<SignatureScheme, string> = {
  'hmac-sha256': 'another-secret',
  github: 'another-secret',
  stripe: 'whsec_another_secret',
  'standard-webhooks': 'whsec_' + Buffer.from('a different key of 24 b').toString('base64'),
  slack: 'another-slack-secret',
  'jwt-hs256': 'another-jwt-secret',
};

// A bearer token does not cover the body, so the body-bound properties below are not its own.
const BODY_BOUND = SIGNATURE_SCHEMES.filter((scheme) => scheme !== 'jwt-hs256');

function verify(
  config: SignatureConfig,
  headers: Record<string, string>,
  body: Uint8Array = BODY,
  now: Date = NOW,
) {
  return verifySignature({ config, headers, body, now });
}

function expectError(result: ReturnType<typeof verifySignature>, code: SignatureErrorCode): void {
  expect(result).toEqual({ ok: false, error: { code, message: expect.any(String) } });
}

const hmacHex = (key: string | Uint8Array, data: string | Uint8Array): string =>
  createHmac('sha256', key).update(data).digest('hex');
const hmacBase64 = (key: string | Uint8Array, data: string | Uint8Array): string =>
  createHmac('sha256', key).update(data).digest('base64');

describe('SIGNATURE_SCHEMES', () => {
  it('lists every scheme exactly once', () => {
    expect([...SIGNATURE_SCHEMES].sort()).toEqual(
      ['github', 'hmac-sha256', 'jwt-hs256', 'slack', 'standard-webhooks', 'stripe'].sort(),
    );
  });
});

describe.each(BODY_BOUND)('%s: properties shared by every body-bound scheme', (scheme) => {
  const config = CONFIGS[scheme];
  const headers = signWebhook({ config, body: BODY, now: NOW });

  it('accepts what signWebhook produces', () => {
    expect(verify(config, headers)).toEqual({ ok: true });
  });

  it('accepts a body that is not valid UTF-8', () => {
    const body = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28]);
    expect(verify(config, signWebhook({ config, body, now: NOW }), body)).toEqual({ ok: true });
  });

  it('accepts an empty body', () => {
    const body = new Uint8Array();
    expect(verify(config, signWebhook({ config, body, now: NOW }), body)).toEqual({ ok: true });
  });

  it('rejects a tampered body as signature_invalid', () => {
    expectError(
      verify(config, headers, bytes('{"event":"order.created","id":43}')),
      'signature_invalid',
    );
  });

  it('rejects a signature made with a different secret', () => {
    expectError(verify({ ...config, secret: WRONG_SECRETS[scheme] }, headers), 'signature_invalid');
  });

  it('reports signature_missing when no headers are sent', () => {
    expectError(verify(config, {}), 'signature_missing');
  });

  it('treats blank header values as missing', () => {
    const blank = Object.fromEntries(Object.keys(headers).map((name) => [name, '  ']));
    expectError(verify(config, blank), 'signature_missing');
  });

  it('ignores headers that do not belong to the scheme', () => {
    const others = SIGNATURE_SCHEMES.filter((other) => other !== scheme).map((other) =>
      signWebhook({ config: { ...CONFIGS[other], secret: config.secret }, body: BODY, now: NOW }),
    );
    expectError(verify(config, Object.assign({}, ...others)), 'signature_missing');
  });

  it('never echoes the secret or the expected signature in an error message', () => {
    const expected = Object.values(headers);
    const attempts = [
      verify(config, headers, bytes('tampered')),
      verify({ ...config, secret: WRONG_SECRETS[scheme] }, headers),
      verify(config, {}),
      verify(config, Object.fromEntries(Object.keys(headers).map((name) => [name, 'garbage!']))),
    ];
    if (scheme === 'stripe' || scheme === 'standard-webhooks' || scheme === 'slack') {
      attempts.push(verify(config, headers, BODY, new Date(NOW.getTime() + 3_600_000)));
    }
    for (const result of attempts) {
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.error.message).not.toContain(config.secret);
      for (const value of expected) {
        const digest = value.replace(/^.*(?:sha256=|v1=|v1,|v0=)/, '');
        expect(result.error.message).not.toContain(digest);
      }
    }
  });
});

describe('hmac-sha256', () => {
  const config = CONFIGS['hmac-sha256'];
  const hex = hmacHex(config.secret, BODY);
  const base64 = hmacBase64(config.secret, BODY);

  it('signs into x-signature as sha256=<hex> by default', () => {
    expect(signWebhook({ config, body: BODY, now: NOW })).toEqual({
      'x-signature': `sha256=${hex}`,
    });
  });

  it.each([
    ['bare hex', hex],
    ['upper-case hex', hex.toUpperCase()],
    ['prefixed hex', `sha256=${hex}`],
    ['base64', base64],
    ['unpadded base64', base64.replace(/=+$/, '')],
    ['prefixed base64', `sha256=${base64}`],
    ['hex with surrounding whitespace', ` ${hex} `],
  ])('accepts an independently computed digest as %s', (_label, value) => {
    expect(verify(config, { 'x-signature': value })).toEqual({ ok: true });
  });

  it('reads a custom header, matching its name case-insensitively', () => {
    const custom = { ...config, header: 'X-Webhook-Signature' };
    expect(verify(custom, { 'x-webhook-signature': hex })).toEqual({ ok: true });
    expect(signWebhook({ config: custom, body: BODY, now: NOW })).toEqual({
      'x-webhook-signature': `sha256=${hex}`,
    });
    expectError(verify(custom, { 'x-signature': hex }), 'signature_missing');
  });

  it('does not mistake inherited object properties for headers', () => {
    expectError(verify({ ...config, header: 'constructor' }, {}), 'signature_missing');
    expectError(verify({ ...config, header: '__proto__' }, {}), 'signature_missing');
  });

  it.each([
    ['non-hex, non-base64 text', 'not a signature!'],
    ['an empty value after the prefix', 'sha256='],
    ['odd-length hex with a stray character', `${hex.slice(1)}-`],
  ])('reports %s as signature_malformed', (_label, value) => {
    expectError(verify(config, { 'x-signature': value }), 'signature_malformed');
  });

  it('treats a digest of the wrong length as a mismatch, not a crash', () => {
    expectError(verify(config, { 'x-signature': hex.slice(0, 40) }), 'signature_invalid');
    expectError(verify(config, { 'x-signature': `${hex}00` }), 'signature_invalid');
  });

  it('ignores time entirely', () => {
    const headers = signWebhook({ config, body: BODY, now: new Date(0) });
    expect(verify(config, headers)).toEqual({ ok: true });
  });
});

describe('github', () => {
  const config = CONFIGS.github;
  // GitHub's documented example: https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
  const documented = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  const payload = bytes('Hello, World!');

  it("reproduces GitHub's documented vector with createHmac", () => {
    expect(`sha256=${hmacHex("It's a Secret to Everybody", 'Hello, World!')}`).toBe(documented);
  });

  it("accepts GitHub's documented example", () => {
    expect(verify(config, { 'x-hub-signature-256': documented }, payload)).toEqual({ ok: true });
  });

  it('signs exactly like the documented example', () => {
    expect(signWebhook({ config, body: payload, now: NOW })).toEqual({
      'x-hub-signature-256': documented,
    });
  });

  it('rejects the documented signature against a different payload', () => {
    expectError(
      verify(config, { 'x-hub-signature-256': documented }, bytes('Hello, World?')),
      'signature_invalid',
    );
  });

  it('does not fall back to the legacy sha1 header', () => {
    const sha1 = createHmac('sha1', config.secret).update(payload).digest('hex');
    expectError(
      verify(config, { 'x-hub-signature': `sha1=${sha1}` }, payload),
      'signature_missing',
    );
  });

  it.each([
    ['a missing sha256= prefix', documented.slice('sha256='.length)],
    ['a sha1= prefix', `sha1=${documented.slice('sha256='.length)}`],
    ['non-hex digits', 'sha256=xyz'],
    ['an empty digest', 'sha256='],
  ])('reports %s as signature_malformed', (_label, value) => {
    expectError(verify(config, { 'x-hub-signature-256': value }, payload), 'signature_malformed');
  });

  it('treats a truncated digest as a mismatch', () => {
    expectError(
      verify(config, { 'x-hub-signature-256': documented.slice(0, -2) }, payload),
      'signature_invalid',
    );
  });
});

describe('stripe', () => {
  const config = CONFIGS.stripe;
  const t = NOW_S;
  const v1 = hmacHex(config.secret, `${t}.{"event":"order.created","id":42}`);
  const header = (value: string) => ({ 'stripe-signature': value });

  it('signs as t=<seconds>,v1=<hex> over "<t>.<body>"', () => {
    expect(signWebhook({ config, body: BODY, now: NOW })).toEqual(header(`t=${t},v1=${v1}`));
  });

  it('accepts an independently computed signature', () => {
    expect(verify(config, header(`t=${t},v1=${v1}`))).toEqual({ ok: true });
  });

  it('accepts a fixed vector from 2023 when the clock is injected to match', () => {
    const secret = 'whsec_test_secret';
    const body = '{"id":"evt_test_webhook","object":"event"}';
    const sig = hmacHex(secret, `1700000000.${body}`);
    const result = verifySignature({
      config: { scheme: 'stripe', secret },
      headers: header(`t=1700000000,v1=${sig}`),
      body: bytes(body),
      now: new Date(1_700_000_000_000),
    });
    expect(result).toEqual({ ok: true });
  });

  it('accepts a header with several v1 entries when one of them matches (secret rotation)', () => {
    const stale = hmacHex('whsec_old_secret', `${t}.{"event":"order.created","id":42}`);
    expect(verify(config, header(`t=${t},v1=${stale},v1=${v1},v0=deadbeef`))).toEqual({ ok: true });
    expect(verify(config, header(`t=${t}, v1=not-hex, v1=${v1}`))).toEqual({ ok: true });
  });

  it('rejects when no v1 entry matches, even if a v0 entry is present', () => {
    const stale = hmacHex('whsec_old_secret', `${t}.{"event":"order.created","id":42}`);
    expectError(verify(config, header(`t=${t},v1=${stale},v0=${v1}`)), 'signature_invalid');
  });

  it('binds the signature to the timestamp', () => {
    expectError(verify(config, header(`t=${t + 1},v1=${v1}`)), 'signature_invalid');
  });

  it('rejects timestamps older than the default 300s tolerance as signature_expired', () => {
    const at = (offsetS: number) => new Date((NOW_S + offsetS) * 1000);
    expect(verify(config, header(`t=${t},v1=${v1}`), BODY, at(300))).toEqual({ ok: true });
    expectError(verify(config, header(`t=${t},v1=${v1}`), BODY, at(301)), 'signature_expired');
    expectError(verify(config, header(`t=${t},v1=${v1}`), BODY, at(-301)), 'signature_expired');
  });

  it('honours a configured tolerance', () => {
    const strict = { ...config, tolerance_s: 10 };
    const later = new Date((NOW_S + 11) * 1000);
    expectError(verify(strict, header(`t=${t},v1=${v1}`), BODY, later), 'signature_expired');
    expect(
      verify(
        { ...config, tolerance_s: 3600 },
        signWebhook({ config, body: BODY, now: NOW }),
        BODY,
        new Date(NOW.getTime() + 3_000_000),
      ),
    ).toEqual({ ok: true });
  });

  it('fails closed when the injected clock is an invalid Date', () => {
    expectError(
      verify(config, header(`t=${t},v1=${v1}`), BODY, new Date(NaN)),
      'signature_expired',
    );
  });

  it('reports a forged stale request as invalid rather than expired', () => {
    const forged = hmacHex('whsec_attacker', `${t}.{"event":"order.created","id":42}`);
    const later = new Date((NOW_S + 3600) * 1000);
    expectError(verify(config, header(`t=${t},v1=${forged}`), BODY, later), 'signature_invalid');
  });

  it.each([
    ['no timestamp', `v1=${v1}`],
    ['a non-numeric timestamp', `t=yesterday,v1=${v1}`],
    ['a negative timestamp', `t=-${t},v1=${v1}`],
    ['two timestamps', `t=${t},t=${t + 1},v1=${v1}`],
    ['no v1 entry', `t=${t},v0=${v1}`],
    ['garbage', 'garbage'],
  ])('reports %s as signature_malformed', (_label, value) => {
    expectError(verify(config, header(value)), 'signature_malformed');
  });
});

describe('standard-webhooks', () => {
  const config = CONFIGS['standard-webhooks'];
  // The example from the Standard Webhooks specification (standardwebhooks.com).
  const spec = {
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };
  const specNow = new Date(spec.timestamp * 1000);
  const specHeaders = {
    'webhook-id': spec.id,
    'webhook-timestamp': String(spec.timestamp),
    'webhook-signature': spec.signature,
  };

  it('reproduces the specification example with createHmac', () => {
    const content = `${spec.id}.${spec.timestamp}.${spec.body}`;
    expect(`v1,${hmacBase64(SW_KEY, content)}`).toBe(spec.signature);
  });

  it('accepts the specification example', () => {
    expect(verify(config, specHeaders, bytes(spec.body), specNow)).toEqual({ ok: true });
  });

  it('signs the specification example identically when given its id', () => {
    const signed = signWebhook({ config, body: bytes(spec.body), now: specNow, id: spec.id });
    expect(signed).toEqual(specHeaders);
  });

  it('base64-decodes a secret that has no whsec_ prefix', () => {
    const bare = { ...config, secret: SW_SECRET.slice('whsec_'.length) };
    expect(verify(bare, specHeaders, bytes(spec.body), specNow)).toEqual({ ok: true });
  });

  it('uses the decoded key, not the secret text, as the HMAC key', () => {
    const content = `${spec.id}.${spec.timestamp}.${spec.body}`;
    const wrongKey = `v1,${hmacBase64(SW_SECRET, content)}`;
    expectError(
      verify(config, { ...specHeaders, 'webhook-signature': wrongKey }, bytes(spec.body), specNow),
      'signature_invalid',
    );
  });

  it('derives a stable msg_ id when none is given', () => {
    const first = signWebhook({ config, body: BODY, now: NOW });
    const again = signWebhook({ config, body: BODY, now: NOW });
    expect(first['webhook-id']).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(again).toEqual(first);
    expect(first['webhook-timestamp']).toBe(String(NOW_S));
  });

  it('accepts a multi-signature header with one good entry and ignores other versions', () => {
    const other = `v1,${hmacBase64(Buffer.from('rotated-out-key'), 'x')}`;
    const value = `v1a,c29tZSBlZDI1NTE5IHNpZ25hdHVyZQ== ${other}  v2,abc ${spec.signature}`;
    const headers = { ...specHeaders, 'webhook-signature': value };
    expect(verify(config, headers, bytes(spec.body), specNow)).toEqual({ ok: true });
  });

  it('binds the signature to the message id and timestamp', () => {
    const body = bytes(spec.body);
    expectError(
      verify(config, { ...specHeaders, 'webhook-id': 'msg_other' }, body, specNow),
      'signature_invalid',
    );
    expectError(
      verify(
        config,
        { ...specHeaders, 'webhook-timestamp': String(spec.timestamp + 1) },
        body,
        specNow,
      ),
      'signature_invalid',
    );
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'reports a missing %s as signature_missing',
    (name) => {
      const headers: Record<string, string> = { ...specHeaders };
      delete headers[name];
      const result = verify(config, headers, bytes(spec.body), specNow);
      expectError(result, 'signature_missing');
      if (!result.ok) expect(result.error.message).toContain(name);
    },
  );

  it('rejects a stale or future timestamp beyond tolerance as signature_expired', () => {
    const body = bytes(spec.body);
    const at = (offsetS: number) => new Date((spec.timestamp + offsetS) * 1000);
    expect(verify(config, specHeaders, body, at(-300))).toEqual({ ok: true });
    expectError(verify(config, specHeaders, body, at(301)), 'signature_expired');
    expectError(verify(config, specHeaders, body, at(-301)), 'signature_expired');
    expectError(verify(config, specHeaders, body, NOW), 'signature_expired');
    expect(verify({ ...config, tolerance_s: 400 }, specHeaders, body, at(350))).toEqual({
      ok: true,
    });
  });

  it.each([
    ['a non-numeric timestamp', { 'webhook-timestamp': '2021-02-25T15:02:10Z' }],
    ['a fractional timestamp', { 'webhook-timestamp': `${spec.timestamp}.5` }],
    ['only other signature versions', { 'webhook-signature': 'v1a,abc v2,def' }],
    [
      'entries without a version',
      { 'webhook-signature': 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
    ],
  ])('reports %s as signature_malformed', (_label, override) => {
    const headers = { ...specHeaders, ...override };
    expectError(verify(config, headers, bytes(spec.body), specNow), 'signature_malformed');
  });

  it('treats a v1 entry that is not base64 or has the wrong length as a mismatch', () => {
    const body = bytes(spec.body);
    for (const bad of ['v1,***', 'v1,', 'v1,AAAA']) {
      expectError(
        verify(config, { ...specHeaders, 'webhook-signature': bad }, body, specNow),
        'signature_invalid',
      );
    }
  });
});

describe('slack', () => {
  const config = CONFIGS.slack;
  // Slack's documented example request (api.slack.com, "Verifying requests from Slack").
  const body = bytes(
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  );
  const at = new Date(1531420618 * 1000);

  it('verifies the documented example, whose digest is recomputed here', () => {
    const expected = hmacHex(config.secret, Buffer.concat([bytes('v0:1531420618:'), body]));
    const headers = {
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': `v0=${expected}`,
    };
    expect(verify(config, headers, body, at)).toEqual({ ok: true });
    expect(signWebhook({ config, body, now: at })).toEqual(headers);
  });

  it('rejects stale requests and malformed signatures', () => {
    const headers = signWebhook({ config, body: BODY, now: NOW });
    expectError(
      verify(config, headers, BODY, new Date(NOW.getTime() + 301_000)),
      'signature_expired',
    );
    expectError(
      verify(config, { ...headers, 'x-slack-signature': 'v1=abcd' }),
      'signature_malformed',
    );
    expectError(
      verify(config, { ...headers, 'x-slack-request-timestamp': 'soon' }),
      'signature_malformed',
    );
  });
});

describe('jwt-hs256', () => {
  const config = CONFIGS['jwt-hs256'];
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const token = (
    claims: unknown,
    header: unknown = { alg: 'HS256', typ: 'JWT' },
    secret = config.secret,
  ) => {
    const unsigned = `${b64(header)}.${b64(claims)}`;
    return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
  };
  const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

  it('accepts a valid token, whatever the body (it authenticates the sender only)', () => {
    const jwt = token({ sub: 'billing', exp: NOW_S + 60 });
    expect(verify(config, bearer(jwt))).toEqual({ ok: true });
    expect(verify(config, bearer(jwt), bytes('any other body'))).toEqual({ ok: true });
    expect(verify(config, signWebhook({ config, body: BODY, now: NOW }))).toEqual({ ok: true });
  });

  it('reads the token from a custom header without the Bearer prefix', () => {
    const custom = { ...config, header: 'X-Hook-Token' };
    const jwt = token({ iat: NOW_S });
    expect(verify(custom, { 'x-hook-token': jwt })).toEqual({ ok: true });
    expect(signWebhook({ config: custom, body: BODY, now: NOW })['x-hook-token']).toMatch(
      /^[\w-]+\.[\w-]+\.[\w-]+$/,
    );
  });

  it('refuses alg none, other algorithms and a wrong secret', () => {
    const claims = { exp: NOW_S + 60 };
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    expectError(verify(config, bearer(none)), 'signature_malformed');
    expectError(verify(config, bearer(token(claims, { alg: 'HS512' }))), 'signature_invalid');
    expectError(
      verify(config, bearer(token(claims, undefined, 'other-secret'))),
      'signature_invalid',
    );
  });

  it('refuses expired, not-yet-valid and timeless tokens, with the tolerance as leeway', () => {
    expectError(verify(config, bearer(token({ exp: NOW_S - 301 }))), 'signature_expired');
    expect(verify(config, bearer(token({ exp: NOW_S - 299 })))).toEqual({ ok: true });
    expectError(
      verify(config, bearer(token({ nbf: NOW_S + 301, exp: NOW_S + 900 }))),
      'signature_expired',
    );
    expectError(verify(config, bearer(token({ iat: NOW_S - 3600 }))), 'signature_expired');
    expectError(verify(config, bearer(token({ sub: 'x' }))), 'signature_malformed');
  });

  it('reports missing and malformed tokens', () => {
    expectError(verify(config, {}), 'signature_missing');
    expectError(verify(config, { authorization: 'Basic dXNlcjpwYXNz' }), 'signature_malformed');
    expectError(verify(config, bearer('not.a.jwt!')), 'signature_malformed');
    expectError(
      verify(config, bearer(`${b64([1])}.${b64({ exp: 1 })}.sig`)),
      'signature_malformed',
    );
  });
});
