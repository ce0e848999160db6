// The settings the pages read from the server at run time. The web app is built once and the
// same build serves every deployment, so nothing deployment-specific may be baked into it; and
// SvelteKit's $env/dynamic/public does not fit MeshHook's server: it reads process.env when
// the built handler loads, once per process, whereas MeshHook's settings are the parsed
// configuration the process was started with (src/config.ts), which need not be process.env
// (the tests and embedding programs pass their own) and may differ between two servers in one
// process. This answer is built from that configuration, so MESHHOOK_SENTRY_ENABLED and
// MESHHOOK_ERROR_CAPTURE apply to the pages too.

import { Hono } from 'hono';
import type { BrowserSentrySettings } from '../../config.ts';
import type { AppEnv, HttpDeps } from '../context.ts';

/** The answer of `GET /api/client-config`. */
export interface ClientConfig {
  /** Where the pages send their errors in Sentry's protocol, or null: they do not. */
  sentry: { dsn: string; environment: string; release: string; sample_rate: number } | null;
}

/**
 * The pages' configuration. Only PUBLIC_SENTRY_DSN is ever revealed here: SENTRY_DSN, the
 * server's, is not among the settings this is built from.
 */
export function clientConfigOf(sentry: BrowserSentrySettings | undefined): ClientConfig {
  if (!sentry) return { sentry: null };
  return {
    sentry: {
      dsn: sentry.dsn.reveal(),
      environment: sentry.environment,
      release: sentry.release,
      sample_rate: sentry.sampleRate,
    },
  };
}

/**
 * /api/client-config, unauthenticated: the sign-in pages report their errors too, and a public
 * DSN is public by design (it lets a page send events, nothing more). Never cached, so a
 * changed setting applies on the next page load.
 */
export function clientConfigRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const answer = clientConfigOf(deps.browserSentry);
  app.get('/', (c) => {
    c.header('cache-control', 'no-store');
    return c.json(answer);
  });
  return app;
}
