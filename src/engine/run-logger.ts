import type { LogLevel } from '../core/definition.ts';
import type { NewRunLog } from '../db/queries/run-logs.ts';

/** Redacts a log line's message and fields before it is kept. */
export interface LineRedactor {
  text(s: string): string;
  value<T>(v: T): T;
}

/**
 * The one logger steps write through. Lines are redacted as they are written and held until the
 * step settles, then committed in the same transaction as the step's result: a step's lines
 * exist exactly when its outcome does.
 */
export class RunLogger {
  readonly #lines: NewRunLog[] = [];
  readonly #nodeId: string | null;
  readonly #redactor: LineRedactor;
  readonly #now: () => Date;

  constructor(options: { nodeId: string | null; redactor: LineRedactor; now?: () => Date }) {
    this.#nodeId = options.nodeId;
    this.#redactor = options.redactor;
    this.#now = options.now ?? (() => new Date());
  }

  /** Records one line. */
  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.#lines.push({
      nodeId: this.#nodeId,
      ts: this.#now(),
      level,
      message: this.#redactor.text(message),
      fields: this.#redactor.value(fields),
    });
  }

  debug = (message: string, fields?: Record<string, unknown>) => this.log('debug', message, fields);
  info = (message: string, fields?: Record<string, unknown>) => this.log('info', message, fields);
  warn = (message: string, fields?: Record<string, unknown>) => this.log('warn', message, fields);
  error = (message: string, fields?: Record<string, unknown>) => this.log('error', message, fields);

  /** The lines written so far, to commit with the step. */
  get lines(): readonly NewRunLog[] {
    return this.#lines;
  }
}
