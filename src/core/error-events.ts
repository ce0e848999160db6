// Every component turns a failure into one stored error event here, so the rules that decide an
// issue's type, severity and grouping live in one place. Two properties matter most. The record
// is redacted before anything is derived from it: the fingerprint and the title come from the
// redacted text, so a secret can neither leak through them nor split one issue into many. And
// describeError never throws: it runs inside error handlers, where a second failure would lose
// the first.

import { createHash, randomUUID } from 'node:crypto';
import { REDACTED, createRedactor } from './redact.ts';

/** Where an error was captured. */
export const ERROR_SOURCES = ['worker', 'webhook', 'api', 'web', 'system'] as const;
/** Where an error was captured. */
export type ErrorSource = (typeof ERROR_SOURCES)[number];

/** How urgently an error event needs a person. */
export const SEVERITIES = ['low', 'medium', 'high'] as const;
/** How urgently an error event needs a person. */
export type Severity = (typeof SEVERITIES)[number];

/** Stable error type names (documented); reporters may also send their own matching ERROR_TYPE_PATTERN. */
export const KNOWN_ERROR_TYPES = [
  'http_5xx',
  'http_4xx',
  'http_timeout',
  'network',
  'step_timeout',
  'expression_error',
  'invalid_config',
  'terminated',
  'signature_missing',
  'signature_malformed',
  'signature_invalid',
  'signature_expired',
  'payload_invalid',
  'payload_too_large',
  'workflow_not_found',
  'lease_lost',
  'db_error',
  'internal',
  'uncaught_exception',
  'unhandled_rejection',
  'browser_error',
] as const;

/** What an error type name must look like: snake_case, at most 64 characters. */
export const ERROR_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Longest title, in characters. */
export const MAX_TITLE_LENGTH = 200;
/** Longest stored message, in characters. */
export const MAX_MESSAGE_LENGTH = 4_000;
/** Longest stored stack, in characters (16 KiB of ASCII). */
export const MAX_STACK_LENGTH = 16_384;
/** Longest metadata, in characters of its JSON serialisation. */
export const MAX_METADATA_LENGTH = 8_192;

/** What the capturing component knows about an error. */
export interface ErrorContext {
  source: ErrorSource;
  /** The type when the caller knows it (a step error's type); else classifyError decides. */
  errorType?: string;
  /** Overrides the severity rules (a reporter that knows better). */
  severity?: Severity;
  projectId?: string | null;
  workflowId?: string | null;
  runId?: string | null;
  nodeId?: string | null;
  userId?: string | null;
  /** For worker errors: whether this failure ended the run (high) or another attempt follows (low). */
  runEnding?: boolean;
  attempt?: number;
  /** Free context; redacted before it is stored. */
  metadata?: Record<string, unknown>;
}

/** One error event, classified, fingerprinted and redacted, ready to be stored. */
export interface CapturedError {
  /** uuid v4 (crypto.randomUUID by default). */
  id: string;
  ts: Date;
  projectId: string | null;
  source: ErrorSource;
  errorType: string;
  severity: Severity;
  /** One line, redacted, at most 200 characters: the title. */
  title: string;
  /** The redacted message, at most 4,000 characters. */
  message: string;
  /** The redacted stack when there is one, at most 16 KiB, else null. */
  stack: string | null;
  /** 32 hex characters (a truncated sha256) grouping events into one issue. */
  fingerprint: string;
  workflowId: string | null;
  runId: string | null;
  nodeId: string | null;
  userId: string | null;
  /** Redacted JSON object (attempt, error details, …), at most ~8 KiB serialised; keys that did not fit are dropped and `truncated: true` marks it. */
  metadata: Record<string, unknown>;
}

/** Masks secrets in values and text, as built by createRedactor. */
export interface ErrorRedactor {
  value<T>(v: T): T;
  text(s: string): string;
}

/** Injectable parts of describeError: the project's redactor, the clock and the id source. */
export interface DescribeErrorOptions {
  redactor?: ErrorRedactor;
  now?: () => Date;
  randomId?: () => string;
}

const CAUSE_LEVELS = 3;
const MAX_INNER_ERRORS = 10;
const MAX_FRAMES = 5;
const UNREADABLE = '[Unreadable]';
const CIRCULAR = '[Circular]';
const TRUNCATED = '[Truncated]';

