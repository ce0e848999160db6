import { Hono } from 'hono';
import type { AppEnv, HttpDeps } from '../context.ts';
import { alertChannelRoutes } from './alert-channels.ts';
import { alertLogRoutes } from './alert-log.ts';
import { alertRuleRoutes } from './alert-rules.ts';
import { alertSettingsRoutes } from './alert-settings.ts';
import { alertSilenceRoutes } from './alert-silences.ts';
import { alertTriggerRoutes } from './alert-trigger.ts';

/**
 * /api/alerts: channels, rules, silences, the delivery log, the dashboard's settings forms and
 * the internal trigger, each acting in the caller's project under row-level security.
 */
export function alertRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  app.route('/channels', alertChannelRoutes(deps));
  app.route('/rules', alertRuleRoutes(deps));
  app.route('/silences', alertSilenceRoutes(deps));
  app.route('/log', alertLogRoutes(deps));
  app.route('/settings', alertSettingsRoutes(deps));
  app.route('/trigger', alertTriggerRoutes(deps));
  return app;
}
