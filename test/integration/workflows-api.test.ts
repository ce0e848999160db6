import { beforeAll, describe, expect, it } from 'vitest';
import { useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook();
let key: string;

const definition = (message = 'v1') => ({
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    { id: 'say', type: 'log', config: { level: 'info', message } },
  ],
  edges: [{ from: 'hook', to: 'say' }],
});

beforeAll(async () => {
  ({ key } = await mh.project('api'));
});

describe('POST /api/workflows', () => {
  it('creates a draft (201) without a webhook until published', async () => {
    const created = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'hello',
      name: 'Hello',
      definition: definition(),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      slug: 'hello',
      name: 'Hello',
      published_version: null,
      webhook: null,
    });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a malformed definition with 422 naming the node, and stores nothing', async () => {
    const bad = {
      nodes: [
        { id: 'hook', type: 'webhook', config: {} },
        { id: 'call', type: 'http_call', config: { method: 'GET', timeout_ms: -1 } },
        { id: 'calc', type: 'transform', config: { expression: 'a.[' } },
      ],
      edges: [
        { from: 'hook', to: 'call' },
        { from: 'call', to: 'calc' },
      ],
    };
    const response = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'bad',
      name: 'Bad',
      definition: bad,
    });
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe('invalid_definition');
    expect(response.body.error.message).toContain('node "call"');
    const issues = response.body.error.details.issues;
    expect(issues.map((i: any) => [i.node_id, i.path])).toEqual([
      ['call', 'nodes[1].config.url'],
      ['call', 'nodes[1].config.timeout_ms'],
      ['calc', 'nodes[2].config.expression'],
    ]);
    expect((await mh.api(key, 'GET', '/api/workflows/bad')).status).toBe(404);
  });

  it('refuses a cycle, a second trigger and an unreachable node with their node ids', async () => {
    const response = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'cyclic',
      name: 'Cyclic',
      definition: {
        nodes: [
          { id: 'hook', type: 'webhook', config: {} },
          { id: 'a', type: 'log', config: { level: 'info', message: 'a' } },
          { id: 'b', type: 'log', config: { level: 'info', message: 'b' } },
        ],
        edges: [
          { from: 'hook', to: 'a' },
          { from: 'a', to: 'b' },
          { from: 'b', to: 'a' },
        ],
      },
    });
    expect(response.status).toBe(422);
    expect(response.body.error.details.issues).toEqual([
      { path: 'edges', node_id: 'a', message: 'the graph has a cycle: a → b → a' },
    ]);
  });

  it('answers 400, 409, 415 and 422 for bad bodies without storing anything', async () => {
    const raw = (body: string, type = 'application/json') =>
      fetch(`${mh.url}/api/workflows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': type },
        body,
      });
    const badJson = await raw('{"slug":');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).error.code).toBe('invalid_json');
    expect((await raw('slug=x', 'application/x-www-form-urlencoded')).status).toBe(415);

    const badSlug = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'Not A Slug',
      name: 'x',
      definition: definition(),
    });
    expect(badSlug.status).toBe(422);
    expect(badSlug.body.error).toMatchObject({
      code: 'validation_failed',
      details: { issues: [{ path: 'slug' }] },
    });

    const dup = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'hello',
      name: 'again',
      definition: definition(),
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('conflict');
    const list = await mh.api(key, 'GET', '/api/workflows');
    expect(list.body.items.map((w: any) => w.slug)).toEqual(['hello']);
  });
});

describe('publishing', () => {
  it('freezes versions: webhooks run the newest published version, not the draft', async () => {
    const created = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'versions',
      name: 'V',
      definition: definition('v1'),
    });
    const id = created.body.id;
    const first = await mh.api(key, 'POST', `/api/workflows/${id}/publish`);
    expect(first.status).toBe(201);
    expect(first.body.version).toBe(1);
    const hook = first.body.webhook.url;

    const edited = await mh.api(key, 'PUT', `/api/workflows/${id}`, {
      definition: definition('v2'),
    });
    expect(edited.status).toBe(200);
    expect(edited.body.definition.nodes[1].config.message).toBe('v2');

    const runV1 = await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);
    expect(runV1.version).toBe(1);
    const logsV1 = await mh.api(key, 'GET', `/api/runs/${runV1.id}/logs`);
    expect(logsV1.body.items.map((l: any) => l.message)).toEqual(['v1']);

    const second = await mh.api(key, 'POST', `/api/workflows/${id}/publish`);
    expect(second.body).toMatchObject({ version: 2, webhook: { url: hook } });
    const runV2 = await mh.finished(key, (await mh.trigger(hook, {})).body.run_id);
    expect(runV2.version).toBe(2);
    const logsV2 = await mh.api(key, 'GET', `/api/runs/${runV2.id}/logs`);
    expect(logsV2.body.items.map((l: any) => l.message)).toEqual(['v2']);

    const v1 = await mh.api(key, 'GET', `/api/workflows/${id}/versions/1`);
    expect(v1.status).toBe(200);
    expect(v1.body.definition.nodes[1].config.message).toBe('v1');
    expect((await mh.api(key, 'GET', `/api/workflows/${id}/versions/3`)).status).toBe(404);
    expect((await mh.api(key, 'GET', `/api/workflows/${id}/versions/zero`)).status).toBe(404);
    const stranger = await mh.project('stranger');
    expect((await mh.api(stranger.key, 'GET', `/api/workflows/${id}/versions/1`)).status).toBe(404);

    const fetched = await mh.api(key, 'GET', `/api/workflows/versions`);
    expect(fetched.body).toMatchObject({ id, published_version: 2, webhook: { url: hook } });
    await expect(
      mh.db.pool.query(
        `update meshhook.workflow_versions set definition = '{}' where workflow_id = $1`,
        [id],
      ),
    ).rejects.toThrow(/immutable/);
  });
});

describe('roles', () => {
  it('lets a viewer key read but not create, edit or publish', async () => {
    const viewer = await mh.project('viewer-project', 'viewer');
    const denied = await mh.api(viewer.key, 'POST', '/api/workflows', {
      slug: 'x',
      name: 'x',
      definition: definition(),
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    expect((await mh.api(viewer.key, 'GET', '/api/workflows')).status).toBe(200);
  });
});

describe('lists', () => {
  it('pages runs newest first with next_cursor, filters by status and validates parameters', async () => {
    const { hook, id } = await mh.publish(key, 'paged', definition());
    const runIds: string[] = [];
    for (let i = 0; i < 5; i++) runIds.push((await mh.trigger(hook, { i })).body.run_id);
    for (const runId of runIds) await mh.finished(key, runId);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await mh.api(
        key,
        'GET',
        `/api/runs?workflow=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((r: any) => r.id));
      for (const item of page.body.items) expect(item.workflow_id).toBe(id);
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...runIds].reverse());

    const failed = await mh.api(key, 'GET', `/api/runs?workflow=${id}&status=failed`);
    expect(failed.body.items).toEqual([]);
    for (const query of ['limit=0', 'limit=501', 'status=exploded', 'cursor=garbage']) {
      const response = await mh.api(key, 'GET', `/api/runs?${query}`);
      expect([query, response.status, response.body.error.code]).toEqual([
        query,
        400,
        'bad_request',
      ]);
    }
    expect((await mh.api(key, 'GET', '/api/runs?workflow=no-such-flow')).status).toBe(404);
    expect((await mh.api(key, 'GET', '/api/runs/not-a-uuid')).status).toBe(404);
  });
});