// Text is redacted before it is cut to size: cutting first could split a secret and leave its
// first part unmasked. Redacting megabytes is still cheap (~5 ms per MB), but a bound keeps a
// pathological message from stalling an error handler; see redactAndCut.
const SCAN_CHARS = 262_144;
const SCAN_SLACK = 65_536;

// Bounds on the metadata walk, so a huge or deeply nested context costs little before it is cut.
const META_MAX_DEPTH = 8;
const META_MAX_NODES = 2_000;
const META_MAX_ITEMS = 100;
const META_MAX_KEYS = 200;
const META_MAX_STRING = 1_000;
const META_MAX_CHARS = 1_048_576;
const META_MARKER_RESERVE = 1_024;
const META_MAX_DROPPED_NAMES = 10;

const defaultRedactor = createRedactor();

/**
 * Turns any thrown or reported value into one stored error event: classified, with a severity,
 * redacted (message, stack, metadata), cut to size and fingerprinted. Never throws.
 *
 * @example
 * const event = describeError(error, { source: 'worker', runId, nodeId, runEnding: true, attempt }, {
 *   redactor: createRedactor({ secrets: projectSecrets }),
 * });
 */
export function describeError(
  error: unknown,
  context: ErrorContext,
  options: DescribeErrorOptions = {},
): CapturedError {
  const redactor = options.redactor ?? defaultRedactor;
  const ts = safeCall(options.now, () => new Date());
  const id = safeCall(options.randomId, randomUUID);
  try {
    return buildRecord(error, context, redactor, ts, id);
  } catch {
    // Only a bug in this module gets here; an event with less in it beats losing the error.
    const source = sourceOf(context);
    const message = '[error could not be described]';
    return {
      id,
      ts,
      projectId: null,
      source,
      errorType: 'internal',
      severity: severityOf({ source, errorType: 'internal' }),
      title: message,
      message,
      stack: null,
      fingerprint: fingerprintOf({
        source,
        errorType: 'internal',
        workflowId: null,
        nodeId: null,
        message,
        frames: [],
      }),
      workflowId: null,
      runId: null,
      nodeId: null,
      userId: null,
      metadata: {},
    };
  }
}

function buildRecord(
  error: unknown,
  context: ErrorContext,
  redactor: ErrorRedactor,
  ts: Date,
  id: string,
): CapturedError {
  const source = sourceOf(context);
  const given = read(context, 'errorType');
  const errorType =
    typeof given === 'string' && ERROR_TYPE_PATTERN.test(given) ? given : classifyError(error);
  const runEnding = read(context, 'runEnding');
  const severity = severityOf({
    source,
    errorType,
    runEnding: typeof runEnding === 'boolean' ? runEnding : undefined,
    severity: read(context, 'severity') as Severity | undefined,
  });

  const top = redactAndCut(rawMessage(error, redactor, 0), MAX_MESSAGE_LENGTH, redactor);
  const causes = causesOf(error).map(
    (cause) =>
      ` (caused by: ${redactAndCut(rawMessage(cause, redactor, 0), MAX_MESSAGE_LENGTH, redactor)})`,
  );
  const message = truncate(top + causes.join(''), MAX_MESSAGE_LENGTH);
  const rawStack = isObject(error) ? read(error, 'stack') : undefined;
  const stack =
    typeof rawStack === 'string' ? redactAndCut(rawStack, MAX_STACK_LENGTH, redactor) : null;
  const workflowId = idOf(read(context, 'workflowId'));
  const nodeId = idOf(read(context, 'nodeId'));

  return {
    id,
    ts,
    projectId: idOf(read(context, 'projectId')),
    source,
    errorType,
    severity,
    title: titleOf(message, errorType),
    message,
    stack,
    // The top message only: a cause's wording (a pg detail, a socket address) varies more than
    // the failure it explains.
    fingerprint: fingerprintOf({
      source,
      errorType,
      workflowId,
      nodeId,
      message: top,
      frames: inAppFrames(stack ?? undefined),
    }),
    workflowId,
    runId: idOf(read(context, 'runId')),
    nodeId,
    userId: idOf(read(context, 'userId')),
    metadata: metadataOf(error, context, redactor),
  };
}

