import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/client.ts';
import { freePort } from '../../src/db/embedded.ts';
import { createListener, type Listener } from '../../src/engine/listener.ts';
import { EventHub } from '../../src/engine/event-hub.ts';
import { LogHub } from '../../src/engine/log-hub.ts';
import { Notifier } from '../../src/engine/notifier.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { createApp } from '../../src/http/app.ts';
import { encodeLogEvent } from '../../src/http/sse.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

// The API in front of a database that does not answer: nothing listens on the pool's port.
let db: TestDatabase;
let listener: Listener;
let app: ReturnType<typeof createApp>;
let deadPool: ReturnType<typeof createPool>;

beforeAll(async () => {
  db = await createTestDatabase();
  listener = await createListener({ connectionString: db.url });
  deadPool = createPool({
    connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`,
  });
  app = createApp({
    pool: deadPool,
    listener,
    notifier: new Notifier(deadPool),
    log: silentLog,
    logHub: new LogHub({ pool: deadPool, listener, log: silentLog, encode: encodeLogEvent }),
    eventHub: new EventHub({ pool: deadPool, listener, log: silentLog }),
    publicUrl: 'http://127.0.0.1:1',
    webhookMaxBytes: 1024,
  });
});
afterAll(async () => {
  await listener.close();
  await deadPool.end();
  await db.drop();
});

describe('with the database unavailable', () => {
  it('answers 503 with Retry-After, not 500, to API calls and webhooks', async () => {
    for (const [method, path] of [
      ['GET', '/api/workflows'],
      ['POST', '/hooks/some-token'],
    ] as const) {
      const response = await app.request(path, {
        method,
        headers: { authorization: 'Bearer mh_whatever' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect([path, response.status]).toEqual([path, 503]);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as any).error.code).toBe('service_unavailable');
    }
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(503);
    expect((await app.request('/healthz')).status).toBe(200);
  });
});
