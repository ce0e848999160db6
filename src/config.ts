import { z } from 'zod';
import packageJson from '../package.json' with { type: 'json' };

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const rate = () => z.coerce.number().min(0, 'from 0 to 1').max(1, 'from 0 to 1');

/**
 * A configured credential: `reveal()` gives the value, while JSON, `String()` and
 * `util.inspect` give `[REDACTED]`, so a log line or a dump that includes the configuration
 * cannot print it. A Sentry DSN needs this: its public key is a credential, yet neither its
 * variable name nor its shape (no password in the URL) marks it as one to the log's redaction.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The value itself, for the one place that uses it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[REDACTED]';
  }

  toJSON(): string {
    return '[REDACTED]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[REDACTED]';
  }
}

// http(s)://PUBLIC_KEY@HOST[/PATH]/PROJECT_ID, the shape Sentry and GlitchTip hand out.
const sentryDsn = z
  .url({ protocol: /^https?$/, message: 'a Sentry DSN: https://PUBLIC_KEY@HOST/PROJECT_ID' })
  .refine(
    (value) => {
      // A value that is no URL at all has its problem reported by z.url already.
      if (!URL.canParse(value)) return true;
      const url = new URL(value);
      return url.username !== '' && /\/[^/]+\/?$/.test(url.pathname);
    },
    { message: 'a Sentry DSN: https://PUBLIC_KEY@HOST/PROJECT_ID' },
  )
  .transform((value) => new Secret(value));

const schema = z.object({
  PORT: int(0, 65_535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  MESHHOOK_DATA_DIR: z.string().min(1).default('.meshhook'),
  MESHHOOK_EMBEDDED_PG_PORT: int(1, 65_535).optional(),
  MESHHOOK_DB_POOL_SIZE: int(2, 200).default(10),
  MESHHOOK_WEBHOOK_MAX_BYTES: int(1, 100 * 1024 * 1024).default(1024 * 1024),
  MESHHOOK_WORKER_CONCURRENCY: int(1, 1_000).default(16),
  MESHHOOK_LEASE_MS: int(500, 3_600_000).default(30_000),
  MESHHOOK_POLL_INTERVAL_MS: int(50, 600_000).default(5_000),
  MESHHOOK_STEP_TIMEOUT_MS: int(100, 86_400_000).default(300_000),
  MESHHOOK_SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  MESHHOOK_LOG_RETENTION_DAYS: int(1, 3_650).default(30),
  MESHHOOK_ERROR_RETENTION_DAYS: int(1, 3_650).default(30),
  MESHHOOK_ERROR_CAPTURE: z
    .enum(['on', 'off'], { message: 'on or off' })
    .default('on')
    .transform((v) => v === 'on'),
  MESHHOOK_LOG_STREAM_BUFFER_BYTES: int(4_096, 256 * 1024 * 1024).default(1024 * 1024),
  MESHHOOK_METRICS_MINUTE_RETENTION_DAYS: int(1, 90).default(2),
  MESHHOOK_METRICS_HOUR_RETENTION_DAYS: int(1, 3_650).default(90),
  MESHHOOK_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  MESHHOOK_SSE_HEARTBEAT_MS: int(100, 300_000).default(15_000),
  MESHHOOK_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  // Alerts: the transports (email and SMS need these; webhook and Slack channels do not), the
  // watchdog's limits, the log's retention, and the dispatchers' pace.
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, message: 'an smtp:// or smtps:// URL' })
    .transform((value) => new Secret(value))
    .optional(),
  MESHHOOK_ALERT_EMAIL_FROM: z.string().min(3).max(320).default('MeshHook <alerts@localhost>'),
  MESHHOOK_SMS_API_URL: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
  MESHHOOK_SMS_ACCOUNT_SID: z.string().min(1).max(100).optional(),
  MESHHOOK_SMS_AUTH_TOKEN: z
    .string()
    .min(1)
    .max(200)
    .transform((value) => new Secret(value))
    .optional(),
  MESHHOOK_ALERT_LOG_RETENTION_DAYS: int(1, 3_650).default(30),
  MESHHOOK_ALERT_POLL_INTERVAL_MS: int(100, 600_000).default(2_000),
  MESHHOOK_ALERT_THRESHOLD_INTERVAL_MS: int(100, 3_600_000).default(10_000),
  MESHHOOK_ALERT_WATCH_INTERVAL_MS: int(100, 3_600_000).default(10_000),
  MESHHOOK_ALERT_RETRY_BASE_MS: int(10, 600_000).default(1_000),
  MESHHOOK_ALERT_LEASE_MS: int(1_000, 3_600_000).default(60_000),
  MESHHOOK_WORKER_MISSING_AFTER_MS: int(1_000, 86_400_000).default(30_000),
  MESHHOOK_QUEUE_AGE_ALERT_MS: int(1_000, 86_400_000).default(300_000),
  MESHHOOK_RUN_TIMEOUT_MS: int(1_000, 30 * 86_400_000).default(86_400_000),
  SENTRY_DSN: sentryDsn.optional(),
  // The pages' own DSN, handed to them by GET /api/client-config; parsed here so a bad value
  // fails at start-up too.
  PUBLIC_SENTRY_DSN: sentryDsn.optional(),
  // Sentry's rules for both: no whitespace or slash, and a length it accepts.
  SENTRY_ENVIRONMENT: z
    .string()
    .regex(/^[^\s/]{1,64}$/, 'at most 64 characters, no spaces or slashes')
    .refine((v) => v !== 'None', 'Sentry refuses "None"')
    .default('production'),
  SENTRY_RELEASE: z
    .string()
    .regex(/^[^\s/\\]{1,200}$/, 'at most 200 characters, no spaces or slashes')
    .refine((v) => !['.', '..', 'latest'].includes(v), 'Sentry refuses ".", ".." and "latest"')
    .default(`meshhook@${packageJson.version}`),
  SENTRY_SAMPLE_RATE: rate().default(1),
  SENTRY_TRACES_SAMPLE_RATE: rate().default(0),
  MESHHOOK_SENTRY_EVENTS_PER_ISSUE: int(0, 100_000).default(10),
  MESHHOOK_SENTRY_ENABLED: z
    .enum(['on', 'off', 'true', 'false'], { message: 'on, off, true or false' })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'on' || v === 'true')),
});

/** The parsed environment. */
export type Config = z.output<typeof schema>;

