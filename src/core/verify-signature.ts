import { Buffer } from 'node:buffer';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** How a webhook sender authenticates its deliveries. */
export type SignatureScheme =
  'hmac-sha256' | 'github' | 'stripe' | 'standard-webhooks' | 'slack' | 'jwt-hs256';

/** Every supported scheme, for validating trigger configs and listing choices in a UI. */
export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  'hmac-sha256',
  'github',
  'stripe',
  'standard-webhooks',
  'slack',
  'jwt-hs256',
]);

/** Per-trigger settings: which scheme the sender uses and the secret shared with it. */
export interface SignatureConfig {
  scheme: SignatureScheme;
  secret: string;
  /**
   * hmac-sha256: header carrying the signature (default 'x-signature'); jwt-hs256: header
   * carrying the token (default 'authorization', read as `Bearer <jwt>`).
   */
  header?: string;
  /** stripe, standard-webhooks, slack and jwt-hs256: accepted clock skew in seconds; default 300. */
  tolerance_s?: number;
}

/** Why a delivery was rejected; stable strings so callers can map them to HTTP responses. */
export type SignatureErrorCode =
  'signature_missing' | 'signature_malformed' | 'signature_invalid' | 'signature_expired';

/** Outcome of a verification; a rejection is an expected result, not an exception. */
export type VerifyResult =
  { ok: true } | { ok: false; error: { code: SignatureErrorCode; message: string } };

type Headers = Readonly<Record<string, string>>;

