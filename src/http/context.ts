import type pg from 'pg';
import type { BrowserSentrySettings } from '../config.ts';
import type { Claims } from '../db/client.ts';
import type { ProjectRole } from '../db/queries/projects.ts';
import type { ErrorCapture } from '../engine/error-capture.ts';
import type { EventHub } from '../engine/event-hub.ts';
import type { Listener } from '../engine/listener.ts';
import type { LogHub } from '../engine/log-hub.ts';
import type { Notifier } from '../engine/notifier.ts';
import type { ProcessLog } from '../engine/process-log.ts';
import type { RunIntake } from './run-intake.ts';
import type { WebhookTargets } from './webhook-targets.ts';

/** What the HTTP layer needs from the process. */
export interface HttpDeps {
  pool: pg.Pool;
  listener: Listener;
  notifier: Notifier;
  log: ProcessLog;
  /** The process's capture function for errors (webhook rejections, faults of handlers). */
  errors: ErrorCapture;
  /** Base of the webhook URLs the API returns. */
  publicUrl: string;
  /** Largest webhook body accepted, in bytes. */
  webhookMaxBytes: number;
  /** The process's live-log fan-out. */
  logHub: LogHub;
  /** The process's live project events (finished runs, for dashboards). */
  eventHub: EventHub;
  /** Bytes a log stream's client may leave unread before the stream ends as lagged. */
  logStreamBufferBytes?: number;
  /** How long minute and hour metric buckets are kept (day buckets are kept for good). */
  metricsRetention?: { minuteDays: number; hourDays: number };
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** What this process's alert dispatcher has done (for /metrics). */
  alertDeliveries?: () => { sent: number; failed: number; retried: number };
  /** Where the pages report their errors to Sentry (PUBLIC_SENTRY_DSN), when they do. */
  browserSentry?: BrowserSentrySettings;
  now?: () => Date;
}

/** What the app builds once and its routes share. */
export interface AppState {
  webhookTargets: WebhookTargets;
  intake: RunIntake;
}

/** The authenticated caller of an /api request. */
export interface Caller {
  kind: 'api_key' | 'session';
  /** What RLS sees: the key, or the user and the project the request names. */
  claims: Claims;
  keyId?: string;
  userId?: string;
  /** The project the request acts in: the key's, or the one a session names. */
  projectId?: string;
  /** The caller's role in that project. */
  role?: ProjectRole;
  session?: { email: string; csrfToken: string };
}

/** Hono environment of the app. */
export interface AppEnv {
  Variables: { caller: Caller };
}