describe('request limits', () => {
  it('refuses an API body over the limit with 413 before reading it all', async () => {
    const response = await mh.api(key, 'POST', '/api/workflows', {
      slug: 'huge',
      name: 'huge',
      definition: { pad: 'x'.repeat(5 * 1024 * 1024) },
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
  });
});

describe('slugs and cursors at the edges', () => {
  it('refuses a UUID-shaped slug, and answers 409 to all but one of concurrent creates', async () => {
    const uuidSlug = await mh.api(key, 'POST', '/api/workflows', {
      slug: '0b9c2a0e-1f5a-4a43-9d7e-2f0b5d6c7e8f',
      name: 'x',
      definition: definition(),
    });
    expect(uuidSlug.status).toBe(422);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        mh.api(key, 'POST', '/api/workflows', {
          slug: 'racy',
          name: 'racy',
          definition: definition(),
        }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
  });

  it('pages runs created within the same millisecond without skipping any', async () => {
    const { hook, id } = await mh.publish(key, 'same-ms', definition());
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) runIds.push((await mh.trigger(hook, {})).body.run_id);
    // Finished first: the workers lock run rows while they settle steps.
    for (const runId of runIds) await mh.finished(key, runId);
    // Microseconds apart, one millisecond: what a busy intake produces.
    await mh.db.pool.query(
      `update meshhook.runs set created_at = '2026-01-01T00:00:00.000100Z'::timestamptz
         + (array_position($1::uuid[], id) * interval '1 microsecond')
       where id = any($1::uuid[])`,
      [runIds],
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await mh.api(
        key,
        'GET',
        `/api/runs?workflow=${id}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.body.items.map((r: any) => r.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...runIds].reverse());
  });
});
