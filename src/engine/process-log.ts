import { createRedactor } from '../core/redact.ts';

/** The process's own operational log (not run logs): JSON lines on stderr, redacted. */
export interface ProcessLog {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A ProcessLog writing lines at or above `level` to the given sink (stderr by default). */
export function createProcessLog(
  options: { level?: Level; sink?: (line: string) => void; base?: Record<string, unknown> } = {},
): ProcessLog {
  const min = LEVELS.indexOf(options.level ?? 'info');
  const sink = options.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redactor = createRedactor();
  const write =
    (level: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS.indexOf(level) < min) return;
      sink(
        JSON.stringify({
          ts: new Date().toISOString(),
          level,
          msg: redactor.text(message),
          ...options.base,
          ...redactor.value(fields),
        }),
      );
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A log that drops everything, for tests and benchmarks. */
export const silentLog: ProcessLog = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
