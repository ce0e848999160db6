// What the live feeds (log and metrics streams) share about the browser's EventSource: asking
// why it was refused, and how long to wait before reopening it.
import { ApiError, describeError } from './api.ts';

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Reopen delays for a feed: one second, then twice as long each time, at most thirty (where
 * EventSource by itself would retry every few seconds, forever).
 */
export class Backoff {
  #ms = FIRST_RETRY_MS;

  /** The delay before the next attempt; the one after is twice as long. */
  next(): number {
    const ms = this.#ms;
    this.#ms = Math.min(ms * 2, MAX_RETRY_MS);
    return ms;
  }

  /** Starts over from the first delay, once the feed is open again. */
  reset(): void {
    this.#ms = FIRST_RETRY_MS;
  }
}

/**
 * Asks once why an EventSource at `url` was refused outright (it gives up and says nothing of
 * why): answers the reason in words for an error answer that retrying will not change, or
 * undefined for a server error or no answer at all (a restart), which is worth reopening.
 * @example const problem = await diagnoseRefusal('/api/metrics/stream', 'follow finished runs live');
 */
export async function diagnoseRefusal(url: string, action: string): Promise<string | undefined> {
  // The stream's answer would never end: the body is read only for an error, then cut off.
  const controller = new AbortController();
  try {
    const response = await fetch(url, {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
      signal: controller.signal,
    });
    if (response.ok || response.status >= 500) return undefined;
    const body = (await response.json().catch(() => null)) as {
      error?: { code?: string; message?: string };
    } | null;
    return describeError(
      new ApiError(
        response.status,
        body?.error?.code ?? 'http_error',
        body?.error?.message ?? `the server answered ${response.status}`,
      ),
      action,
    );
  } catch {
    // no answer: the server is down or restarting
    return undefined;
  } finally {
    controller.abort();
  }
}
