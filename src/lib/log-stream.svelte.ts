// One live log stream: the browser's EventSource on a run's or the project's SSE endpoint, its
// lines in a LogBuffer, and where the connection stands, as the viewer shows it.
import { Backoff, diagnoseRefusal } from './event-source.ts';
import { DEFAULT_CAP, LogBuffer } from './log-lines.ts';
import type { LogLine } from './types.ts';

/**
 * Where a stream stands: `reconnecting` while EventSource retries after a failure, `lagged`
 * after the server dropped a client that read too slowly (until the reconnect delivers),
 * `ended` after a final run's `end`, `error` when the server refused and must not be retried.
 */
export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'lagged' | 'ended' | 'error';

// Lines are handed to the page in batches: a busy stream sends hundreds a second, and drawing
// after each one would redraw the list hundreds of times.
const FLUSH_MS = 50;
const FLUSH_LINES = 5000;

/** How many lines a stream kept, received, dropped, and of those how many errors and warnings. */
export interface StreamStats {
  kept: number;
  total: number;
  dropped: number;
  errors: number;
  warnings: number;
}

/** A live stream of log lines; `close()` it when done. */
export class LogStream {
  status = $state<StreamStatus>('connecting');
  /** Why the stream stopped, in words (status `error`). */
  problem = $state<string | undefined>();
  /** The run's final status, from `event: end`. */
  endStatus = $state<string | undefined>();
  /** Bumped whenever `buffer` changed: read it to redraw with the buffer. */
  version = $state(0);
  readonly buffer: LogBuffer;
  readonly #url: string;
  #source: EventSource | undefined;
  #pending: LogLine[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #backoff = new Backoff();
  #closed = false;

  constructor(url: string, options: { cap?: number } = {}) {
    this.#url = url;
    this.buffer = new LogBuffer(options.cap ?? DEFAULT_CAP);
    this.#open();
  }

  /** The buffer's figures; a derivation reading them reruns as lines arrive. */
  get stats(): StreamStats {
    void this.version;
    const { lines, total, dropped, errors, warnings } = this.buffer;
    return { kept: lines.length, total, dropped, errors, warnings };
  }

  /** Kept lines from `start` to `end` (excluded); a derivation reading them reruns as lines arrive. */
  slice(start: number, end: number): LogLine[] {
    void this.version;
    return this.buffer.lines.slice(start, end);
  }

  #open(): void {
    // A reopened stream starts after the last line kept: a new EventSource has no Last-Event-ID.
    const last = this.buffer.lines.at(-1)?.id;
    const after = last === undefined ? '' : `${this.#url.includes('?') ? '&' : '?'}after=${last}`;
    const source = new EventSource(this.#url + after);
    this.#source = source;
    source.addEventListener('open', () => {
      this.status = 'live';
      this.#backoff.reset();
    });
    source.addEventListener('log', (event) => {
      const line = JSON.parse((event as MessageEvent<string>).data) as LogLine;
      this.#pending.push(line);
      if (this.status !== 'live') this.status = 'live';
      if (this.#pending.length >= FLUSH_LINES) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
    });
    source.addEventListener('lagged', () => {
      // The server closes next; EventSource reconnects with Last-Event-ID, so nothing is lost.
      this.status = 'lagged';
    });
    source.addEventListener('end', (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as { status?: string };
      this.endStatus = data.status;
      this.#stop('ended');
    });
    // The server's `event: error` and EventSource's own failures share the name: only the
    // server's carries data.
    source.addEventListener('error', (event) => {
      if (event instanceof MessageEvent && typeof event.data === 'string') {
        const data = JSON.parse(event.data) as { code?: string; message?: string };
        this.problem = explain(data);
        this.#stop('error');
      } else if (source.readyState === EventSource.CLOSED) {
        // Refused outright (an error answer instead of a stream): EventSource gives up and
        // says nothing of why, so ask once; a server that is restarting is tried again.
        this.#flush();
        this.status = 'reconnecting';
        void this.#diagnose();
      } else if (this.status !== 'lagged') {
        this.status = 'reconnecting';
      }
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    if (this.buffer.append(batch) > 0) this.version++;
  }

  #stop(status: StreamStatus): void {
    this.#source?.close();
    this.#flush();
    this.status = status;
  }

  /**
   * Reads the refused stream's answer: a server error or no answer at all (a restart) is
   * retried with backoff; anything else stops the stream with the reason in words.
   */
  async #diagnose(): Promise<void> {
    const problem = await diagnoseRefusal(this.#url, 'open the log stream');
    if (this.#closed) return;
    if (problem) {
      this.problem = problem;
      this.status = 'error';
      return;
    }
    this.#retry = setTimeout(() => this.#open(), this.#backoff.next());
  }

  /** Stops the stream for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#source?.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function explain(data: { code?: string; message?: string }): string {
  switch (data.code) {
    case 'not_found':
      return 'The stream stopped: what it showed no longer exists.';
    case 'access_revoked':
      return 'The stream stopped: your access to this project was revoked.';
    default:
      return `The stream stopped: ${data.message ?? data.code ?? 'the server ended it'}.`;
  }
}
