import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { openDeadPool, type DeadPool } from '../helpers/dead-pool.ts';

// The API in front of a database that does not answer: nothing listens on the pool's port.
let db: TestDatabase;
let dead: DeadPool;
let app: ReturnType<DeadPool['app']>;

beforeAll(async () => {
  db = await createTestDatabase();
  dead = await openDeadPool(db.url);
  app = dead.app();
});
afterAll(async () => {
  await dead.close();
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
