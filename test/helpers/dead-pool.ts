// The API in front of a database that does not answer, to see how it fails.
import { createPool } from '../../src/db/client.ts';
import { freePort } from '../../src/db/embedded.ts';
import { ErrorCapture } from '../../src/engine/error-capture.ts';
import { EventHub } from '../../src/engine/event-hub.ts';
import { createListener } from '../../src/engine/listener.ts';
import { LogHub } from '../../src/engine/log-hub.ts';
import { Notifier } from '../../src/engine/notifier.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { createApp } from '../../src/http/app.ts';
import type { HttpDeps } from '../../src/http/context.ts';
import { encodeLogEvent } from '../../src/http/sse.ts';

/** Apps on a pool that nothing answers; `close()` it after. */
export interface DeadPool {
  /** A new app on the dead pool; `deps` are added to or replace its dependencies. */
  app(deps?: Partial<HttpDeps>): ReturnType<typeof createApp>;
  /** Closes the listener and the pool. */
  close(): Promise<void>;
}

/**
 * Opens a pool on a port nothing listens on, and a listener (the live feeds' LISTEN
 * connection) on the live database at `listenerUrl`; every query the app makes goes to the
 * dead pool.
 * @example const dead = await openDeadPool(db.url); await dead.app().request('/readyz'); // 503
 */
export async function openDeadPool(listenerUrl: string): Promise<DeadPool> {
  const listener = await createListener({ connectionString: listenerUrl });
  const pool = createPool({
    connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`,
  });
  return {
    app: (deps = {}) => {
      const notifier = new Notifier(pool);
      return createApp({
        pool,
        listener,
        notifier,
        log: silentLog,
        errors: new ErrorCapture({ pool, notifier, log: silentLog }),
        logHub: new LogHub({ pool, listener, log: silentLog, encode: encodeLogEvent }),
        eventHub: new EventHub({ pool, listener, log: silentLog }),
        publicUrl: 'http://127.0.0.1:1',
        webhookMaxBytes: 1024,
        ...deps,
      });
    },
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}
