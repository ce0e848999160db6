// Every component turns a failure into one stored error event here, so the rules that decide an
// issue's type, severity and grouping (error-fingerprint.ts) apply in one place. Two properties
// matter most. The record is redacted before anything is derived from it: the fingerprint and the
// title come from the redacted text, so a secret can neither leak through them nor split one
// issue into many. And describeError never throws: it runs inside error handlers, where a second
// failure would lose the first; safe-value.ts reads and copies what it is given without throwing.

import { randomUUID } from 'node:crypto';
import { fingerprintOf, inAppFrames, MAX_STACK_LENGTH } from './error-fingerprint.ts';
import { createRedactor } from './redact.ts';
import {
  isObject,
  MAX_METADATA_LENGTH,
  metadataOf,
  rawMessage,
  read,
  redactAndCut,
  truncate,
} from './safe-value.ts';

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
/** The stack and metadata limits live with the code that applies them. */
export { MAX_METADATA_LENGTH, MAX_STACK_LENGTH };
export const MAX_TITLE_LENGTH = 200;
/** Longest stored message, in characters. */
export const MAX_MESSAGE_LENGTH = 4_000;

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

function sourceOf(context: unknown): ErrorSource {
  const source = isObject(context) ? read(context, 'source') : undefined;
  return (ERROR_SOURCES as readonly unknown[]).includes(source)
    ? (source as ErrorSource)
    : 'system';
}

function idOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function safeCall<T>(fn: (() => T) | undefined, fallback: () => T): T {
  if (fn === undefined) return fallback();
  try {
    return fn();
  } catch {
    return fallback();
  }
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
