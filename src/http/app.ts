import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isMigrated } from '../db/migrate.ts';
import { alertRoutes } from './api/alerts.ts';
import { errorStreamRoutes } from './api/error-stream.ts';
import { errorEventRoutes } from './api/error-events.ts';
import { errorMetricRoutes } from './api/error-metrics.ts';
import { errorRoutes } from './api/errors.ts';
import { metricRoutes } from './api/metrics.ts';
import { projectLogRoutes, runLogRoutes } from './api/logs.ts';
import { runRoutes } from './api/runs.ts';
import { workflowRoutes } from './api/workflows.ts';
import { AppError } from './app-error.ts';
import { authRoutes } from './api/auth.ts';
import { clientConfigRoutes } from './api/client-config.ts';
import { projectRoutes } from './api/projects.ts';
import { authenticate, requireProject } from './auth.ts';
import type { AppEnv, Caller, HttpDeps } from './context.ts';
import { prometheusRoutes } from './prometheus.ts';
import { createRunIntake } from './run-intake.ts';
import { WebhookTargets } from './webhook-targets.ts';
import { webhookRoutes } from './webhook.ts';

/**
 * Connection failures and server shutdowns: the request did nothing and can be retried, which
 * a 503 says and a 500 does not.
 */
function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('08') || // connection exceptions
    code === '57P01' || // admin shutdown
    code === '57P02' || // crash shutdown
    code === '57P03' || // cannot connect now
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT'
  );
}

/** Largest /api request body: a definition of 500 nodes fits with room to spare. */
const API_MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * The HTTP API, webhook intake and health endpoints, on standard Request/Response. Every error
 * leaves through one handler as `{"error":{"code","message","details"}}`.
 */
export function createApp(deps: HttpDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.onError((error, c) => {
    if (error instanceof AppError) return c.json(error.toJSON(), error.status);
    // The route pattern, not the path: a webhook path holds its URL's secret token.
    const where = { method: c.req.method, route: c.req.routePath };
    const caller = c.get('caller') as Caller | undefined;
    deps.errors.capture(error, {
      source: c.req.path.startsWith('/hooks/') ? 'webhook' : 'api',
      projectId: caller?.projectId ?? null,
      userId: caller?.userId ?? null,
      ...(isDatabaseUnavailable(error) ? { errorType: 'db_error' } : {}),
      metadata: where,
    });
    if (isDatabaseUnavailable(error)) {
      deps.log.warn('database unavailable', { ...where, error: String(error) });
      c.header('retry-after', '5');
      const unavailable = new AppError(
        'service_unavailable',
        'the database is unavailable; retry shortly',
      );
      return c.json(unavailable.toJSON(), 503);
    }
    deps.log.error('unhandled error in request', {
      ...where,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return c.json(new AppError('internal', 'internal error').toJSON(), 500);
  });
  app.notFound((c) =>
    c.json(new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`).toJSON(), 404),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ready = await isMigrated(deps.pool).catch(() => false);
    if (!ready) throw new AppError('service_unavailable', 'database not reachable or not migrated');
    return c.json({ status: 'ready' });
  });
  app.route('/metrics', prometheusRoutes(deps));

  const state = {
    webhookTargets: new WebhookTargets(deps.pool, deps.listener),
    intake: createRunIntake(deps),
  };
  app.route('/hooks', webhookRoutes(deps, state));

  const api = new Hono<AppEnv>();
  api.use(
    '*',
    bodyLimit({
      maxSize: API_MAX_BODY_BYTES,
      onError: () => {
        throw new AppError(
          'payload_too_large',
          `API bodies are limited to ${API_MAX_BODY_BYTES} bytes`,
          {
            limit_bytes: API_MAX_BODY_BYTES,
          },
        );
      },
    }),
  );
  api.route('/auth', authRoutes(deps));
  api.route('/client-config', clientConfigRoutes(deps));
  api.use('*', authenticate(deps));
  api.route('/projects', projectRoutes(deps));
  api.use('/workflows/*', requireProject);
  api.use('/runs/*', requireProject);
  api.use('/logs', requireProject);
  api.use('/logs/*', requireProject);
  api.use('/metrics/*', requireProject);
  api.route('/workflows', workflowRoutes(deps, state));
  api.route('/runs', runRoutes(deps));
  api.route('/runs', runLogRoutes(deps));
  api.route('/logs', projectLogRoutes(deps));
  api.route('/metrics', metricRoutes(deps));
  // Before the issue routes, whose /errors/:id would take "stream" for an id.
  api.use('/errors/*', requireProject);
  api.route('/errors', errorStreamRoutes(deps));
  api.use('/errors', requireProject);
  api.use('/error-metrics', requireProject);
  api.use('/error-events', requireProject);
  api.route('/errors', errorRoutes(deps));
  api.route('/error-metrics', errorMetricRoutes(deps));
  api.route('/error-events', errorEventRoutes(deps));
  api.use('/alerts/*', requireProject);
  api.route('/alerts', alertRoutes(deps));
  app.route('/api', api);
  return app;
}
