import type pg from 'pg';
import type { Claims } from '../db/client.ts';
import type { ProjectRole } from '../db/queries/projects.ts';
import type { Listener } from '../engine/listener.ts';
import type { Notifier } from '../engine/notifier.ts';
import type { ProcessLog } from '../engine/process-log.ts';
import type { WebhookTargets } from './webhook-targets.ts';

/** What the HTTP layer needs from the process. */
export interface HttpDeps {
  pool: pg.Pool;
  listener: Listener;
  notifier: Notifier;
  log: ProcessLog;
  /** Base of the webhook URLs the API returns. */
  publicUrl: string;
  /** Largest webhook body accepted, in bytes. */
  webhookMaxBytes: number;
  /** Interval of SSE heartbeat comments. */
  sseHeartbeatMs?: number;
  now?: () => Date;
}

/** What the app builds once and its routes share. */
export interface AppState {
  webhookTargets: WebhookTargets;
}

/** The authenticated caller of an /api request. */
export interface Caller {
  claims: Claims;
  projectId: string;
  role: ProjectRole;
}

/** Hono environment of the app. */
export interface AppEnv {
  Variables: { caller: Caller };
}
