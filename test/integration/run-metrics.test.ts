import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { DURATION_CELL_BOUNDS } from '../../src/core/duration-cells.ts';
import { retentionAt } from '../../src/core/metric-range.ts';
import { compactRunMetrics, recountRunMetrics } from '../../src/db/queries/run-metrics.ts';
import { createRuns, finishRuns } from '../helpers/log-lines.ts';
import { chain, flaky, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook({ env: { MESHHOOK_WORKER_CONCURRENCY: '8' } });
let key: string;
let projectId: string;

beforeAll(async () => {
  ({ key, id: projectId } = await mh.project('metrics'));
});

/** Counts of finished runs straight from the runs table, by workflow. */
async function countRuns(workflowIds: string[]) {
  const { rows } = await mh.db.pool.query<{
    workflow_id: string;
    succeeded: number;
    failed: number;
    canceled: number;
  }>(
    `select workflow_id, count(*) filter (where status = 'succeeded')::int as succeeded,
            count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status = 'canceled')::int as canceled
     from meshhook.runs where workflow_id = any($1::uuid[]) group by workflow_id`,
    [workflowIds],
  );
  return new Map(rows.map((r) => [r.workflow_id, r]));
}

const rebuild = () =>
  recountRunMetrics(mh.db.pool, {
    retention: retentionAt(Date.now(), { minuteDays: 2, hourDays: 90 }),
    fix: false,
  });

describe('counting finished runs', () => {
  it('counts every run once, as the runs table does, for a random mix over concurrent workers', async () => {
    const a = await mh.publish(key, 'mix-a', flaky());
    const b = await mh.publish(key, 'mix-b', flaky());
    const outcomes = Array.from({ length: 60 }, (_, i) => ({
      hook: i % 3 === 0 ? b.hook : a.hook,
      ok: Math.random() < 0.7,
    }));
    const runIds = await Promise.all(
      outcomes.map(async (o) => (await mh.trigger(o.hook, { ok: o.ok })).body.run_id as string),
    );
    await Promise.all(runIds.map((id) => mh.finished(key, id)));

    const direct = await countRuns([a.id, b.id]);
    const summary = await mh.api(key, 'GET', '/api/metrics/workflows/summary?range=1h');
    expect(summary.status).toBe(200);
    for (const w of [a, b]) {
      const item = summary.body.items.find((i: any) => i.workflow_id === w.id);
      const runs = direct.get(w.id)!;
      expect(item).toMatchObject({
        total: runs.succeeded + runs.failed,
        succeeded: runs.succeeded,
        failed: runs.failed,
        canceled: 0,
      });
      expect(item.success_rate).toBeCloseTo(runs.succeeded / (runs.succeeded + runs.failed), 10);
      expect(item.p50_ms).toBeGreaterThan(0);
      expect(item.p95_ms).toBeGreaterThanOrEqual(item.p50_ms);
      expect(Date.parse(item.last_run_at)).toBeGreaterThan(Date.now() - 60_000);
    }
    const expectedFailures = outcomes.filter((o) => !o.ok).length;
    expect(summary.body.totals.failed).toBe(expectedFailures);
    expect(summary.body.totals.total).toBe(60);

    // The all-time view in the shape of the original design.
    const { rows } = await mh.db.pool.query(
      `select workflow_id, success_count::int, failure_count::int from meshhook.workflow_run_metrics
       where workflow_id = any($1::uuid[])`,
      [[a.id, b.id]],
    );
    for (const row of rows) {
      expect(row.success_count).toBe(direct.get(row.workflow_id)!.succeeded);
      expect(row.failure_count).toBe(direct.get(row.workflow_id)!.failed);
    }

    const check = await rebuild();
    expect(check.differences).toEqual([]);
    expect(check.runs).toBeGreaterThanOrEqual(60);
  });

  it('counts a run once, when it becomes final; finishing it again counts nothing', async () => {
    const w = await mh.publish(key, 'direct', chain());
    const [run] = await createRuns(mh.db.pool, { projectId, workflowId: w.id, count: 1 });
    expect(await finishRuns(mh.db.pool, [run!.runId])).toEqual([run!.runId]);
    expect(await finishRuns(mh.db.pool, [run!.runId], { status: 'failed' })).toEqual([]);
    const { rows } = await mh.db.pool.query(
      `select success_count::int, failure_count::int from meshhook.workflow_run_metrics
       where workflow_id = $1`,
      [w.id],
    );
    expect(rows).toEqual([{ success_count: 1, failure_count: 0 }]);
    const status = await mh.db.pool.query(`select status from meshhook.runs where id = $1`, [
      run!.runId,
    ]);
    expect(status.rows[0].status).toBe('succeeded');
  });

  it('lets concurrent transactions finishing runs of one workflow proceed without waiting', async () => {
    const w = await mh.publish(key, 'hot', chain());
    const runs = await createRuns(mh.db.pool, { projectId, workflowId: w.id, count: 6 });
    const clients = await Promise.all(
      runs.map(async () => {
        const client = new pg.Client({ connectionString: mh.db.url });
        await client.connect();
        await client.query(`set search_path = meshhook; set lock_timeout = '2s'`);
        return client;
      }),
    );
    try {
      // Six transactions each finish a run of the same workflow and stay open: none may wait
      // for another's counter rows (lock_timeout would fail it).
      for (const [i, client] of clients.entries()) {
        await client.query('begin');
        await finishRuns(client, [runs[i]!.runId], { status: 'failed' });
      }
      const shards = await Promise.all(
        clients.map(
          async (c) =>
            (
              await c.query<{ shard: number }>(
                `select distinct shard from run_metrics where workflow_id = $1 and grain = 'all'
                 and shard in (select objid::int from pg_locks
                               where locktype = 'advisory' and classid = 1296583496 and pid = pg_backend_pid())`,
                [w.id],
              )
            ).rows,
        ),
      );
      expect(new Set(shards.flat().map((r) => r.shard)).size).toBe(6);
      for (const client of clients) await client.query('commit');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const { rows } = await mh.db.pool.query(
      `select failure_count::int from meshhook.workflow_run_metrics where workflow_id = $1`,
      [w.id],
    );
    expect(rows).toEqual([{ failure_count: 6 }]);
  });
});

describe('the sweep', () => {
  it('folds the shards of past buckets into one row and drops minutes past retention', async () => {
    const w = await mh.publish(key, 'folded', chain());
    const runs = await createRuns(mh.db.pool, { projectId, workflowId: w.id, count: 8 });
    const finishedAt = new Date(Date.now() - 3 * 86_400_000 - 7_200_000);
    // Four transactions open at once: four shards.
    const clients = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const client = new pg.Client({ connectionString: mh.db.url });
        await client.connect();
        await client.query('begin');
        return client;
      }),
    );
    for (const [i, client] of clients.entries()) {
      await finishRuns(
        client,
        runs.slice(i * 2, i * 2 + 2).map((r) => r.runId),
        { at: finishedAt },
      );
    }
    for (const client of clients) await client.query('commit');
    await Promise.all(clients.map((c) => c.end()));
    const rowsOf = async (grain: string) =>
      (
        await mh.db.pool.query(
          `select shard, succeeded from meshhook.run_metrics where workflow_id = $1 and grain = $2
           order by shard`,
          [w.id, grain],
        )
      ).rows;
    expect(await rowsOf('day')).toHaveLength(4);

    const swept = await compactRunMetrics(
      mh.db.pool,
      retentionAt(Date.now(), { minuteDays: 2, hourDays: 90 }),
    );
    // Four shards (one may be shard 0 already) × minute, hour and day; the minutes are deleted.
    expect(swept.folded).toBeGreaterThanOrEqual(6);
    expect(await rowsOf('day')).toEqual([{ shard: 0, succeeded: 8 }]);
    expect(await rowsOf('hour')).toEqual([{ shard: 0, succeeded: 8 }]);
    expect(await rowsOf('minute')).toEqual([]); // three days old: past the minute retention
    expect((await rowsOf('all')).reduce((n, r) => n + r.succeeded, 0)).toBe(8); // never folded
    expect((await rebuild()).differences).toEqual([]);
  });
});

describe('the duration cells', () => {
  it('are the same in TypeScript and in the database', async () => {
    const { rows } = await mh.db.pool.query(`select meshhook.duration_cell_bounds() as b`);
    expect(rows[0].b).toEqual(DURATION_CELL_BOUNDS);
  });
});
