import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeadPool, type DeadPool } from '../helpers/dead-pool.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook();

describe('GET /metrics without MESHHOOK_METRICS_TOKEN', () => {
  it('is open to anyone, whatever Authorization header comes along', async () => {
    const { key, id: projectId } = await mh.project('open');
    const { hook } = await mh.publish(key, 'open', chain());
    await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);

    for (const headers of [
      {},
      { authorization: 'Bearer not-a-token-anyone-set' },
      { authorization: 'Basic bWV0cmljczptZXRyaWNz' },
    ]) {
      const response = await fetch(`${mh.url}/metrics`, { headers });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const families = parseExposition(await response.text());
      const labels = { project: projectId, workflow: 'open', status: 'succeeded' };
      expect(sampleValue(families, 'meshhook_runs_total', 'meshhook_runs_total', labels)).toBe(1);
    }
  });
});

describe('GET /metrics with the database unreachable', () => {
  let dead: DeadPool;
  const appWith = (metricsToken?: string) => dead.app(metricsToken ? { metricsToken } : {});

  beforeAll(async () => {
    dead = await openDeadPool(mh.db.url);
  });
  afterAll(async () => {
    await dead.close();
  });

  it('answers 503 in the error shape, with Retry-After', async () => {
    const response = await appWith().request('/metrics');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: { code: 'service_unavailable', message: expect.any(String), details: {} },
    });
  });

  it('checks the token before it reads anything', async () => {
    const token = 'a-metrics-token-of-some-length';
    const app = appWith(token);
    expect((await app.request('/metrics')).status).toBe(401);
    const allowed = await app.request('/metrics', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(allowed.status).toBe(503);
  });
});