// SQLSTATE classes start with a digit or one of F, H, P, X; Node's errno codes (EPERM, EPIPE)
// start with E, so a five-letter errno is not mistaken for one.
const SQLSTATE = /^[0-9FHPX][0-9A-Z]{4}$/;
// fetch wraps its socket errors in TypeError('fetch failed'), and the HTTP node reports its own
// failures with a type, so a bare refused or reset connection reaching here is the database's.
const DB_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);
// node-postgres reports a lost or unobtainable connection without a code.
const PG_CLIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
];
const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
]);

/**
 * The stable type of an error from its shape, looking through up to three `cause` levels (an
 * infrastructure failure is rethrown wrapped) and taking the first that matches:
 * - an Error named LeaseLostError → 'lease_lost';
 * - fetch's TypeError('fetch failed'), a code starting UND_ERR_ (undici) or a DNS/route code
 *   (ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, ENETUNREACH, ENETDOWN, EHOSTDOWN) → 'network';
 * - a SQLSTATE `code` (five characters, e.g. '23505', '57P01'), a bare connection code
 *   (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE) or node-postgres's connection messages
 *   ('Connection terminated…') → 'db_error';
 * - anything else, AbortError and TimeoutError included (the caller knows what timed out and
 *   passes the type), → 'internal'.
 */
export function classifyError(error: unknown): string {
  const seen = new Set<unknown>();
  let current = error;
  for (let level = 0; level <= CAUSE_LEVELS && isObject(current); level++) {
    if (seen.has(current)) break;
    seen.add(current);
    const type = classifyOne(current);
    if (type !== undefined) return type;
    current = read(current, 'cause');
  }
  return 'internal';
}

function classifyOne(error: object): string | undefined {
  const name = read(error, 'name');
  const message = read(error, 'message');
  const code = read(error, 'code');
  if (name === 'LeaseLostError') return 'lease_lost';
  if (name === 'TypeError' && message === 'fetch failed') return 'network';
  if (typeof code === 'string') {
    if (code.startsWith('UND_ERR_') || NETWORK_CODES.has(code)) return 'network';
    if (SQLSTATE.test(code) || DB_CONNECTION_CODES.has(code)) return 'db_error';
  }
  if (typeof message === 'string' && PG_CLIENT_MESSAGES.some((m) => message.startsWith(m))) {
    return 'db_error';
  }
  return undefined;
}

const HIGH_WHEN_BROKEN: ReadonlySet<string> = new Set(['internal', 'db_error']);
const SYSTEM_HIGH: ReadonlySet<string> = new Set([
  'uncaught_exception',
  'unhandled_rejection',
  'db_error',
  'internal',
]);
const WEBHOOK_LOW: ReadonlySet<string> = new Set([
  'payload_invalid',
  'payload_too_large',
  'workflow_not_found',
]);

/**
 * The severity of an error event. An explicit `severity` (one of SEVERITIES) wins; otherwise:
 *
 * | source  | error type                                                          | severity |
 * | ------- | ------------------------------------------------------------------- | -------- |
 * | worker  | any, and the failure ended the run (`runEnding: true`)              | high     |
 * | worker  | any, and another attempt follows (`runEnding: false`)               | low      |
 * | worker  | any, and whether the run ended is unknown                           | medium   |
 * | webhook | `signature_*` (a misconfigured sender or an attack)                 | medium   |
 * | webhook | `payload_invalid`, `payload_too_large`, `workflow_not_found`        | low      |
 * | webhook | `internal`, `db_error` (intake itself is broken)                    | high     |
 * | webhook | any other                                                           | medium   |
 * | api     | `internal`, `db_error`                                              | high     |
 * | api     | any other                                                           | medium   |
 * | web     | any (errors reported by browsers)                                   | medium   |
 * | system  | `uncaught_exception`, `unhandled_rejection`, `db_error`, `internal` | high     |
 * | system  | any other (`lease_lost` among them)                                 | medium   |
 */
