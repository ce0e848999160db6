import { beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/db/client.ts';
import { useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook();

const definition = {
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    { id: 'say', type: 'log', config: { level: 'info', message: 'hello {{ trigger.body.who }}' } },
  ],
  edges: [{ from: 'hook', to: 'say' }],
};

let a: { id: string; key: string };
let b: { id: string; key: string };
let bWorkflow: string;
let bRun: string;

beforeAll(async () => {
  a = await mh.project('A');
  b = await mh.project('B');
  await mh.publish(a.key, 'shared-slug', definition);
  const published = await mh.publish(b.key, 'shared-slug', definition);
  bWorkflow = published.id;
  bRun = (await mh.trigger(published.hook, { who: 'b' })).body.run_id;
  await mh.finished(b.key, bRun);
});

describe('tenant isolation over the API', () => {
  it("answers 404 for every URL of another project's workflow and run", async () => {
    const urls = [
      ['GET', `/api/workflows/${bWorkflow}`],
      ['PUT', `/api/workflows/${bWorkflow}`],
      ['POST', `/api/workflows/${bWorkflow}/publish`],
      ['GET', `/api/runs/${bRun}`],
      ['GET', `/api/runs/${bRun}/events`],
      ['GET', `/api/runs/${bRun}/logs`],
      ['GET', `/api/runs/${bRun}/logs/stream`],
      ['GET', `/api/runs?workflow=${bWorkflow}`],
    ] as const;
    for (const [method, path] of urls) {
      const response = await mh.api(
        a.key,
        method,
        path,
        method === 'PUT' ? { definition } : undefined,
      );
      expect([path, response.status, response.body.error.code]).toEqual([path, 404, 'not_found']);
    }
    // B still sees its own.
    expect((await mh.api(b.key, 'GET', `/api/runs/${bRun}`)).status).toBe(200);
  });

  it('lists only the caller project rows, even with the same slug on both sides', async () => {
    const workflows = await mh.api(a.key, 'GET', '/api/workflows');
    expect(workflows.body.items).toHaveLength(1);
    expect(workflows.body.items[0].project_id).toBe(a.id);
    const bySlug = await mh.api(a.key, 'GET', '/api/workflows/shared-slug');
    expect(bySlug.body.project_id).toBe(a.id);
    const runs = await mh.api(a.key, 'GET', '/api/runs');
    expect(runs.body.items).toEqual([]);
  });

  it('refuses requests without a valid key', async () => {
    const none = await fetch(`${mh.url}/api/workflows`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error.code).toBe('unauthorized');
    const forged = await mh.api('mh_notarealkey', 'GET', '/api/workflows');
    expect(forged.status).toBe(401);
  });
});

describe('tenant isolation in SQL (RLS), whatever the handler does', () => {
  const claimsOf = async (projectId: string) => {
    const { rows } = await mh.db.pool.query(
      `select id from meshhook.api_keys where project_id = $1 limit 1`,
      [projectId],
    );
    return { key_id: rows[0].id as string };
  };

  it("shows project A's claims none of B's rows, with B's rows present", async () => {
    const tables = [
      'projects',
      'workflows',
      'workflow_versions',
      'runs',
      'run_steps',
      'run_events',
      'run_logs',
    ];
    const asOwner = await mh.db.pool.query(
      `select (select count(*) from meshhook.runs where project_id = $1) as runs,
              (select count(*) from meshhook.run_logs where project_id = $1) as logs`,
      [b.id],
    );
    expect(Number(asOwner.rows[0].runs)).toBe(1);
    expect(Number(asOwner.rows[0].logs)).toBe(1);

    const claims = await claimsOf(a.id);
    await withTenant(mh.db.pool, claims, async (db) => {
      expect((await db.query('select current_user as u')).rows[0].u).toBe('meshhook_app');
      for (const table of tables) {
        const column = table === 'projects' ? 'id' : 'project_id';
        const { rows } = await db.query(
          `select count(*) filter (where ${column} = $1) as other, count(*) as visible from meshhook.${table}`,
          [b.id],
        );
        expect([table, Number(rows[0].other)]).toEqual([table, 0]);
      }
      // A unfiltered query under A's claims sees exactly A's workflow.
      const { rows } = await db.query('select project_id from meshhook.workflows');
      expect(rows).toEqual([{ project_id: a.id }]);
    });
  });

  it('refuses writes into another project and hides the engine tables from the app role', async () => {
    const claims = await claimsOf(a.id);
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        db.query(
          `insert into meshhook.workflows (project_id, slug, name, definition, webhook_token)
           values ($1, 'sneaky', 'x', '{}', 'tok-sneaky')`,
          [b.id],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        db.query(`update meshhook.workflows set name = 'hijacked' where project_id = $1`, [b.id]),
      ),
    ).resolves.toMatchObject({ rowCount: 0 });
    for (const table of ['api_keys', 'step_jobs', 'webhook_idempotency']) {
      await expect(
        withTenant(mh.db.pool, claims, (db) => db.query(`select * from meshhook.${table}`)),
      ).rejects.toThrow(/permission denied/);
    }
  });

  it('gives a revoked key nothing, from its next statement on', async () => {
    const claims = await claimsOf(b.id);
    await mh.db.pool.query(`update meshhook.api_keys set revoked_at = now() where id = $1`, [
      claims.key_id,
    ]);
    try {
      const { rows } = await withTenant(mh.db.pool, claims, (db) =>
        db.query('select id from meshhook.runs'),
      );
      expect(rows).toEqual([]);
      expect((await mh.api(b.key, 'GET', '/api/runs')).status).toBe(401);
    } finally {
      await mh.db.pool.query(`update meshhook.api_keys set revoked_at = null where id = $1`, [
        claims.key_id,
      ]);
    }
  });
});
