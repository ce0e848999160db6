// The Sentry SDK, set up once per process. This module imports @sentry/node statically, so it
// is itself only ever imported dynamically, once Sentry is known to be on (src/instrument.ts,
// src/server.ts): with SENTRY_DSN unset the SDK is never loaded, which costs nothing (the import
// alone takes ~350 ms and installs nothing).
//
// What the SDK may do is chosen, not inherited: its default integrations are off and the few
// kept are listed below, so a new SDK release cannot start collecting something new. Sentry's
// process handlers (OnUncaughtException, OnUnhandledRejection) are among those left out: the
// process's own handlers (process-errors.ts) capture, store, send and decide whether to exit.

import * as Sentry from '@sentry/node';
import type { SentrySettings } from '../config.ts';
import type { CapturedError } from '../core/error-events.ts';
import { createIssueThrottle } from '../core/issue-throttle.ts';
import { createSentryScrubber } from '../core/scrub-sentry-event.ts';
import { reportsToSentry, sentryEventOf, type SentryStackFrame } from '../core/sentry-event.ts';
import type { ErrorSink } from './error-capture.ts';

/** The data collection of the SDK, at its minimum: technical context only. */
export const SENTRY_DATA_COLLECTION: NonNullable<Sentry.NodeOptions['dataCollection']> = {
  userInfo: false,
  cookies: false,
  httpHeaders: false,
  httpBodies: [],
  urlQueryParams: false,
  graphQL: { document: false, variables: false },
  genAI: { inputs: false, outputs: false },
  mcp: { inputs: false, outputs: false },
  databaseQueryData: false,
  queues: false,
  stackFrameVariables: false,
  frameContextLines: 0,
};

/** The process's Sentry: the sink the error capture sends to. */
export interface SentryReporter {
  sink: ErrorSink;
  settings: SentrySettings;
}

let started: SentryReporter | undefined;

/**
 * Initialises the SDK for this process, once: a second call with the same DSN returns the
 * same reporter, so src/instrument.ts (run before the CLI) and startProcess (which tests and
 * embedders call directly) share one init path. The SDK is global to the process, so a second
 * call with another DSN is refused.
 *
 * @example
 * const { startSentry } = await import('./engine/sentry.ts');
 * errors.addSink(startSentry(settings).sink);
 */
export function startSentry(settings: SentrySettings): SentryReporter {
  if (started) {
    if (started.settings.dsn.reveal() !== settings.dsn.reveal()) {
      throw new Error('Sentry is already set up in this process with another DSN');
    }
    return started;
  }
  const scrubber = createSentryScrubber();
  const tracing = settings.tracesSampleRate > 0;
  Sentry.init({
    dsn: settings.dsn.reveal(),
    environment: settings.environment,
    release: settings.release,
    sampleRate: settings.sampleRate,
    ...(tracing
      ? {
          tracesSampleRate: settings.tracesSampleRate,
          // No sentry-trace or baggage header on any outgoing request: the http_call steps
          // call the projects' own endpoints, and a run's recorded requests stay as written.
          tracePropagationTargets: [],
          beforeSendSpan: (span) => scrubber.span(span),
        }
      : {}),
    // Only tracing needs the SDK's module hooks; without it they cost each process some 300 ms
    // of CPU at start-up, rewriting modules (pg's query among them) as they load.
    enableRuntimeChannelInjection: tracing,
    defaultIntegrations: false,
    integrations: [
      // Runtime, OS and device: what a reader of a crash needs, nothing about anyone.
      Sentry.nodeContextIntegration(),
      // What the process printed before an error, through beforeBreadcrumb's redaction.
      Sentry.consoleIntegration(),
      ...(tracing
        ? [
            Sentry.httpIntegration(),
            Sentry.nativeNodeFetchIntegration(),
            ...Sentry.getAutoPerformanceIntegrations(),
          ]
        : []),
    ],
    dataCollection: SENTRY_DATA_COLLECTION,
    includeLocalVariables: false,
    // The default rewrites fetch's "fetch failed" messages, which MeshHook classifies by.
    enhanceFetchErrorMessages: false,
    // MeshHook's metadata nests deeper than the default 3 levels (error details, a response).
    normalizeDepth: 8,
    maxBreadcrumbs: 50,
    beforeSend: (event) => scrubber.event(event),
    beforeBreadcrumb: (breadcrumb) => scrubber.breadcrumb(breadcrumb),
  });
  const parseStack = (stack: string): SentryStackFrame[] => Sentry.defaultStackParser(stack);
  const throttle = createIssueThrottle({ perMinute: settings.eventsPerIssue });
  const sink: ErrorSink = {
    send(error: CapturedError) {
      if (!reportsToSentry(error, { browserReportsItself: settings.browserReportsItself })) return;
      // A crash is always sent: the process is about to go.
      const crash = error.errorType === 'uncaught_exception';
      const admitted = crash
        ? { send: true, suppressedBefore: 0 }
        : throttle.admit(error.fingerprint);
      if (!admitted.send) return;
      const event = sentryEventOf(error, { parseStack });
      if (admitted.suppressedBefore > 0) {
        event.extra = { ...event.extra, meshhook_events_not_sent: admitted.suppressedBefore };
      }
      Sentry.captureEvent(event, { event_id: event.event_id });
    },
    async flush(timeoutMs: number) {
      try {
        await Sentry.flush(Math.max(1, timeoutMs));
      } catch {
        // A transport that fails is the SDK's to count (client reports); nothing to do here.
      }
    },
  };
  started = { sink, settings };
  return started;
}

/** The host a DSN sends to, for the process log (the DSN itself holds the public key). */
export function sentryHost(settings: SentrySettings): string {
  return new URL(settings.dsn.reveal()).host;
}
