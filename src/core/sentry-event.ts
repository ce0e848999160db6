// MeshHook's captured errors as Sentry events. The event is built from the stored record, not
// from the thrown value: it is the redacted text MeshHook stores, its fingerprint groups Sentry's
// issues as MeshHook groups its own, and its id is the error event's id, so an event found in
// one tool is found in the other. Which errors go at all is decided here too.

import type { CapturedError, Severity } from './error-events.ts';

/** Sentry's levels, as MeshHook's severities map to them. */
export type SentryLevel = 'error' | 'warning' | 'info';

/** high → error, medium → warning, low → info. */
export const SENTRY_LEVELS: Readonly<Record<Severity, SentryLevel>> = {
  high: 'error',
  medium: 'warning',
  low: 'info',
};

/** A stack frame as Sentry takes it (what the SDK's stack parser returns). */
export interface SentryStackFrame {
  filename?: string;
  function?: string;
  module?: string;
  lineno?: number;
  colno?: number;
  abs_path?: string;
  in_app?: boolean;
}

/** The Sentry event of one captured error (the fields MeshHook sets; the SDK adds the rest). */
export interface MeshHookSentryEvent {
  /** The error event's id without dashes: Sentry's event ids are 32 hex characters. */
  event_id: string;
  /** Seconds since the epoch. */
  timestamp: number;
  level: SentryLevel;
  platform: 'node' | 'javascript';
  logger: 'meshhook';
  exception: {
    values: Array<{
      type: string;
      value: string;
      mechanism: { type: 'meshhook'; handled: boolean };
      stacktrace?: { frames: SentryStackFrame[] };
    }>;
  };
  /** MeshHook's fingerprint alone, so Sentry groups exactly as MeshHook does. */
  fingerprint: [string];
  tags: Record<string, string>;
  user?: { id: string };
  contexts: { meshhook: Record<string, unknown> };
  /** The error's metadata (attempt, error details, status, route …), redacted. */
  extra: Record<string, unknown>;
}

// Sentry cuts tag values at 200 characters.
const MAX_TAG_LENGTH = 200;
const UNHANDLED: ReadonlySet<string> = new Set(['uncaught_exception', 'unhandled_rejection']);

/**
 * The Sentry event of a captured error: the error type and the redacted message as the
 * exception (its stack parsed into frames by `parseStack`, the SDK's parser, when given), the
 * severity as the level, MeshHook's fingerprint as the fingerprint, the ids, source, type and
 * severity as tags, the acting user's id (nothing else of them), and the metadata as extra data.
 *
 * @example
 * Sentry.captureEvent(sentryEventOf(error, { parseStack: (s) => defaultStackParser(s) }));
 */
export function sentryEventOf(
  error: CapturedError,
  options: { parseStack?: (stack: string) => SentryStackFrame[] } = {},
): MeshHookSentryEvent {
  const frames =
    error.stack && options.parseStack ? safeFrames(error.stack, options.parseStack) : [];
  const tags: Record<string, string> = {
    source: error.source,
    error_type: error.errorType,
    severity: error.severity,
  };
  const ids = {
    project_id: error.projectId,
    workflow_id: error.workflowId,
    run_id: error.runId,
    node_id: error.nodeId,
  };
  for (const [key, value] of Object.entries(ids)) {
    if (value) tags[key] = value.slice(0, MAX_TAG_LENGTH);
  }
  return {
    event_id: error.id.replace(/-/g, '').toLowerCase(),
    timestamp: error.ts.getTime() / 1_000,
    level: SENTRY_LEVELS[error.severity],
    // A browser's report carries a browser's stack.
    platform: error.source === 'web' ? 'javascript' : 'node',
    logger: 'meshhook',
    exception: {
      values: [
        {
          type: error.errorType,
          value: error.message,
          mechanism: { type: 'meshhook', handled: !UNHANDLED.has(error.errorType) },
          ...(frames.length > 0 ? { stacktrace: { frames } } : {}),
        },
      ],
    },
    fingerprint: [error.fingerprint],
    tags,
    ...(error.userId ? { user: { id: error.userId } } : {}),
    contexts: {
      meshhook: { error_id: error.id, fingerprint: error.fingerprint, title: error.title },
    },
    extra: error.metadata,
  };
}

function safeFrames(
  stack: string,
  parse: (stack: string) => SentryStackFrame[],
): SentryStackFrame[] {
  try {
    return parse(stack);
  } catch {
    return [];
  }
}

/**
 * Whether an error is expected: its metadata's `status` is a 4xx (a refused webhook, a bad
 * request). MeshHook stores and counts those; they are not Sentry's business, since nothing in
 * MeshHook is broken when a client sends a bad signature.
 */
export function isExpectedError(error: CapturedError): boolean {
  const status = error.metadata.status;
  return typeof status === 'number' && status >= 400 && status <= 499;
}

/**
 * Whether a captured error goes to Sentry. Not: an expected one (isExpectedError); a step
 * attempt that another attempt follows (source `worker`, severity `low`), since the attempt
 * that ends the run is sent with the same fingerprint and a retry that succeeds needs nobody;
 * and, when the browser reports to Sentry itself, a browser's report (source `web`), which
 * would otherwise arrive twice.
 */
export function reportsToSentry(
  error: CapturedError,
  options: { browserReportsItself?: boolean } = {},
): boolean {
  if (isExpectedError(error)) return false;
  if (error.source === 'worker' && error.severity === 'low') return false;
  if (error.source === 'web' && options.browserReportsItself) return false;
  return true;
}
