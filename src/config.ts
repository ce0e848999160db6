import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
  return parsed.data;
}