/** A configuration that does not parse; the message lists every problem at once. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses the environment once, reporting every problem together. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const config = parsed.data;
  if (config.MESHHOOK_SENTRY_ENABLED === true && !config.SENTRY_DSN) {
    throw new ConfigError(['MESHHOOK_SENTRY_ENABLED: on needs SENTRY_DSN']);
  }
  return config;
}

/** How this process reports to Sentry; see sentrySettings. */
export interface SentrySettings {
  dsn: Secret;
  environment: string;
  release: string;
  /** Share of error events sent, 0 to 1. */
  sampleRate: number;
  /** Share of traces sent, 0 to 1; 0 loads no tracing at all. */
  tracesSampleRate: number;
  /** Whether the browser reports its errors to Sentry itself (PUBLIC_SENTRY_DSN is set). */
  browserReportsItself: boolean;
  /** Events of one issue sent at once, and per minute after that; 0: no limit. */
  eventsPerIssue: number;
}

/**
 * Sentry's settings when reporting to it is on, else undefined: SENTRY_DSN is set,
 * MESHHOOK_SENTRY_ENABLED is not off, and errors are captured at all (Sentry is sent what the
 * capture records, so with MESHHOOK_ERROR_CAPTURE off there is nothing to send).
 */
export function sentrySettings(config: Config): SentrySettings | undefined {
  if (!config.SENTRY_DSN || config.MESHHOOK_SENTRY_ENABLED === false) return undefined;
  if (!config.MESHHOOK_ERROR_CAPTURE) return undefined;
  return {
    dsn: config.SENTRY_DSN,
    environment: config.SENTRY_ENVIRONMENT,
    release: config.SENTRY_RELEASE,
    sampleRate: config.SENTRY_SAMPLE_RATE,
    tracesSampleRate: config.SENTRY_TRACES_SAMPLE_RATE,
    browserReportsItself: browserSentrySettings(config) !== undefined,
    eventsPerIssue: config.MESHHOOK_SENTRY_EVENTS_PER_ISSUE,
  };
}

/** How the web app's pages report to Sentry; see browserSentrySettings. */
export interface BrowserSentrySettings {
  /** PUBLIC_SENTRY_DSN: the one DSN that may reach a browser. */
  dsn: Secret;
  environment: string;
  release: string;
  /** Share of error events sent, 0 to 1 (SENTRY_SAMPLE_RATE, as for the server). */
  sampleRate: number;
}

/**
 * The pages' Sentry settings when they report to it, else undefined: PUBLIC_SENTRY_DSN is set,
 * and neither MESHHOOK_SENTRY_ENABLED nor MESHHOOK_ERROR_CAPTURE is off (each means "nothing
 * is sent" for the pages too). The environment, release and sample rate are the server's, so
 * both halves of one deployment land in the same Sentry release.
 */
export function browserSentrySettings(config: Config): BrowserSentrySettings | undefined {
  if (!config.PUBLIC_SENTRY_DSN || config.MESHHOOK_SENTRY_ENABLED === false) return undefined;
  if (!config.MESHHOOK_ERROR_CAPTURE) return undefined;
  return {
    dsn: config.PUBLIC_SENTRY_DSN,
    environment: config.SENTRY_ENVIRONMENT,
    release: config.SENTRY_RELEASE,
    sampleRate: config.SENTRY_SAMPLE_RATE,
  };
}
