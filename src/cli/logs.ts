import { LOG_LEVELS, type LogLevel } from '../core/definition.ts';
import { err, ok, type Result } from '../core/result.ts';
import {
  apiHeaders,
  describeFailure,
  describeRefusal,
  readApiTarget,
  type ApiTarget,
} from './api-client.ts';
import { followLogs } from './follow-logs.ts';
import { formatLogLine, shouldColor, type LogLine } from './format-log-line.ts';

/** The flags of `meshhook logs`, as parsed from the command line. */
export interface LogsFlags {
  run?: string;
  workflow?: string;
  level?: string;
  grep?: string;
  tail?: string;
  follow?: boolean;
  json?: boolean;
}

/** The usage line of `meshhook logs`. */
export const LOGS_USAGE =
  'Usage: meshhook logs [--run ID] [--workflow SLUG] [--level L] [--grep TEXT] [--tail N] [--follow] [--json]';

const DEFAULT_TAIL = 100;
/** The API's largest page. */
const PAGE = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What to read, checked before any request. */
interface LogsQuery {
  target: ApiTarget;
  run?: string;
  /** The list's path without its query: one run's, or the project's. */
  path: string;
  /** Filters every request carries. */
  filters: URLSearchParams;
  /** The project-wide list and stream start with the last `tail` lines. */
  tail?: number;
}

/**
 * `meshhook logs`: prints log lines read from the HTTP API, or follows them live with
 * `--follow`; returns the exit code (2 for a usage error, 1 when the API refused or failed).
 */
export async function logsCommand(
  flags: LogsFlags,
  positionals: string[] = [],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const query = readQuery(flags, positionals, env);
  if (!query.ok) {
    console.error(query.error);
    return 2;
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.on('SIGINT', onSigint);
  // A reader that goes away (`meshhook logs | head`) ends the command, not an error.
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stop.abort();
  };
  process.stdout.on('error', onStdoutError);

  const color = !flags.json && shouldColor(env, process.stdout.isTTY === true);
  const print = (line: LogLine) => {
    if (stop.signal.aborted) return;
    const text = flags.json
      ? JSON.stringify(line)
      : formatLogLine(line, { color, showRun: query.value.run === undefined });
    process.stdout.write(`${text}\n`);
  };
  const warn = (message: string) => process.stderr.write(`meshhook logs: ${message}\n`);
  try {
    if (flags.follow) {
      return await followLogs({
        target: query.value.target,
        path: `${query.value.path}/stream?${streamParams(query.value)}`,
        onLine: print,
        warn,
        signal: stop.signal,
      });
    }
    const listed = await listLogs(query.value, print, stop.signal);
    if (!listed.ok && !stop.signal.aborted) {
      warn(listed.error);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.stdout.off('error', onStdoutError);
  }
}

function readQuery(
  flags: LogsFlags,
  positionals: string[],
  env: Record<string, string | undefined>,
): Result<LogsQuery, string> {
  const usage = (problem: string) => err(`${problem}\n${LOGS_USAGE}`);
  if (positionals.length > 0) return usage(`unexpected argument: ${positionals.join(' ')}`);
  const level = flags.level?.toLowerCase();
  if (level !== undefined && !LOG_LEVELS.includes(level as LogLevel)) {
    return usage(`--level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  }
  if (flags.run !== undefined && !UUID.test(flags.run)) {
    return usage(`--run takes a run id (a UUID), not ${JSON.stringify(flags.run)}`);
  }
  if (flags.run !== undefined && flags.workflow !== undefined) {
    return usage('--run and --workflow do not go together: a run belongs to one workflow');
  }
  if (flags.run !== undefined && flags.tail !== undefined) {
    return usage(
      '--tail applies to the project-wide logs; with --run every line of the run is shown',
    );
  }
  if (flags.workflow !== undefined && flags.workflow.trim() === '') {
    return usage('--workflow takes a workflow slug or id');
  }
  if (flags.grep !== undefined && flags.grep === '') return usage('--grep takes a text to match');
  if (flags.tail !== undefined && !/^\d{1,9}$/.test(flags.tail)) {
    return usage(`--tail takes a number of lines, not ${JSON.stringify(flags.tail)}`);
  }
  const target = readApiTarget(env);
  if (!target.ok) return err(target.error);

  const filters = new URLSearchParams();
  if (flags.workflow !== undefined) filters.set('workflow', flags.workflow.trim());
  if (level !== undefined) filters.set('level', level);
  if (flags.grep !== undefined) filters.set('q', flags.grep);
  if (flags.run !== undefined) {
    const run = flags.run.toLowerCase();
    return ok({ target: target.value, run, path: `/api/runs/${run}/logs`, filters });
  }
  const tail = flags.tail === undefined ? DEFAULT_TAIL : Number(flags.tail);
  return ok({ target: target.value, path: '/api/logs', filters, tail });
}

function streamParams(query: LogsQuery): URLSearchParams {
  const params = new URLSearchParams(query.filters);
  if (query.tail !== undefined) params.set('tail', String(query.tail));
  return params;
}

/**
 * Prints every matching line, page by page. The first page of the project-wide list is the
 * start of its last `tail` lines; the pages after it continue from `next_cursor`.
 */
async function listLogs(
  query: LogsQuery,
  print: (line: LogLine) => void,
  signal: AbortSignal,
): Promise<Result<void, string>> {
  let after: string | undefined;
  for (;;) {
    const params = new URLSearchParams(query.filters);
    params.set('limit', String(PAGE));
    if (after !== undefined) params.set('after', after);
    else if (query.tail !== undefined) params.set('tail', String(query.tail));
    const page = await getPage(query.target, `${query.path}?${params}`, signal);
    if (!page.ok) return page;
    for (const line of page.value.items) print(line);
    if (!page.value.next_cursor || signal.aborted) return ok(undefined);
    after = page.value.next_cursor;
  }
}

async function getPage(
  target: ApiTarget,
  path: string,
  signal: AbortSignal,
): Promise<Result<{ items: LogLine[]; next_cursor: string | null }, string>> {
  let response: Response;
  let body: string;
  try {
    response = await fetch(target.url + path, { headers: apiHeaders(target), signal });
    body = await response.text();
  } catch (error) {
    return err(`cannot read ${target.url}${path}: ${describeFailure(error)}`);
  }
  if (!response.ok) return err(describeRefusal(response.status, body));
  try {
    return ok(JSON.parse(body) as { items: LogLine[]; next_cursor: string | null });
  } catch {
    return err(`${target.url}${path} did not answer JSON`);
  }
}
