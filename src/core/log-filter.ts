import { LOG_LEVELS, type LogLevel } from './definition.ts';

/** What a log reader asks for; every field narrows. */
export interface LogFilter {
  runId?: string;
  workflowId?: string;
  /** Minimum level: `warn` means warn and error. */
  level?: LogLevel;
  /** Case-insensitive substring of the message. */
  q?: string;
}

/** The fields of a log line a filter looks at. */
export interface FilterableLog {
  runId: string;
  workflowId: string;
  level: LogLevel;
  message: string;
}

/** The levels at or above a minimum, for `level=warn` style filters. */
export function levelsFrom(min: LogLevel): LogLevel[] {
  return LOG_LEVELS.slice(LOG_LEVELS.indexOf(min));
}

/**
 * Decides a filter for one line in memory, as the SQL of the log reads decides it for stored
 * lines (`message ilike '%q%'`), so a stream's backlog and its live lines agree.
 * @example matchesLogFilter(line, { level: 'warn', q: 'timeout' })
 */
export function matchesLogFilter(line: FilterableLog, filter: LogFilter): boolean {
  return compileLogFilter(filter)(line, new LoweredMessage());
}

/**
 * The same decision, prepared once for a reader that tests many lines: the search text is
 * lowercased once, and each line's message at most once for all the readers that test it
 * (pass the same `lowered` memo to each).
 */
export function compileLogFilter(
  filter: LogFilter,
): (line: FilterableLog, lowered: LoweredMessage) => boolean {
  const q = filter.q?.toLowerCase();
  const min = filter.level === undefined ? 0 : RANK[filter.level];
  return (line, lowered) =>
    (filter.runId === undefined || line.runId === filter.runId) &&
    (filter.workflowId === undefined || line.workflowId === filter.workflowId) &&
    RANK[line.level] >= min &&
    (q === undefined || lowered.of(line).includes(q));
}

/** A line's lowercased message, computed on first use. */
export class LoweredMessage {
  #line: FilterableLog | undefined;
  #lower = '';

  /** The lowercased message of `line` (recomputed only when the line changes). */
  of(line: FilterableLog): string {
    if (this.#line !== line) {
      this.#line = line;
      this.#lower = line.message.toLowerCase();
    }
    return this.#lower;
  }
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
