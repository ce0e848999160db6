import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** An open SSE response, read event by event. */
export interface SseReader {
  status: number;
  /** Every event received so far. */
  events: EventSourceMessage[];
  /** Resolves once `count` events (of the type, if given) arrived; throws after timeoutMs. */
  waitFor(count: number, type?: string, timeoutMs?: number): Promise<EventSourceMessage[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens an SSE stream with fetch and parses it with a real SSE parser. */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: EventSourceMessage[] = [];
  const waiters = new Set<() => void>();
  const parser = createParser({
    onEvent(event) {
      events.push(event);
      for (const wake of waiters) wake();
    },
  });
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted by close()
    }
  })();
  const of = (type?: string) =>
    events.filter((e) => (type ? (e.event ?? 'message') === type : true));
  return {
    status: response.status,
    events,
    ended,
    close: () => controller.abort(),
    waitFor(count, type, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (of(type).length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(of(type));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${count} ${type ?? ''} events, got ${of(type).length}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
