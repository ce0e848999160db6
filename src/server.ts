import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { getRequestListener, type ServerType } from '@hono/node-server';
import type pg from 'pg';
import { browserSentrySettings, sentrySettings, type Config } from './config.ts';
import { createPool } from './db/client.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { Alerter } from './engine/alerts/alerter.ts';
import { createChannelSenders } from './engine/alerts/channels/index.ts';
import { ErrorCapture, type ErrorSink } from './engine/error-capture.ts';
import { createListener, type Listener } from './engine/listener.ts';
import { LogHub } from './engine/log-hub.ts';
import { Notifier } from './engine/notifier.ts';
import type { ProcessLog } from './engine/process-log.ts';
import { Worker } from './engine/worker.ts';
import { EventHub } from './engine/event-hub.ts';
import { createApp } from './http/app.ts';
import { encodeLogEvent } from './http/sse.ts';
import { loadWebApp, routeRequests } from './http/web-app.ts';

/** Which parts a process runs: `start` is both. */
export interface Roles {
  web: boolean;
  worker: boolean;
}

/** A running MeshHook process. */
export interface Running {
  pool: pg.Pool;
  /** Where the web server listens, when it runs. */
  url?: string;
  worker?: Worker;
  /** The live-log fan-out, when the web server runs. */
  logHub?: LogHub;
  eventHub?: EventHub;
  /** The process's error capture. */
  errors: ErrorCapture;
  /** The process's alerts: evaluation, delivery, thresholds and the watchdog. */
  alerter: Alerter;
  stop(): Promise<void>;
}

/** The database to use: DATABASE_URL, or the embedded PostgreSQL under the data directory. */
export async function openDatabase(
  config: Config,
  log: ProcessLog,
): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL };
  log.info('DATABASE_URL is not set: using the embedded PostgreSQL', {
    data_dir: config.MESHHOOK_DATA_DIR,
  });
  const embedded = await startEmbeddedPostgres({
    dataDir: config.MESHHOOK_DATA_DIR,
    ...(config.MESHHOOK_EMBEDDED_PG_PORT ? { port: config.MESHHOOK_EMBEDDED_PG_PORT } : {}),
    onLog: (line) => log.debug(line, { component: 'postgres' }),
  });
  return { url: embedded.url, embedded };
}

/**
 * Stops accepting connections and gives requests in progress a moment; then closes what is
 * left, since a log stream stays open until its client leaves and would hold shutdown forever.
 */
async function closeServer(server: ServerType): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const http = server as ServerType & {
    closeIdleConnections?(): void;
    closeAllConnections?(): void;
  };
  // Connections turn idle as their last answers finish (log streams end first): close them
  // as they do, rather than waiting for the deadline.
  http.closeIdleConnections?.();
  const idle = setInterval(() => http.closeIdleConnections?.(), 50);
  const timer = setTimeout(() => http.closeAllConnections?.(), 2_000);
  await closed;
  clearInterval(idle);
  clearTimeout(timer);
}

/**
 * The error capture's sinks: Sentry when it is configured. Its SDK is initialised here unless
 * src/instrument.ts did it already (the CLI loads that first); both go through startSentry,
 * which sets the SDK up once. Without SENTRY_DSN, @sentry/node is not even loaded.
 */
async function startSinks(config: Config, log: ProcessLog): Promise<ErrorSink[]> {
  const settings = sentrySettings(config);
  if (!settings) return [];
  const { startSentry, sentryHost } = await import('./engine/sentry.ts');
  const { sink } = startSentry(settings);
  log.info('sending errors to Sentry', {
    host: sentryHost(settings),
    environment: settings.environment,
    release: settings.release,
    sample_rate: settings.sampleRate,
    traces_sample_rate: settings.tracesSampleRate,
  });
  return [sink];
}

