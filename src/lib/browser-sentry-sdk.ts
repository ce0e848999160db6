// The Sentry browser SDK, set up for the pages. This module imports @sentry/browser statically,
// so it is itself only ever imported dynamically, by browser-sentry.ts once the server has said
// the pages report to Sentry: without PUBLIC_SENTRY_DSN its chunk is never fetched.
//
// @sentry/browser rather than @sentry/sveltekit (11.7): it is built around its Vite plugin,
// which MeshHook does not use (no source-map uploads, no build-time wrappers); without the
// plugin it bundles its SvelteKit 2 tracing, which subscribes to `$app/stores`, a module that
// throws in SvelteKit 3; and it pins @sentry/node 11.7, a second copy beside the server's 11.12.
// What it would add here, the capture in handleError, is one call, made in hooks.client.ts.
//
// As on the server, what the SDK may do is chosen, not inherited: its default integrations are
// off and the few kept are listed below, so a new SDK release cannot start collecting something
// new. Left out: the request context (the full URL with its query string, the User-Agent and
// Referer headers), sessions, locale, and the wrapping of timers, listeners and toString.

import {
  breadcrumbsIntegration,
  captureException,
  consoleIntegration,
  dedupeIntegration,
  eventFiltersIntegration,
  globalHandlersIntegration,
  init,
  linkedErrorsIntegration,
  type BrowserOptions,
} from '@sentry/browser';
import { createSentryScrubber } from '../core/scrub-sentry-event.ts';
import type { BrowserSentry, ClientSentryConfig } from './browser-sentry.ts';
import { withPageContext, withStrippedUrls, type BrowserEventContext } from './sentry-context.ts';

/** The SDK's data collection, at its minimum: no user data, cookies, headers or query strings. */
export const BROWSER_DATA_COLLECTION: NonNullable<BrowserOptions['dataCollection']> = {
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

/**
 * Initialises the SDK for this page, with the page's context read as each event is sent; each
 * event and breadcrumb then passes through MeshHook's scrubber (src/core/scrub-sentry-event.ts).
 *
 * @example
 * const { initBrowserSentry } = await import('./browser-sentry-sdk.ts');
 * initBrowserSentry(config.sentry, () => ({ href: location.href, projectId, userId }));
 */
export function initBrowserSentry(
  config: ClientSentryConfig,
  context: () => BrowserEventContext,
): BrowserSentry {
  const scrubber = createSentryScrubber();
  init({
    dsn: config.dsn,
    environment: config.environment,
    release: config.release,
    sampleRate: config.sample_rate,
    defaultIntegrations: false,
    integrations: [
      // Drops the noise MeshHook's own reporter drops too (a cross-origin "Script error.").
      eventFiltersIntegration(),
      // Uncaught errors and unhandled rejections.
      globalHandlersIntegration(),
      // An error's causes, as exceptions of the same event.
      linkedErrorsIntegration(),
      dedupeIntegration(),
      // What led up to an error (clicks, fetches, navigations, console lines), through
      // beforeBreadcrumb below.
      breadcrumbsIntegration({ dom: true, fetch: true, xhr: true, history: true, sentry: true }),
      consoleIntegration(),
    ],
    ignoreErrors: [/^ResizeObserver loop/],
    dataCollection: BROWSER_DATA_COLLECTION,
    maxBreadcrumbs: 50,
    beforeSend: (event) => scrubber.event(withPageContext(event, context())),
    beforeBreadcrumb: (breadcrumb) => scrubber.breadcrumb(withStrippedUrls(breadcrumb)),
  });
  return {
    capture(error, mechanism) {
      captureException(error, { mechanism: { type: mechanism, handled: false } });
    },
  };
}