export function severityOf(context: {
  source: ErrorSource;
  errorType: string;
  runEnding?: boolean;
  severity?: Severity;
}): Severity {
  const { source, errorType, runEnding, severity } = context;
  if (severity !== undefined && (SEVERITIES as readonly unknown[]).includes(severity)) {
    return severity;
  }
  switch (source) {
    case 'worker':
      return runEnding === undefined ? 'medium' : runEnding ? 'high' : 'low';
    case 'webhook':
      if (errorType.startsWith('signature_')) return 'medium';
      if (WEBHOOK_LOW.has(errorType)) return 'low';
      return HIGH_WHEN_BROKEN.has(errorType) ? 'high' : 'medium';
    case 'api':
      return HIGH_WHEN_BROKEN.has(errorType) ? 'high' : 'medium';
    case 'web':
      return 'medium';
    case 'system':
      return SYSTEM_HIGH.has(errorType) ? 'high' : 'medium';
    default:
      return 'medium';
  }
}

// A quoted string that reads as data (it holds a space or punctuation) rather than a name:
// identifiers such as constraint or table names stay, since they tell failures apart.
const QUOTED_DATA = /"(?=[^"\n]*[^\w"\n.$-])[^"\n]{25,}"|`(?=[^`\n]*[^\w`\n.$-])[^`\n]{25,}`/g;
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>`]*)\?[^\s#"'<>`]*/gi;
const EMAIL = /(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi;
const UUID =
  /(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])/gi;
const TIMESTAMP =
  /(?<![0-9])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?(?![0-9])/gi;
const IPV4 = /(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}(?![0-9]|\.\d)/g;
const HEX_ID = /(?<![0-9a-z])(?:0x)?(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}(?![0-9a-z])/gi;
const NUMBER = /(?<![\w.-])\d+(?:\.\d+)?(ms|s|m|h|d|b|kb|kib|mb|mib|gb|gib)?(?!\w|\.\d)/gi;
const UNIT_AFTER =
  /^\s?(?:ms|s|secs?|seconds?|mins?|minutes?|h|hours?|b|bytes?|kb|kib|mb|mib|gb|gib|%)(?![a-z])/i;

/**
 * Replaces the variable parts of a message so that repeats of one failure group into one issue.
 * In this order:
 * - a quoted string ("…" or `…`) of 25+ characters holding a space or punctuation → `"<str>"`
 *   (a data snippet; a quoted identifier such as a constraint name is kept);
 * - a URL's query string → `?<query>` (the scheme, host and path are kept);
 * - an e-mail address → `<email>`;
 * - a UUID → `<uuid>`;
 * - an ISO 8601 date or timestamp → `<time>`;
 * - an IPv4 address → `<ip>`;
 * - a hex id of 8+ characters with at least one digit and one letter a-f (0x prefix included)
 *   → `<hex>` (the letter keeps plain numbers for the next rule, the digit keeps words);
 * - any other standalone number → `<n>`, a unit glued to it kept (`30000ms` → `<n>ms`), except a three-digit number from 100 to 599 not
 *   followed by a unit (`ms`, `s`, `bytes`, `%`, …), which is kept as an HTTP status: "answered
 *   503" and "answered 404" are different failures. Digits inside a word or identifier
 *   (`http_5xx`, `sha256`, `utf-8`, `v1.2.3`) are kept.
 * Finally runs of whitespace become one space. The result is stable: normalising it again
 * changes nothing.
 */
export function normaliseMessage(message: string): string {
  return message
    .replace(QUOTED_DATA, (match) => `${match[0]}<str>${match[0]}`)
    .replace(URL_QUERY, '$1?<query>')
    .replace(EMAIL, '<email>')
    .replace(UUID, '<uuid>')
    .replace(TIMESTAMP, '<time>')
    .replace(IPV4, '<ip>')
    .replace(HEX_ID, '<hex>')
    .replace(NUMBER, (match: string, unit: string | undefined, offset: number, whole: string) =>
      unit === undefined &&
      /^[1-5]\d\d$/.test(match) &&
      !UNIT_AFTER.test(whole.slice(offset + match.length))
        ? match
        : `<n>${unit ?? ''}`,
    )
    .replace(/\s+/g, ' ')
    .trim();
}

const FRAME = /^\s*at (?:(.*?) \((.*)\)|(.*))$/;

