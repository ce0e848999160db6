import type { LogLevel } from '../core/definition.ts';

/** A log line as the API sends it. */
export interface LogLine {
  id: string;
  run_id: string;
  workflow_id: string;
  node_id: string | null;
  ts: string;
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

const COLORS: Partial<Record<LogLevel, string>> = {
  error: '\x1b[31m',
  warn: '\x1b[33m',
  debug: '\x1b[2m',
};
const RESET = '\x1b[0m';

/**
 * Whether output gets colours: `FORCE_COLOR` decides when it is set (`0` or `false` turn them
 * off), as in Node.js itself; otherwise a terminal, unless `NO_COLOR` is set or `TERM` is dumb.
 */
export function shouldColor(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR) return false;
  return isTTY && env.TERM !== 'dumb';
}

/**
 * One log line for people: time, level, run (when lines of several runs mix), node, message
 * and fields, on one line.
 */
export function formatLogLine(
  line: LogLine,
  options: { color: boolean; showRun: boolean },
): string {
  const parts = [line.ts, line.level.toUpperCase().padEnd(5)];
  if (options.showRun) parts.push(line.run_id.slice(0, 8));
  if (line.node_id) parts.push(`[${line.node_id}]`);
  parts.push(line.message);
  if (line.fields && Object.keys(line.fields).length > 0) parts.push(JSON.stringify(line.fields));
  const text = escapeControls(parts.join(' '));
  const color = options.color ? COLORS[line.level] : undefined;
  return color ? `${color}${text}${RESET}` : text;
}

// Messages come from webhook payloads: a newline would break "one line per line", and an
// escape sequence would reach the terminal of whoever reads the logs.
function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
