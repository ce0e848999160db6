// Errors arrive as anything: strings, plain objects, proxies, objects whose getters throw,
// cycles, megabytes of text. describeError runs inside error handlers, so it reads them with
// the guarded reads here, which never throw, and copies them into bounded, redacted plain
// data with a marker wherever something was cut, unreadable or circular.

import type { ErrorContext, ErrorRedactor } from './error-events.ts';
import { REDACTED } from './redact.ts';

/** Longest metadata, in characters of its JSON serialisation. */
export const MAX_METADATA_LENGTH = 8_192;

const MAX_INNER_ERRORS = 10;
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

/** Whether a value is an object (arrays included) rather than a primitive or null. */
export function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/** A property read that survives throwing getters and revoked proxies. */
export function read(target: unknown, key: PropertyKey, fallback?: unknown): unknown {
  if (!isObject(target)) return undefined;
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch {
    return fallback;
  }
}

/** The text cut to at most max characters, an ellipsis marking the cut. */
export function truncate(text: string, max: number): string {
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

/**
 * Redacts, then cuts to max. A text beyond SCAN_CHARS is redacted on its first SCAN_CHARS only;
 * that cut may split a secret, leaving its start unmasked at the end of the head. That end lies
 * past max, and is cut away, unless masking shrank the head to within SCAN_SLACK of max (it held
 * hundreds of kilobytes of secrets); then the whole text is redacted instead.
 */
export function redactAndCut(text: string, max: number, redactor: ErrorRedactor): string {
  const cut = text.length > SCAN_CHARS;
  let masked = maskText(cut ? text.slice(0, SCAN_CHARS) : text, redactor);
  if (cut && masked.length < max + SCAN_SLACK) masked = maskText(text, redactor);
  return truncate(masked, max);
}

/** The text of a thrown value: its message (and an AggregateError's inner ones), else itself. */
export function rawMessage(value: unknown, redactor: ErrorRedactor, depth: number): string {
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

/** An error event's metadata: attempt, error details, the caller's keys; redacted, cut to size. */
export function metadataOf(
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
