// SvelteKit's hooks on the server. The pages render in the browser (ssr = false), so the server
// side of the web app only serves their shell and assets; an error there is a fault of MeshHook's
// serving, and goes where the API's faults go: the process's error capture (source `api`), and
// through its sinks to Sentry when SENTRY_DSN is set. The capture comes with the request (see
// src/engine/web-app-errors.ts).
import type { HandleServerError } from '@sveltejs/kit/hooks';
// For App.Platform's `req`, the Node request, as adapter-node declares it.
import type {} from '@sveltejs/adapter-node';
import { errorCaptureOf } from './engine/web-app-errors.ts';

/**
 * Captures the web app's unexpected server errors. Expected ones are not: SvelteKit's own (a 404
 * for an unknown path, a malformed request), those thrown with `error(...)`, and failed
 * validations; they answer 4xx and nothing is broken.
 */
export const handleError: HandleServerError = ({ kind, error, event }) => {
  if (kind !== 'unknown') return;
  try {
    errorCaptureOf(event.platform?.req)?.capture(error, {
      source: 'api',
      // The route's pattern, not the path: an invitation's path holds its token.
      metadata: { method: event.request.method, route: event.route.id, component: 'web_app' },
    });
  } catch {
    // The capture never throws; should it, SvelteKit's error page must still be answered.
  }
};
