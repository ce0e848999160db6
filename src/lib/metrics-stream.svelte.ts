// The live feed of the metrics pages: the browser's EventSource on /api/metrics/stream, which
// says when runs finish so a page can refetch the figures it shows (and, with another event,
// on /api/errors/stream, which says when errors were captured).
import { Backoff, diagnoseRefusal } from './event-source.ts';
import type { FinishedRuns } from './types.ts';

/**
 * Where the feed stands: `reconnecting` while it waits to reopen after a failure, `error`
 * when the server refused it for good (access revoked, signed out); the page then still
 * shows its figures, only without live updates.
 */
export type MetricsStreamStatus = 'connecting' | 'live' | 'reconnecting' | 'error';

/** What a feed listens for: its event's name, and what following it means, in words. */
export interface FeedEvent {
  name: string;
  action: string;
}

/** The finished runs of /api/metrics/stream. */
const RUNS: FeedEvent = { name: 'runs', action: 'follow finished runs live' };

/** The captured errors of /api/errors/stream. */
export const ERRORS_FEED: FeedEvent = { name: 'errors', action: 'follow errors live' };

/** A live feed of finished runs (or of another event); `close()` it when done. */
export class MetricsStream<T = FinishedRuns> {
  status = $state<MetricsStreamStatus>('connecting');
  /** Why the feed stopped, in words (status `error`). */
  problem = $state<string | undefined>();
  readonly #url: string;
  readonly #onRuns: (runs: T) => void;
  readonly #onOpen: () => void;
  readonly #event: FeedEvent;
  #source: EventSource | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  readonly #backoff = new Backoff();
  #closed = false;

  /**
   * Opens the feed at `url` (with `?project=`: EventSource sends no headers). `onRuns` gets
   * each `runs` event; `onOpen` runs whenever the feed (re)opens, since runs that finished
   * while it was closed sent no event. `event` names another event to follow than `runs`
   * (ERRORS_FEED), whose data `onRuns` then gets.
   */
  constructor(
    url: string,
    handlers: { onRuns: (runs: T) => void; onOpen?: () => void },
    event: FeedEvent = RUNS,
  ) {
    this.#url = url;
    this.#event = event;
    this.#onRuns = handlers.onRuns;
    this.#onOpen = handlers.onOpen ?? (() => {});
    this.#open();
  }

  #open(): void {
    const source = new EventSource(this.#url);
    this.#source = source;
    source.addEventListener('open', () => {
      this.status = 'live';
      this.#backoff.reset();
      this.#onOpen();
    });
    source.addEventListener(this.#event.name, (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as T;
      this.#onRuns(data);
    });
    // The server's `event: error` and EventSource's own failures share the name: only the
    // server's carries data.
    source.addEventListener('error', (event) => {
      if (event instanceof MessageEvent && typeof event.data === 'string') {
        const data = JSON.parse(event.data) as { code?: string; message?: string };
        this.#fail(explain(data));
        return;
      }
      // EventSource would retry a dropped connection by itself, every few seconds and forever;
      // the feed reopens with backoff instead, and asks why when it was refused outright.
      const refused = source.readyState === EventSource.CLOSED;
      source.close();
      this.status = 'reconnecting';
      if (refused) void this.#diagnose();
      else this.#reopenLater();
    });
  }

  #reopenLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#open(), this.#backoff.next());
  }

  #fail(problem: string): void {
    this.#source?.close();
    this.problem = problem;
    this.status = 'error';
  }

  /**
   * Reads the refused feed's answer: a server error or no answer at all (a restart) is
   * retried with backoff; anything else stops the feed with the reason in words.
   */
  async #diagnose(): Promise<void> {
    const problem = await diagnoseRefusal(this.#url, this.#event.action);
    if (this.#closed) return;
    if (problem) this.#fail(problem);
    else this.#reopenLater();
  }

  /** Stops the feed for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#source?.close();
  }
}

function explain(data: { code?: string; message?: string }): string {
  switch (data.code) {
    case 'access_revoked':
      return 'Live updates stopped: your access to this project was revoked.';
    default:
      return `Live updates stopped: ${data.message ?? data.code ?? 'the server ended them'}.`;
  }
}
