// How repeats of one failure find each other. Error events with one fingerprint are one issue,
// and the fingerprint is taken over what stays the same when a failure recurs: its source, type,
// workflow and node, its message with ids, numbers and times replaced, and the frames of
// MeshHook's own code without line numbers. So neither another run nor an unrelated edit above a
// function splits an issue.

import { createHash } from 'node:crypto';
import type { ErrorSource } from './error-events.ts';

/** Longest stored stack, in characters (16 KiB of ASCII). */
export const MAX_STACK_LENGTH = 16_384;

const MAX_FRAMES = 5;

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
