// SvelteKit's hooks in the browser: an error thrown while a page loads or renders is caught by
// SvelteKit (it shows the error page) and never reaches the window's listeners, so it is
// reported here, like the uncaught ones the error reporter hears.
import type { HandleClientError } from '@sveltejs/kit/hooks';
import { reportError } from '#lib/error-reporter.ts';

/** Reports errors of the pages' own code; SvelteKit's (a 404) and app errors are expected. */
export const handleError: HandleClientError = ({ kind, error }) => {
  if (kind === 'unknown') reportError(error, 'browser_error');
};
