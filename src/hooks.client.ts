// SvelteKit's hooks in the browser: an error thrown while a page loads or renders is caught by
// SvelteKit (it shows the error page) and never reaches the window's listeners, so it is
// reported here, like the uncaught ones the error reporter hears: to MeshHook, and to Sentry
// when the server names a DSN for the pages (PUBLIC_SENTRY_DSN).
import type { ClientInit, HandleClientError } from '@sveltejs/kit/hooks';
import { page } from '$app/state';
import { captureBrowserError, startBrowserSentry } from '#lib/browser-sentry.ts';
import { reportError } from '#lib/error-reporter.ts';
import { session } from '#lib/session.svelte.ts';

/**
 * Starts the pages' Sentry reporting without waiting for it: the app starts at once, and what
 * fails before the SDK is ready is held for it.
 */
export const init: ClientInit = () => {
  startBrowserSentry(() => ({
    href: window.location.href,
    projectId: session.projectId,
    userId: session.me?.user.id,
    route: page.route.id,
  }));
};

/** Reports errors of the pages' own code; SvelteKit's (a 404) and app errors are expected. */
export const handleError: HandleClientError = ({ kind, error }) => {
  if (kind !== 'unknown') return;
  reportError(error, 'browser_error');
  captureBrowserError(error);
};