const DEFAULT_HMAC_HEADER = 'x-signature';
const DEFAULT_TOLERANCE_S = 300;
const SHA256_PREFIX = 'sha256=';
const WHSEC_PREFIX = 'whsec_';
const DEFAULT_JWT_HEADER = 'authorization';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const HEX = /^(?:[0-9a-f]{2})+$/i;
const BASE64 = /^(?=.)(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
// Twelve digits reach the year 33658; anything longer is not a real clock.
const UNIX_SECONDS = /^\d{1,12}$/;

const OK: VerifyResult = { ok: true };

/** headers: lower-cased header names → values. body: the raw request bytes. */
export function verifySignature(input: {
  config: SignatureConfig;
  headers: Headers;
  body: Uint8Array;
  now: Date;
}): VerifyResult {
  const { config, headers, body, now } = input;
  switch (config.scheme) {
    case 'hmac-sha256':
      return verifyHmacSha256(config, headers, body);
    case 'github':
      return verifyGithub(config, headers, body);
    case 'stripe':
      return verifyStripe(config, headers, body, now);
    case 'standard-webhooks':
      return verifyStandardWebhooks(config, headers, body, now);
    case 'slack':
      return verifySlack(config, headers, body, now);
    case 'jwt-hs256':
      return verifyJwtHs256(config, headers, now);
    default:
      return unknownScheme(config.scheme);
  }
}

/** Produces the headers a sender of that scheme would attach (used by tests and by a "send test event" button). */
export function signWebhook(input: {
  config: SignatureConfig;
  body: Uint8Array;
  now: Date;
  id?: string;
}): Record<string, string> {
  const { config, body, now } = input;
  const timestamp = String(unixSeconds(now));
  switch (config.scheme) {
    case 'hmac-sha256':
      return {
        [hmacHeaderName(config)]: SHA256_PREFIX + hmac(config.secret, body).toString('hex'),
      };
    case 'github':
      return { 'x-hub-signature-256': SHA256_PREFIX + hmac(config.secret, body).toString('hex') };
    case 'stripe': {
      const v1 = hmac(config.secret, `${timestamp}.`, body).toString('hex');
      return { 'stripe-signature': `t=${timestamp},v1=${v1}` };
    }
    case 'standard-webhooks': {
      // Derived rather than random so signing stays deterministic; a resend of the same
      // event in the same second reuses the id, which is what receivers dedupe on anyway.
      const id =
        input.id ??
        `msg_${createHash('sha256').update(`${timestamp}.`).update(body).digest('hex').slice(0, 24)}`;
      const signature = hmac(standardWebhooksKey(config.secret), `${id}.${timestamp}.`, body);
      return {
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': `v1,${signature.toString('base64')}`,
      };
    }
    case 'slack': {
      const v0 = hmac(config.secret, `v0:${timestamp}:`, body).toString('hex');
      return { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': `v0=${v0}` };
    }
    case 'jwt-hs256': {
      const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const claims = base64url(
        JSON.stringify({ iat: Number(timestamp), exp: Number(timestamp) + 300 }),
      );
      const signature = hmac(config.secret, `${header}.${claims}`).toString('base64url');
      const name = config.header?.toLowerCase() ?? DEFAULT_JWT_HEADER;
      const token = `${header}.${claims}.${signature}`;
      return { [name]: name === DEFAULT_JWT_HEADER ? `Bearer ${token}` : token };
    }
    default:
      return unknownScheme(config.scheme);
  }
}

function verifyHmacSha256(
  config: SignatureConfig,
  headers: Headers,
  body: Uint8Array,
): VerifyResult {
  const name = hmacHeaderName(config);
  const raw = readHeader(headers, name);
  if (raw === undefined) return fail('signature_missing', `missing ${name} header`);

  const value = raw.startsWith(SHA256_PREFIX) ? raw.slice(SHA256_PREFIX.length) : raw;
  // A 32-byte digest in base64 is 43 or 44 characters, never an even run of hex digits,
  // so trying hex first cannot misread a genuine base64 signature.
  const given = HEX.test(value)
    ? Buffer.from(value, 'hex')
    : BASE64.test(value)
      ? Buffer.from(value, 'base64')
      : undefined;
  if (given === undefined) {
    return fail('signature_malformed', `${name} is neither hex nor base64`);
  }

  return digestsEqual(hmac(config.secret, body), given)
    ? OK
    : fail('signature_invalid', `${name} does not match the body`);
}

function verifyGithub(config: SignatureConfig, headers: Headers, body: Uint8Array): VerifyResult {
  const raw = readHeader(headers, 'x-hub-signature-256');
  if (raw === undefined) return fail('signature_missing', 'missing x-hub-signature-256 header');

  const hex = raw.slice(SHA256_PREFIX.length);
  if (!raw.startsWith(SHA256_PREFIX) || !HEX.test(hex)) {
    return fail('signature_malformed', 'x-hub-signature-256 is not of the form sha256=<hex>');
  }

  return digestsEqual(hmac(config.secret, body), Buffer.from(hex, 'hex'))
    ? OK
    : fail('signature_invalid', 'x-hub-signature-256 does not match the body');
}

function verifyStripe(
  config: SignatureConfig,
  headers: Headers,
  body: Uint8Array,
  now: Date,
): VerifyResult {
  const raw = readHeader(headers, 'stripe-signature');
  if (raw === undefined) return fail('signature_missing', 'missing stripe-signature header');

  const timestamps: string[] = [];
  const candidates: string[] = [];
  for (const item of raw.split(',')) {
    const [key, value] = splitOnce(item, '=');
    if (key === 't') timestamps.push(value);
    // v0 and future schemes are ignored: only v1 is an HMAC we can check.
    if (key === 'v1') candidates.push(value);
  }
  const [timestamp] = timestamps;
  // Two timestamps would make it ambiguous which one the signature covers.
  if (timestamps.length !== 1 || timestamp === undefined || !UNIX_SECONDS.test(timestamp)) {
    return fail('signature_malformed', 'stripe-signature needs exactly one t=<unix seconds>');
  }
  if (candidates.length === 0) {
    return fail('signature_malformed', 'stripe-signature has no v1 signature');
  }

  // Sign the timestamp exactly as sent, so a sender's leading zeros still verify.
  const expected = hmac(config.secret, `${timestamp}.`, body);
  const matched = candidates.some(
    (sig) => HEX.test(sig) && digestsEqual(expected, Buffer.from(sig, 'hex')),
  );
  if (!matched) return fail('signature_invalid', 'no v1 signature in stripe-signature matches');

  return checkFreshness(Number(timestamp), now, config.tolerance_s);
}

function verifyStandardWebhooks(
  config: SignatureConfig,
  headers: Headers,
  body: Uint8Array,
  now: Date,
): VerifyResult {
  const id = readHeader(headers, 'webhook-id');
  const timestamp = readHeader(headers, 'webhook-timestamp');
  const raw = readHeader(headers, 'webhook-signature');
  if (id === undefined || timestamp === undefined || raw === undefined) {
    const absent = [
      id === undefined && 'webhook-id',
      timestamp === undefined && 'webhook-timestamp',
      raw === undefined && 'webhook-signature',
    ].filter(Boolean);
    return fail('signature_missing', `missing ${absent.join(', ')} header`);
  }
  if (!UNIX_SECONDS.test(timestamp)) {
    return fail('signature_malformed', 'webhook-timestamp is not unix seconds');
  }

  const candidates: string[] = [];
  for (const entry of raw.split(' ')) {
    const [version, value] = splitOnce(entry, ',');
    // The spec lets senders add other versions (e.g. asymmetric v1a) alongside v1.
    if (version === 'v1') candidates.push(value);
  }
  if (candidates.length === 0) {
    return fail('signature_malformed', 'webhook-signature has no v1 signature');
  }

  const expected = hmac(standardWebhooksKey(config.secret), `${id}.${timestamp}.`, body);
  const matched = candidates.some(
    (sig) => BASE64.test(sig) && digestsEqual(expected, Buffer.from(sig, 'base64')),
  );
  if (!matched) return fail('signature_invalid', 'no v1 signature in webhook-signature matches');

  return checkFreshness(Number(timestamp), now, config.tolerance_s);
}

function verifySlack(
  config: SignatureConfig,
  headers: Headers,
  body: Uint8Array,
  now: Date,
): VerifyResult {
  const timestamp = readHeader(headers, 'x-slack-request-timestamp');
  const raw = readHeader(headers, 'x-slack-signature');
  if (timestamp === undefined || raw === undefined) {
    return fail(
      'signature_missing',
      'missing x-slack-request-timestamp or x-slack-signature header',
    );
  }
  if (!UNIX_SECONDS.test(timestamp)) {
    return fail('signature_malformed', 'x-slack-request-timestamp is not unix seconds');
  }
  const [version, hex] = splitOnce(raw, '=');
  if (version !== 'v0' || !HEX.test(hex)) {
    return fail('signature_malformed', 'x-slack-signature is not v0=<hex>');
  }
  const expected = hmac(config.secret, `v0:${timestamp}:`, body);
  if (!digestsEqual(expected, Buffer.from(hex, 'hex'))) {
    return fail('signature_invalid', 'x-slack-signature does not match the body');
  }
  return checkFreshness(Number(timestamp), now, config.tolerance_s);
}

// A bearer token authenticates the sender, not the body: anyone holding a valid token could
// send any body until it expires. Only HS256 is accepted, so "alg": "none" and algorithm
// confusion are refused before any signature is computed.
function verifyJwtHs256(config: SignatureConfig, headers: Headers, now: Date): VerifyResult {
  const name = config.header?.toLowerCase() ?? DEFAULT_JWT_HEADER;
  const raw = readHeader(headers, name);
  if (raw === undefined) return fail('signature_missing', `missing ${name} header`);
  const token = name === DEFAULT_JWT_HEADER ? /^Bearer\s+(\S+)$/i.exec(raw)?.[1] : raw.trim();
  const parts = token?.split('.') ?? [];
  if (parts.length !== 3 || parts.some((part) => !BASE64URL.test(part))) {
    return fail('signature_malformed', `${name} does not hold a JWT`);
  }
  const [encodedHeader, encodedClaims, signature] = parts as [string, string, string];
  const header = parseJson(encodedHeader);
  const claims = parseJson(encodedClaims);
  if (!isRecord(header) || !isRecord(claims)) {
    return fail('signature_malformed', 'the JWT header or claims are not JSON objects');
  }
  if (header.alg !== 'HS256') return fail('signature_invalid', 'the JWT is not signed with HS256');
  const expected = hmac(config.secret, `${encodedHeader}.${encodedClaims}`);
  if (!digestsEqual(expected, Buffer.from(signature, 'base64url'))) {
    return fail('signature_invalid', 'the JWT signature does not match');
  }
  const leeway = config.tolerance_s ?? DEFAULT_TOLERANCE_S;
  const nowS = unixSeconds(now);
  if (typeof claims.exp === 'number' && !(nowS <= claims.exp + leeway)) {
    return fail('signature_expired', 'the JWT has expired');
  }
  if (typeof claims.nbf === 'number' && !(nowS >= claims.nbf - leeway)) {
    return fail('signature_expired', 'the JWT is not valid yet');
  }
  if (claims.exp === undefined && typeof claims.iat === 'number') {
    // A token without an expiry is held to the same freshness window as timestamped schemes.
    return checkFreshness(claims.iat, now, config.tolerance_s);
  }
  if (claims.exp === undefined && claims.iat === undefined) {
    return fail('signature_malformed', 'the JWT needs an exp or iat claim');
  }
  return OK;
}

function parseJson(base64urlText: string): unknown {
  try {
    return JSON.parse(Buffer.from(base64urlText, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

// Freshness is judged only after the signature holds, so "expired" always means a genuine
// but stale delivery (a replay or a skewed clock), never a forgery.
function checkFreshness(
  timestamp: number,
  now: Date,
  toleranceS = DEFAULT_TOLERANCE_S,
): VerifyResult {
  const skew = Math.abs(unixSeconds(now) - timestamp);
  // Phrased as "within" so an invalid Date or a NaN tolerance rejects instead of passing.
  if (skew <= toleranceS) return OK;
  return fail(
    'signature_expired',
    `timestamp is ${skew}s from now, beyond the ${toleranceS}s tolerance`,
  );
}

function hmac(key: string | Uint8Array, ...parts: readonly (string | Uint8Array)[]): Buffer {
  const mac = createHmac('sha256', key);
  // Bytes go in untouched: decoding the body as text would alter non-UTF-8 payloads.
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function digestsEqual(expected: Buffer, given: Buffer): boolean {
  // timingSafeEqual throws on unequal lengths; a length only reveals the algorithm, not the key.
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function standardWebhooksKey(secret: string): Buffer {
  const encoded = secret.startsWith(WHSEC_PREFIX) ? secret.slice(WHSEC_PREFIX.length) : secret;
  return Buffer.from(encoded, 'base64');
}

function hmacHeaderName(config: SignatureConfig): string {
  return (config.header ?? DEFAULT_HMAC_HEADER).toLowerCase();
}

function readHeader(headers: Headers, name: string): string | undefined {
  const value: unknown = headers[name];
  // A configured name like "constructor" resolves to an inherited function, not a header.
  const trimmed = typeof value === 'string' ? value.trim() : '';
  return trimmed === '' ? undefined : trimmed;
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at === -1 ? [text.trim(), ''] : [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function fail(code: SignatureErrorCode, message: string): VerifyResult {
  return { ok: false, error: { code, message } };
}

// Configs arrive from storage, so a scheme outside the union is a bug upstream, not a request error.
function unknownScheme(scheme: never): never {
  throw new Error(`unknown signature scheme: ${String(scheme)}`);
}
