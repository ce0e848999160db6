// Every run log, error event, alert and Sentry payload passes through here before it is stored
// or sent, so a secret that slips past these rules leaves the process. The rules therefore lean
// towards masking, but each one is anchored on a precise shape (a key name, a URL part, a Luhn
// check) rather than a greedy pattern, so ordinary text survives and the output stays useful.

/** Placeholder for a masked secret, so a reader can tell something was there. */
export const REDACTED = '[REDACTED]';

const CIRCULAR = '[Circular]';
const TRUNCATED = '[Truncated]';
const MAX_DEPTH = 20;
const MIN_SECRET_LENGTH = 4;

/** What counts as secret beyond the built-in rules. */
export interface RedactOptions {
  /** Literal secret values of the project (signature secrets, stored secrets): masked wherever they appear inside any string. Values shorter than 4 characters are ignored (they would mask ordinary text). */
  secrets?: readonly string[];
  /** Also mask e-mail addresses in strings (off by default). */
  emails?: boolean;
  /** Extra key patterns to treat as sensitive, beyond the built-in list. */
  extraKeys?: readonly RegExp[];
}

// Key rule. A key is split into lower-case words (camelCase, `-`, `_`, `.`, digits and spaces all
// separate words), then:
// - the words joined together (so `api_key`, `api-key`, `apiKey` and `APIKEY` all read `apikey`)
//   are sensitive if they contain one of KEY_STEMS anywhere: these are long enough that a
//   harmless key containing one is rare (`db_password`, `x-hub-signature-256`, `clientSecret`);
// - otherwise a single word must match KEY_WORD. `auth` and `token` are too short to match
//   anywhere: as substrings they would hit `author`, `authority`, `authenticated` and `tokenizer`.
//   So `auth` counts as a whole word, as a word prefix unless the word goes on as author* or
//   authent* (`authn`, `authKey` written `authkey`), or as a word suffix (`oauth`, `basicauth`);
//   `token` counts as a word ending (`token`, `tokens`, `githubtoken`, `accesstoken`).
//   `authorization` is caught by its stem; `authentication` and `www-authenticate` are not
//   sensitive by name (their secrets sit in nested keys or in a Basic/Bearer value).
const KEY_STEMS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'apikey',
  'privatekey',
  'credential',
  'mysqlpwd',
  'authorization',
  'bearer',
  'cookie',
  'session',
  'signature',
] as const;
const KEY_WORD = /^(?:auth(?!or|ent).*|.*auth|.*tokens?|jwt|pass)$/;

function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((word) => word !== '');
}

/** Whether a property or header name holds a secret by its name alone. */
export function isSensitiveKey(key: string, extraKeys?: readonly RegExp[]): boolean {
  const words = keyWords(key);
  const joined = words.join('');
  if (KEY_STEMS.some((stem) => joined.includes(stem))) return true;
  if (words.some((word) => KEY_WORD.test(word))) return true;
  // search() starts at 0 and restores lastIndex, so a caller's /g or /y pattern is safe to reuse.
  return extraKeys?.some((pattern) => key.search(pattern) !== -1) ?? false;
}