/**
 * The frames of MeshHook's own code in a V8 stack ("at fn (file:line:col)"), top first, at
 * most `max` (5), as "fn (path)" without line/column numbers, path relative from 'src/' on;
 * frames under node_modules or node: internals are excluded, and so are frames outside a src/
 * folder (eval code, built bundles with hashed names), whose paths would differ per build.
 * Line numbers are left out so that an unrelated edit above a function keeps its issues.
 */
export function inAppFrames(stack: string | undefined, max: number = MAX_FRAMES): string[] {
  if (typeof stack !== 'string') return [];
  const frames: string[] = [];
  for (const line of stack.slice(0, MAX_STACK_LENGTH).split('\n')) {
    if (frames.length >= max) break;
    const match = FRAME.exec(line);
    if (!match) continue;
    const location = (match[2] ?? match[3] ?? '').replace(/^async /, '');
    const path = appPath(location);
    if (path === undefined) continue;
    const fn = (match[1] ?? '<anonymous>').replace(/^async /, '');
    frames.push(`${fn} (${path})`);
  }
  return frames;
}

function appPath(location: string): string | undefined {
  const path = location
    .replace(/\\/g, '/')
    .replace(/:\d+(?::\d+)?$/, '')
    .replace(/[?#].*$/, '');
  if (path.startsWith('node:') || path.startsWith('eval at ') || path.includes('/node_modules/')) {
    return undefined;
  }
  if (path.startsWith('src/')) return path;
  // The last src/ so that an install under a folder named src (/home/me/src/meshhook) is cut.
  const at = path.lastIndexOf('/src/');
  return at === -1 ? undefined : path.slice(at + 1);
}

/**
 * sha256 over source, errorType, workflowId, nodeId, the normalised message and the in-app
 * frames, truncated to 32 hex chars. `message` is the redacted message; it is normalised here.
 * The run id is left out on purpose: repeats of one failure across runs are one issue.
 */
export function fingerprintOf(parts: {
  source: ErrorSource;
  errorType: string;
  workflowId: string | null;
  nodeId: string | null;
  message: string;
  frames: readonly string[];
}): string {
  // A JSON array keeps the parts apart: no separator inside a part can make two inputs collide.
  const input = JSON.stringify([
    parts.source,
    parts.errorType,
    parts.workflowId,
    parts.nodeId,
    normaliseMessage(parts.message),
    parts.frames,
  ]);
  return createHash('sha256').update(input).digest('hex').slice(0, 32);
}

function sourceOf(context: unknown): ErrorSource {
  const source = isObject(context) ? read(context, 'source') : undefined;
  return (ERROR_SOURCES as readonly unknown[]).includes(source)
    ? (source as ErrorSource)
    : 'system';
}

function idOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

// A property read that survives throwing getters and revoked proxies.
function read(target: unknown, key: PropertyKey, fallback?: unknown): unknown {
  if (!isObject(target)) return undefined;
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch {
    return fallback;
  }
}

function safeCall<T>(fn: (() => T) | undefined, fallback: () => T): T {
  if (fn === undefined) return fallback();
  try {
    return fn();
  } catch {
    return fallback();
  }
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Not between the halves of a surrogate pair, which would leave invalid UTF-16 behind.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

function maskText(text: string, redactor: ErrorRedactor): string {
  try {
    return redactor.text(text);
  } catch {
    // Text that could not be checked for secrets is not stored.
    return REDACTED;
  }
}

// Redacts, then cuts to max. A text beyond SCAN_CHARS is redacted on its first SCAN_CHARS only;
// that cut may split a secret, leaving its start unmasked at the end of the head. That end lies
// past max, and is cut away, unless masking shrank the head to within SCAN_SLACK of max (it held
// hundreds of kilobytes of secrets); then the whole text is redacted instead.
function redactAndCut(text: string, max: number, redactor: ErrorRedactor): string {
  const cut = text.length > SCAN_CHARS;
  let masked = maskText(cut ? text.slice(0, SCAN_CHARS) : text, redactor);
  if (cut && masked.length < max + SCAN_SLACK) masked = maskText(text, redactor);
  return truncate(masked, max);
}

function rawMessage(value: unknown, redactor: ErrorRedactor, depth: number): string {
  try {
    if (typeof value === 'string') return value;
    if (typeof value === 'symbol') return value.toString();
    if (typeof value === 'function') return functionLabel(value);
    if (!isObject(value)) return String(value);
    const message = read(value, 'message');
    if (typeof message !== 'string') return stringify(value, redactor);
    let text = message;
    const errors = read(value, 'errors');
    // AggregateError (Promise.any, or Node connecting to each address of a host) keeps its
    // reasons in `errors`, often with an empty message of its own.
    if (Array.isArray(errors) && errors.length > 0 && depth < 2) {
      const inner = errors
        .slice(0, MAX_INNER_ERRORS)
        .map((item: unknown) => rawMessage(item, redactor, depth + 1));
      if (errors.length > MAX_INNER_ERRORS) {
        inner.push(`… ${errors.length - MAX_INNER_ERRORS} more`);
      }
      text = text === '' ? inner.join('; ') : `${text}: ${inner.join('; ')}`;
    }
    if (text === '') {
      const name = read(value, 'name');
      if (typeof name === 'string') return name;
    }
    return text;
  } catch {
    return UNREADABLE;
  }
}

function stringify(value: object, redactor: ErrorRedactor): string {
  const plain = redactValue(toPlain(value, newWalk(redactor), 0), redactor);
  return typeof plain === 'string' ? plain : (JSON.stringify(plain) ?? UNREADABLE);
}

function functionLabel(fn: unknown): string {
  let name: unknown;
  try {
    name = (fn as { name?: unknown }).name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && name !== '' ? `[Function: ${name}]` : '[Function]';
}

function causesOf(error: unknown): unknown[] {
  const causes: unknown[] = [];
  const seen = new Set<unknown>([error]);
  let current = error;
  while (causes.length < CAUSE_LEVELS && isObject(current)) {
    const cause = read(current, 'cause');
    if (cause === undefined || cause === null || seen.has(cause)) break;
    causes.push(cause);
    seen.add(cause);
    current = cause;
  }
  return causes;
}

function titleOf(message: string, errorType: string): string {
  const line = message
    .split(/\r\n|\r|\n/)
    .map((part) => part.trim())
    .find((part) => part !== '');
  return truncate(line ?? errorType, MAX_TITLE_LENGTH);
}

function metadataOf(
  error: unknown,
  context: ErrorContext,
  redactor: ErrorRedactor,
): Record<string, unknown> {
  const combined: Record<string, unknown> = {};
  const attempt = read(context, 'attempt');
  if (typeof attempt === 'number' && Number.isFinite(attempt)) combined.attempt = attempt;
  const given = toPlain(read(context, 'metadata'), newWalk(redactor), 0);
  const caller: Record<string, unknown> =
    given === undefined || given === null ? {} : isPlainRecord(given) ? given : { value: given };
  const details = errorDetails(error, redactor);
  if (details !== undefined && !Object.hasOwn(caller, 'error')) combined.error = details;
  for (const [key, value] of Object.entries(caller)) {
    if (!Object.hasOwn(combined, key)) setKey(combined, key, value);
  }
  const redacted = redactValue(combined, redactor);
  return fitMetadata(isPlainRecord(redacted) ? redacted : {});
}

// What an error carries beyond its message that helps a reader: its class (unless plain Error),
// its code (a SQLSTATE, an errno) and a step error's details (an HTTP status).
function errorDetails(error: unknown, redactor: ErrorRedactor): unknown {
  if (!isObject(error)) return undefined;
  const out: Record<string, unknown> = {};
  const name = read(error, 'name');
  if (typeof name === 'string' && name !== '' && name !== 'Error') out.name = name;
  const code = read(error, 'code');
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  const details = read(error, 'details');
  if (details !== undefined) out.details = toPlain(details, newWalk(redactor), 1);
  return Object.keys(out).length > 0 ? out : undefined;
}

function redactValue(value: unknown, redactor: ErrorRedactor): unknown {
  try {
    return redactor.value(value);
  } catch {
    return REDACTED;
  }
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return isObject(value) && !Array.isArray(value);
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment of `__proto__` would swap the prototype instead of adding a key.
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

interface Walk {
  readonly redactor: ErrorRedactor;
  readonly ancestors: object[];
  nodes: number;
  chars: number;
}

function newWalk(redactor: ErrorRedactor): Walk {
  return { redactor, ancestors: [], nodes: 0, chars: 0 };
}

// A JSON-safe copy of any value, read defensively (getters that throw, revoked proxies, cycles,
// bigints), bounded in nodes and characters, so that the redactor and JSON.stringify see only plain data. Keys are masked too:
// the redactor masks values, and a map keyed by token would otherwise keep the token.
function toPlain(value: unknown, walk: Walk, depth: number): unknown {
  walk.nodes += 1;
  if (walk.nodes > META_MAX_NODES) return TRUNCATED;
  try {
    switch (typeof value) {
      case 'string': {
        const plain =
          value.length > SCAN_CHARS ? redactAndCut(value, META_MAX_STRING, walk.redactor) : value;
        walk.chars += plain.length;
        return walk.chars > META_MAX_CHARS ? TRUNCATED : plain;
      }
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'bigint':
      case 'symbol':
        return value.toString();
      case 'function':
        return functionLabel(value);
      case 'boolean':
      case 'undefined':
        return value;
    }
    if (!isObject(value)) return null;
    if (walk.ancestors.includes(value)) return CIRCULAR;
    if (depth >= META_MAX_DEPTH) return TRUNCATED;
    if (value instanceof Date) {
      return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      return `[Binary: ${value.byteLength} bytes]`;
    }
    walk.ancestors.push(value);
    try {
      return toPlainObject(value, walk, depth + 1);
    } finally {
      walk.ancestors.pop();
    }
  } catch {
    return UNREADABLE;
  }
}

function toPlainObject(value: object, walk: Walk, depth: number): unknown {
  if (Array.isArray(value) || value instanceof Set) {
    const items: unknown[] = Array.isArray(value) ? value : [...value];
    const out = items.slice(0, META_MAX_ITEMS).map((item) => toPlain(item, walk, depth) ?? null);
    if (items.length > META_MAX_ITEMS) out.push(`… ${items.length - META_MAX_ITEMS} more`);
    return out;
  }
  let entries: Array<[string, unknown]>;
  if (value instanceof Map) {
    entries = [...value.entries()].map(([key, child]) => [String(key), child]);
  } else if (value instanceof Error) {
    // Error's own message and stack are not enumerable; a pg error's code and detail are.
    entries = [
      ['name', read(value, 'name')],
      ['message', read(value, 'message', UNREADABLE)],
      ...Object.keys(value).map((key): [string, unknown] => [key, read(value, key, UNREADABLE)]),
      ['stack', read(value, 'stack')],
    ];
  } else {
    const toJSON = read(value, 'toJSON');
    if (typeof toJSON === 'function') return toPlain(toJSON.call(value), walk, depth);
    entries = Object.keys(value).map((key) => [key, read(value, key, UNREADABLE)]);
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries.slice(0, META_MAX_KEYS)) {
    const plain = toPlain(child, walk, depth);
    if (plain !== undefined) setKey(out, maskText(key, walk.redactor), plain);
  }
  if (entries.length > META_MAX_KEYS) setKey(out, '…', `${entries.length - META_MAX_KEYS} more`);
  return out;
}

function capStrings(value: unknown): unknown {
  if (typeof value === 'string') return truncate(value, META_MAX_STRING);
  if (Array.isArray(value)) return value.map(capStrings);
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) setKey(out, key, capStrings(child));
    return out;
  }
  return value;
}

// Keeps whole top-level keys, in order (attempt and error details first), while they fit; the
// keys that do not are named under `droppedKeys` beside `truncated: true`.
function fitMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const dropped: string[] = [];
  let size = 2;
  for (const [key, raw] of Object.entries(metadata)) {
    const value = capStrings(raw);
    const piece = JSON.stringify(key).length + (JSON.stringify(value) ?? 'null').length + 2;
    if (size + piece <= MAX_METADATA_LENGTH - META_MARKER_RESERVE) {
      setKey(out, key, value);
      size += piece;
    } else {
      dropped.push(key);
    }
  }
  if (dropped.length > 0) {
    setKey(out, 'truncated', true);
    setKey(
      out,
      'droppedKeys',
      dropped.slice(0, META_MAX_DROPPED_NAMES).map((key) => truncate(key, 64)),
    );
  }
  return out;
}
