import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { apiHeaders, describeFailure, describeRefusal, type ApiTarget } from './api-client.ts';
import type { LogLine } from './format-log-line.ts';

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
/** The server sends a heartbeat every 15 s; three missed ones mean a dead connection. */
const IDLE_MS = 45_000;

/** What one connection to the stream came to. */
type Outcome =
  | { kind: 'end' }
  | { kind: 'fatal'; message: string }
  | { kind: 'retry'; connected: boolean; reason: string };

/** Where to follow a log stream, and what to do with its lines. */
export interface FollowOptions {
  target: ApiTarget;
  /** The stream's path and query under the target's URL. */
  path: string;
  /** Receives each line once, in id order. */
  onLine(line: LogLine): void;
  /** Diagnostics: reconnections and the reason a follow stopped. */
  warn(message: string): void;
  /** Aborting it stops the follow, which then counts as a success. */
  signal: AbortSignal;
}

/**
 * Follows a log stream until its `end` (0), an `error` event or a refusal (1), or the signal (0).
 * A dropped connection, `lagged`, or a 5xx answer reconnects after a backoff with the id of
 * the last line received as Last-Event-ID, so the server resumes after it: no gap, and a line
 * the server would send twice is dropped by its id.
 */
export async function followLogs(options: FollowOptions): Promise<number> {
  const state: { lastId?: string } = {};
  let delay = FIRST_DELAY_MS;
  while (!options.signal.aborted) {
    const outcome = await connectOnce(options, state);
    if (options.signal.aborted) return 0;
    if (outcome.kind === 'end') return 0;
    if (outcome.kind === 'fatal') {
      options.warn(outcome.message);
      return 1;
    }
    if (outcome.connected) delay = FIRST_DELAY_MS;
    options.warn(`${outcome.reason}; reconnecting in ${delay} ms`);
    await sleep(delay, options.signal);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
  return 0;
}

async function connectOnce(options: FollowOptions, state: { lastId?: string }): Promise<Outcome> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal.addEventListener('abort', abort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  let timedOut = false;
  const watch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, IDLE_MS);
  };
  try {
    watch();
    let response: Response;
    try {
      response = await fetch(options.target.url + options.path, {
        headers: apiHeaders(options.target, {
          accept: 'text/event-stream',
          ...(state.lastId === undefined ? {} : { 'last-event-id': state.lastId }),
        }),
        signal: controller.signal,
      });
    } catch (error) {
      const reason = timedOut ? 'no answer' : `cannot connect: ${describeFailure(error)}`;
      return { kind: 'retry', connected: false, reason };
    }
    if (response.status !== 200) return refused(response);
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream') || !response.body) {
      await response.body?.cancel();
      return {
        kind: 'fatal',
        message: `expected an event stream, got ${type || 'no content type'}`,
      };
    }

    let outcome: Outcome | undefined;
    const parser = createParser({
      onEvent(event) {
        outcome ??= handleEvent(event, options, state);
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        watch();
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (outcome) break;
      }
    } catch (error) {
      const reason = timedOut
        ? `no data for ${IDLE_MS / 1000} s`
        : `connection lost: ${describeFailure(error)}`;
      return { kind: 'retry', connected: true, reason };
    }
    return outcome ?? { kind: 'retry', connected: true, reason: 'the server closed the stream' };
  } finally {
    clearTimeout(idle);
    options.signal.removeEventListener('abort', abort);
    controller.abort();
  }
}

function handleEvent(
  event: EventSourceMessage,
  options: FollowOptions,
  state: { lastId?: string },
): Outcome | undefined {
  switch (event.event) {
    case 'log': {
      let line: LogLine;
      try {
        line = JSON.parse(event.data) as LogLine;
      } catch {
        return { kind: 'fatal', message: `the stream sent a line that is not JSON: ${event.data}` };
      }
      const id = event.id ?? line.id;
      if (!/^\d+$/.test(id)) {
        return { kind: 'fatal', message: `the stream sent a line without a log id: ${event.data}` };
      }
      if (state.lastId !== undefined && BigInt(id) <= BigInt(state.lastId)) return undefined;
      options.onLine(line);
      state.lastId = id;
      return undefined;
    }
    case 'end':
      return { kind: 'end' };
    case 'lagged':
      return { kind: 'retry', connected: true, reason: 'the stream fell behind' };
    case 'error': {
      const data = parseObject(event.data);
      const message = text(data.message) ?? text(data.code) ?? event.data;
      return { kind: 'fatal', message: `the log stream stopped: ${message}` };
    }
    default:
      return undefined;
  }
}

async function refused(response: Response): Promise<Outcome> {
  const said = describeRefusal(response.status, await response.text().catch(() => ''));
  // A server restarting or a database away answers 5xx; a 429 asks to come back later.
  if (response.status >= 500 || response.status === 429) {
    return { kind: 'retry', connected: false, reason: said };
  }
  return { kind: 'fatal', message: said };
}

function parseObject(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