interface Compiled {
  readonly secrets: RegExp | undefined;
  readonly emails: boolean;
  readonly extraKeys: readonly RegExp[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function compile(options: RedactOptions = {}): Compiled {
  const variants = new Set<string>();
  for (const secret of options.secrets ?? []) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
    variants.add(secret);
    // The same secret also leaks URL-encoded (query strings) or JSON-escaped (stringified bodies).
    variants.add(encodeURIComponent(secret));
    variants.add(JSON.stringify(secret).slice(1, -1));
  }
  // Longest first, so a secret that contains another is masked whole, not around the shorter one.
  const sorted = [...variants].sort((a, b) => b.length - a.length);
  return {
    secrets: sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined,
    emails: options.emails ?? false,
    extraKeys: options.extraKeys ?? [],
  };
}

// Text rules. Each pattern only starts where the previous character cannot continue the match
// (lookbehind), which keeps a scan linear on long runs of letters or digits.

// A JSON pair whose key is sensitive, e.g. a request body logged as a string.
const JSON_PAIR = /"((?:[^"\\\r\n]|\\.)*)"(\s*:\s*)"(?:[^"\\\r\n]|\\.)*"/g;
// scheme://user:password@host. The password runs to the last `@` of the authority, so an
// unencoded `@` inside it cannot leave a tail of the password behind.
const URL_USERINFO = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)[^\s/?#]+@/gi;
const QUERY_PARAM = /([?&])([^=&#\s?]+)=([^&#\s"'<>]*)/g;
const BEARER = /(?<![a-z0-9])(bearer\s+)([a-z0-9\-._~+/]+=*)/gi;
const BASIC = /(?<![a-z0-9])(basic\s+)([a-z0-9+/]+={0,2})(?![a-z0-9+/=])/gi;
// 13-19 digits with single spaces or dashes between them. The first digit is 2-6 (the issuer
// ranges of Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay), which keeps millisecond
// timestamps and most numeric ids out before the Luhn check even runs. Digits that belong to a
// longer number, a word, a hex id or a decimal fraction are not a card.
const CARD = /(?<![0-9a-z_.])[2-6](?:[ -]?[0-9]){12,18}(?![0-9a-z_]|\.[0-9])/gi;
const EMAIL = /(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi;
// A `key=value` or `key: value` pair in free text (logfmt, an exception message), e.g.
// `password=hunter2`: the value of a sensitive key runs to the next space or delimiter.
// The value is looked at, not consumed, so that in `failed: password: hunter2` the scan goes on
// from `password` after passing over the pair `failed: password`.
const TEXT_PAIR =
  /(?<![\w.-])([a-z_][\w.-]{0,63})(=|:[ \t]*)(?=("[^"\r\n]*"|'[^'\r\n]*'|[^\s,;&"'<>()[\]{}:=]+))/gi;

// A bearer token is masked unless it reads as a plain word ("Bearer token expired"): real tokens
// carry digits or punctuation, or are long.
function looksLikeToken(token: string): boolean {
  return /[0-9\-._~+/=]/.test(token) || token.length >= 16;
}

// Basic credentials are base64 of `user:password`; decoding tells them apart from prose such as
// "Basic plan".
function looksLikeBasicCredentials(token: string): boolean {
  try {
    return atob(token).includes(':');
  } catch {
    return false;
  }
}

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function maskTextPairs(text: string, c: Compiled): string {
  let out = '';
  let from = 0;
  for (const match of text.matchAll(TEXT_PAIR)) {
    const [pair, key, sep, value] = match as unknown as [string, string, string, string];
    const quote = /^["']/.test(value) ? value[0]! : '';
    const bare = quote ? value.slice(1, -1) : value;
    if (bare === '' || bare.startsWith(REDACTED) || !isSensitiveKey(key, c.extraKeys)) continue;
    // With `:` the value must read as a credential: prose such as "signature: missing" stays.
    if (sep !== '=' && !quote && !looksLikeToken(bare)) continue;
    const start = match.index + pair.length;
    if (start < from) continue; // inside a value masked already
    out += text.slice(from, start) + quote + REDACTED + quote;
    from = start + value.length;
  }
  return out + text.slice(from);
}

function maskText(text: string, c: Compiled): string {
  let out = text;
  // Literal secrets first: the other rules reshape text, and the values must go wherever they are.
  if (c.secrets) out = out.replace(c.secrets, REDACTED);
  out = out.replace(JSON_PAIR, (match, key: string, sep: string) =>
    isSensitiveKey(key, c.extraKeys) ? `"${key}"${sep}"${REDACTED}"` : match,
  );
  out = out.replace(URL_USERINFO, `$1${REDACTED}@`);
  out = out.replace(QUERY_PARAM, (match, lead: string, name: string, value: string) =>
    value !== '' && isSensitiveKey(safeDecode(name), c.extraKeys)
      ? `${lead}${name}=${REDACTED}`
      : match,
  );
  out = out.replace(BEARER, (match, scheme: string, token: string) =>
    looksLikeToken(token) ? scheme + REDACTED : match,
  );
  out = out.replace(BASIC, (match, scheme: string, token: string) =>
    looksLikeBasicCredentials(token) ? scheme + REDACTED : match,
  );
  // After the schemes above, so `Authorization: Bearer <token>` has its token masked by them.
  out = maskTextPairs(out, c);
  out = out.replace(CARD, (match) => (passesLuhn(match.replace(/[ -]/g, '')) ? REDACTED : match));
  if (c.emails) {
    out = out.replace(EMAIL, (match) => (/\.[a-z]{2,}$/i.test(match) ? REDACTED : match));
  }
  return out;
}

function copyKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment of `__proto__` (as JSON.parse can produce) would swap the prototype.
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

function walkEntries(
  entries: Iterable<readonly [string, unknown]>,
  c: Compiled,
  depth: number,
  ancestors: object[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries) {
    copyKey(
      out,
      key,
      isSensitiveKey(key, c.extraKeys) ? REDACTED : walk(child, c, depth, ancestors),
    );
  }
  return out;
}

function hasToJSON(value: object): value is { toJSON(): unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function walk(value: unknown, c: Compiled, depth: number, ancestors: object[]): unknown {
  if (typeof value === 'string') return maskText(value, c);
  // Numbers, booleans, null, undefined, bigints, symbols and functions carry no readable secret.
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  }
  if (value instanceof Error) {
    return {
      name: maskText(value.name, c),
      message: maskText(value.message, c),
      stack: value.stack === undefined ? undefined : maskText(value.stack, c),
    };
  }
  // A byte dump is unreadable in a log and can be huge; its size is what helps debugging.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return `[Binary: ${value.byteLength} bytes]`;
  }
  // Ancestors only, not everything seen: an object shared by two branches is copied twice,
  // and only a true cycle becomes '[Circular]'.
  if (ancestors.includes(value)) return CIRCULAR;
  if (depth > MAX_DEPTH) return TRUNCATED;
  ancestors.push(value);
  try {
    const next = depth + 1;
    if (Array.isArray(value)) return value.map((item) => walk(item, c, next, ancestors));
    if (value instanceof Set) return [...value].map((item) => walk(item, c, next, ancestors));
    if (value instanceof Map || value instanceof Headers) {
      const entries = [...(value as Map<unknown, unknown>)].map(
        ([key, child]) => [String(key), child] as const,
      );
      return walkEntries(entries, c, next, ancestors);
    }
    // Mirrors JSON.stringify (URL, custom classes); the result counts one level deeper so a
    // toJSON that keeps returning new objects still ends at the depth cap.
    if (hasToJSON(value)) {
      let json: unknown;
      try {
        json = value.toJSON();
      } catch {
        return '[Unserializable]';
      }
      return walk(json, c, next, ancestors);
    }
    return walkEntries(Object.entries(value), c, next, ancestors);
  } finally {
    ancestors.pop();
  }
}

/** Masks secrets inside free text. */
export function redactText(text: string, options?: RedactOptions): string {
  return maskText(text, compile(options));
}

/** Deep copy of a JSON-like value with every secret masked; never mutates the input. */
export function redact<T>(value: T, options?: RedactOptions): T {
  // The shape changes where a secret or a Date is replaced by a string; callers treat it as T.
  return walk(value, compile(options), 0, []) as T;
}

/** Builds a redactor bound to options, compiled once (regexes for the secrets) for hot paths such as a logger. */
export function createRedactor(options?: RedactOptions): {
  value<T>(v: T): T;
  text(s: string): string;
} {
  const compiled = compile(options);
  return {
    value: <T>(v: T): T => walk(v, compiled, 0, []) as T,
    text: (s: string): string => maskText(s, compiled),
  };
}