/** Starts the roles asked for against one database, after applying pending migrations. */
export async function startProcess(options: {
  config: Config;
  roles: Roles;
  log: ProcessLog;
}): Promise<Running> {
  const { config, roles, log } = options;
  const sinks = await startSinks(config, log);
  const database = await openDatabase(config, log);
  const pool = createPool({ connectionString: database.url, max: config.MESHHOOK_DB_POOL_SIZE });
  const notifier = new Notifier(pool, (error) =>
    log.warn('sending notifications failed', { error: String(error) }),
  );
  const errors = new ErrorCapture({
    pool,
    notifier,
    log,
    enabled: config.MESHHOOK_ERROR_CAPTURE,
    sinks,
  });
  let listener: Listener | undefined;
  let worker: Worker | undefined;
  let server: ServerType | undefined;
  let logHub: LogHub | undefined;
  let eventHub: EventHub | undefined;
  let alerter: Alerter | undefined;
  const senders = createChannelSenders({
    ...(config.SMTP_URL ? { smtpUrl: config.SMTP_URL.reveal() } : {}),
    emailFrom: config.MESHHOOK_ALERT_EMAIL_FROM,
    ...(config.MESHHOOK_SMS_ACCOUNT_SID && config.MESHHOOK_SMS_AUTH_TOKEN
      ? {
          sms: {
            apiUrl: config.MESHHOOK_SMS_API_URL,
            accountSid: config.MESHHOOK_SMS_ACCOUNT_SID,
            authToken: config.MESHHOOK_SMS_AUTH_TOKEN.reveal(),
          },
        }
      : {}),
  });
  const stop = async () => {
    // Open log streams end first (their clients reconnect elsewhere), so closing is quick.
    logHub?.stop();
    eventHub?.stop();
    if (server) await closeServer(server);
    await alerter?.stop();
    senders.close();
    await worker?.stop({ graceMs: config.MESHHOOK_SHUTDOWN_GRACE_MS });
    await errors.flush();
    await notifier.flush();
    await listener?.close();
    await pool.end();
    await database.embedded?.stop();
  };

  try {
    const applied = await migrate(pool);
    if (applied.length > 0) log.info('applied migrations', { migrations: applied });
    listener = await createListener({
      connectionString: database.url,
      onError: (error) => log.warn('listener connection error', { error: error.message }),
    });

    if (roles.worker) {
      worker = new Worker({
        pool,
        listener,
        notifier,
        log,
        errors,
        concurrency: config.MESHHOOK_WORKER_CONCURRENCY,
        leaseMs: config.MESHHOOK_LEASE_MS,
        pollIntervalMs: config.MESHHOOK_POLL_INTERVAL_MS,
        stepTimeoutMs: config.MESHHOOK_STEP_TIMEOUT_MS,
        logRetentionDays: config.MESHHOOK_LOG_RETENTION_DAYS,
        errorRetentionDays: config.MESHHOOK_ERROR_RETENTION_DAYS,
        alertLogRetentionDays: config.MESHHOOK_ALERT_LOG_RETENTION_DAYS,
        metricsRetention: {
          minuteDays: config.MESHHOOK_METRICS_MINUTE_RETENTION_DAYS,
          hourDays: config.MESHHOOK_METRICS_HOUR_RETENTION_DAYS,
        },
      });
      worker.start();
      log.info('worker started', {
        worker_id: worker.id,
        concurrency: config.MESHHOOK_WORKER_CONCURRENCY,
      });
    }

    let url: string | undefined;
    if (roles.web) {
      // The app is built once the port is known, so PORT=0 yields working webhook URLs too.
      const built: { app?: ReturnType<typeof createApp> } = {};
      const api = getRequestListener((request, env) => built.app!.fetch(request, env), {
        hostname: config.HOST,
      });
      // The web app (SvelteKit, built into build/) shares the port; without a build, the API
      // serves alone.
      const webApp = await loadWebApp();
      if (!webApp) log.warn('the web app is not built (npm run build): serving the API only');
      const http = createServer(
        routeRequests({ api: (req, res) => void api(req, res), webApp, errors }),
      );
      server = http;
      const port = await new Promise<number>((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.PORT, config.HOST, () => {
          const address = http.address();
          resolve(typeof address === 'object' && address ? address.port : config.PORT);
        });
      });
      const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
      url = `http://${host}:${port}`;
      const publicUrl = config.PUBLIC_URL ?? url;
      logHub = new LogHub({
        pool,
        listener,
        log,
        encode: encodeLogEvent,
        heartbeatMs: config.MESHHOOK_SSE_HEARTBEAT_MS,
      });
      logHub.start();
      eventHub = new EventHub({
        pool,
        listener,
        log,
        heartbeatMs: config.MESHHOOK_SSE_HEARTBEAT_MS,
      });
      eventHub.start();
      built.app = createApp({
        pool,
        listener,
        notifier,
        log,
        errors,
        logHub,
        eventHub,
        logStreamBufferBytes: config.MESHHOOK_LOG_STREAM_BUFFER_BYTES,
        metricsRetention: {
          minuteDays: config.MESHHOOK_METRICS_MINUTE_RETENTION_DAYS,
          hourDays: config.MESHHOOK_METRICS_HOUR_RETENTION_DAYS,
        },
        publicUrl,
        webhookMaxBytes: config.MESHHOOK_WEBHOOK_MAX_BYTES,
        metricsToken: config.MESHHOOK_METRICS_TOKEN,
        browserSentry: browserSentrySettings(config),
        alertDeliveries: () => alerter?.counts ?? { sent: 0, failed: 0, retried: 0 },
      });
      log.info('web server listening', { url, public_url: publicUrl });
    }

    // Every process runs the alerts, so they flow while any process lives.
    const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
    alerter = new Alerter({
      pool,
      listener,
      notifier,
      log,
      senders,
      id: worker?.id ?? `${hostname()}:${process.pid}:web`,
      publicUrl: config.PUBLIC_URL ?? url ?? `http://${host}:${config.PORT}`,
      pollIntervalMs: config.MESHHOOK_ALERT_POLL_INTERVAL_MS,
      thresholdIntervalMs: config.MESHHOOK_ALERT_THRESHOLD_INTERVAL_MS,
      watchIntervalMs: config.MESHHOOK_ALERT_WATCH_INTERVAL_MS,
      retryBaseMs: config.MESHHOOK_ALERT_RETRY_BASE_MS,
      leaseMs: config.MESHHOOK_ALERT_LEASE_MS,
      watchLimits: {
        workerMissingAfterMs: config.MESHHOOK_WORKER_MISSING_AFTER_MS,
        queueAgeMs: config.MESHHOOK_QUEUE_AGE_ALERT_MS,
        runTimeoutMs: config.MESHHOOK_RUN_TIMEOUT_MS,
      },
    });
    alerter.start();
    return {
      alerter,
      pool,
      errors,
      stop,
      ...(url ? { url } : {}),
      ...(worker ? { worker } : {}),
      ...(logHub ? { logHub } : {}),
      ...(eventHub ? { eventHub } : {}),
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
