import pg from 'pg';

/** One LISTEN connection per process, shared by everything that waits on notifications. */
export interface Listener {
  /** Subscribes to a channel; returns an unsubscribe function. */
  on(channel: string, handler: (payload: string) => void): () => void;
  /** Called after every (re)connection, so consumers can catch up on what they missed. */
  onConnect(handler: () => void): () => void;
  close(): Promise<void>;
}

/**
 * Opens a dedicated connection that LISTENs on the channels asked for, reconnecting with
 * backoff when it drops. Notifications sent while disconnected are lost by PostgreSQL's design,
 * so consumers re-read state from onConnect.
 */
export async function createListener(options: {
  connectionString: string;
  onError?: (error: Error) => void;
}): Promise<Listener> {
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const connectHandlers = new Set<() => void>();
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = 100;
  // LISTENs asked for while another is in flight wait their turn: one query at a time per client.
  let listening: Promise<unknown> = Promise.resolve();

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.connectionString,
      application_name: 'meshhook-listener',
    });
    next.on('notification', (msg) => {
      for (const handler of handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    next.on('error', (error) => {
      options.onError?.(error);
      void reconnect(next);
    });
    next.on('end', () => void reconnect(next));
    await next.connect();
    for (const channel of handlers.keys()) await next.query(`listen ${ident(channel)}`);
    client = next;
    retryMs = 100;
    for (const handler of connectHandlers) handler();
  };

  const reconnect = async (dead: pg.Client): Promise<void> => {
    if (closed || client !== dead) return;
    client = undefined;
    dead.end().catch(() => {});
    while (!closed && !client) {
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(retryMs * 2, 5_000);
      try {
        await connect();
      } catch (error) {
        options.onError?.(error as Error);
      }
    }
  };

  await connect();
  return {
    on(channel, handler) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        const current = client;
        if (current) {
          listening = listening
            .then(() => current.query(`listen ${ident(channel)}`))
            .catch((e: Error) => options.onError?.(e));
        }
      }
      set.add(handler);
      return () => set.delete(handler);
    },
    onConnect(handler) {
      connectHandlers.add(handler);
      return () => connectHandlers.delete(handler);
    },
    async close() {
      closed = true;
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}

function ident(channel: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  return channel;
}
