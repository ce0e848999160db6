import { beforeAll, describe, expect, it } from 'vitest';
import { GRAIN_MS } from '../../src/core/metric-range.ts';
import { withTenant } from '../../src/db/client.ts';
import { recountRunMetrics } from '../../src/db/queries/run-metrics.ts';
import { retentionAt } from '../../src/core/metric-range.ts';
import { createRuns, finishRuns } from '../helpers/log-lines.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { openSse } from '../helpers/sse.ts';

const mh = useMeshHook();
let a: { id: string; key: string };
let b: { id: string; key: string };

beforeAll(async () => {
  a = await mh.project('metrics-a');
  b = await mh.project('metrics-b');
});

const DAY = GRAIN_MS.day;
const HOUR = GRAIN_MS.hour;
const iso = (t: number) => new Date(t).toISOString();

/** Finishes `count` runs of a workflow at exactly `finishedAt`, `tookMs` after they started. */
async function finishAt(
  project: { id: string },
  workflowId: string,
  input: { count: number; finishedAt: number; tookMs?: number; status?: string; timeZone?: string },
) {
  const runs = await createRuns(mh.db.pool, {
    projectId: project.id,
    workflowId,
    count: input.count,
  });
  const client = await mh.db.pool.connect();
  try {
    // The session's time zone must not move buckets: they are UTC.
    await client.query(`set timezone = '${input.timeZone ?? 'UTC'}'`);
    await finishRuns(
      client,
      runs.map((r) => r.runId),
      {
        at: new Date(input.finishedAt),
        tookMs: input.tookMs ?? 100,
        ...(input.status ? { status: input.status } : {}),
      },
    );
  } finally {
    client.release();
  }
}

describe('buckets', () => {
  it('are UTC days, hours and minutes, split exactly at midnight and at the month end', async () => {
    const w = await mh.publish(a.key, 'edges', chain());
    const midnight = Math.floor(Date.now() / DAY) * DAY; // within the minute retention
    const now = new Date();
    // The last month end that is not this midnight: within 62 days, so hours are still kept.
    let monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    if (monthStart === midnight)
      monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
    await finishAt(a, w.id, { count: 2, finishedAt: midnight - 1, timeZone: 'Pacific/Chatham' });
    await finishAt(a, w.id, { count: 3, finishedAt: midnight, timeZone: 'America/Los_Angeles' });
    await finishAt(a, w.id, { count: 4, finishedAt: monthStart - 1 });
    await finishAt(a, w.id, { count: 5, finishedAt: monthStart, status: 'failed' });

    const minutes = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflow/${w.id}?from=${iso(midnight - 2 * 60_000)}&to=${iso(midnight + 2 * 60_000)}&bucket=minute`,
    );
    expect(minutes.status).toBe(200);
    expect(minutes.body.buckets.map((x: any) => [x.start, x.total])).toEqual([
      [iso(midnight - 120_000), 0],
      [iso(midnight - 60_000), 2],
      [iso(midnight), 3],
      [iso(midnight + 60_000), 0],
    ]);
    expect(minutes.body.buckets[0].success_rate).toBeNull(); // empty, not 0%

    const hours = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflow/edges?from=${iso(midnight - HOUR)}&to=${iso(midnight + HOUR)}&bucket=hour`,
    );
    expect(hours.body.buckets.map((x: any) => x.total)).toEqual([2, 3]);

    // An offset in the query names the same instant.
    const local = new Date(midnight - 5 * HOUR).toISOString().slice(0, 19) + '-05:00';
    const days = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflow/${w.id}?from=${encodeURIComponent(local)}&to=${iso(midnight + DAY)}&bucket=day`,
    );
    expect(days.body.buckets).toEqual([
      expect.objectContaining({ start: iso(midnight), total: 3, succeeded: 3 }),
    ]);

    {
      const month = await mh.api(
        a.key,
        'GET',
        `/api/metrics/workflow/${w.id}?from=${iso(monthStart - DAY)}&to=${iso(monthStart + DAY)}&bucket=day`,
      );
      expect(month.body.buckets).toEqual([
        expect.objectContaining({ start: iso(monthStart - DAY), total: 4, failed: 0 }),
        expect.objectContaining({ start: iso(monthStart), total: 5, failed: 5, failure_rate: 1 }),
      ]);
    }

    // A summary across midnight counts both sides; one starting at midnight only the later.
    const across = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflows/summary?workflow=edges&from=${iso(midnight - 30 * 60_000)}&to=${iso(midnight + 30 * 60_000)}`,
    );
    expect(across.body.items[0]).toMatchObject({ slug: 'edges', total: 5 });
    const after = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflows/summary?workflow=edges&from=${iso(midnight)}&to=${iso(midnight + 30 * 60_000)}`,
    );
    expect(after.body.items[0]).toMatchObject({ total: 3 });

    const check = await recountRunMetrics(mh.db.pool, {
      retention: retentionAt(Date.now(), { minuteDays: 2, hourDays: 90 }),
      fix: false,
    });
    expect(check.differences).toEqual([]);
  });

  it('chooses the finest grain that keeps a range within 200 buckets when none is asked', async () => {
    const cases: Array<[string, string]> = [
      ['1h', 'minute'],
      ['24h', 'hour'],
      ['7d', 'hour'],
      ['30d', 'day'],
      ['90d', 'day'],
    ];
    for (const [range, bucket] of cases) {
      const answer = await mh.api(a.key, 'GET', `/api/metrics/buckets?range=${range}`);
      expect(answer.status).toBe(200);
      expect(answer.body.bucket).toBe(bucket);
    }
  });
});

describe('the summary', () => {
  it('sorts, filters by name and by failure share, and says when a range has no runs', async () => {
    const good = await mh.publish(a.key, 'sort-good', chain());
    const bad = await mh.publish(a.key, 'sort-bad', chain());
    const t = Date.now() - 10 * 60_000;
    await finishAt(a, good.id, { count: 4, finishedAt: t, tookMs: 20 });
    await finishAt(a, bad.id, { count: 1, finishedAt: t, tookMs: 5_000 });
    await finishAt(a, bad.id, { count: 3, finishedAt: t, tookMs: 5_000, status: 'failed' });

    const byFailures = await mh.api(
      a.key,
      'GET',
      '/api/metrics/workflows/summary?range=1h&q=sort-&sort=failure_rate&order=desc',
    );
    expect(byFailures.body.items.map((i: any) => [i.slug, i.failure_rate])).toEqual([
      ['sort-bad', 0.75],
      ['sort-good', 0],
    ]);
    const bad95 = byFailures.body.items[0].p95_ms;
    expect(bad95).toBeGreaterThan(5_000 / 1.3);
    expect(bad95).toBeLessThan(5_000 * 1.3);
    expect(byFailures.body.totals).toMatchObject({ workflows: 2, total: 8, failed: 3 });

    // The bucket reads' totals count the same range as the summary.
    const counted = byFailures.body.range;
    const buckets = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflow/sort-bad?from=${counted.from}&to=${counted.to}`,
    );
    const { workflow_id, slug, name, last_run_at, ...counts } = byFailures.body.items[0];
    expect([workflow_id, slug, name, last_run_at]).not.toContain(undefined);
    expect(buckets.body.totals).toEqual(counts);
    expect(buckets.body.range).toEqual(counted);

    const failing = await mh.api(
      a.key,
      'GET',
      '/api/metrics/workflows/summary?range=1h&q=sort-&min_failure_rate=0.5',
    );
    expect(failing.body.items.map((i: any) => i.slug)).toEqual(['sort-bad']);

    const empty = await mh.api(
      a.key,
      'GET',
      `/api/metrics/workflows/summary?workflow=sort-good&from=${iso(Date.now() - 3 * DAY)}&to=${iso(Date.now() - 2 * DAY)}`,
    );
    expect(empty.body.items[0]).toMatchObject({
      total: 0,
      success_rate: null,
      failure_rate: null,
      p50_ms: null,
    });
    expect(empty.body.items[0].last_run_at).not.toBeNull(); // the last run ever, outside the range
    expect(empty.body.totals.success_rate).toBeNull();

    const withSeries = await mh.api(
      a.key,
      'GET',
      '/api/metrics/workflows/summary?range=1h&workflow=sort-bad&series=true',
    );
    expect(withSeries.body.series_bucket).toBe('minute');
    const series = withSeries.body.items[0].series;
    expect(series.length).toBeGreaterThanOrEqual(60);
    expect(series.reduce((n: number, p: any) => n + p.failed, 0)).toBe(3);
  });

  it('refuses bad ranges, unknown sort keys and unanswerable buckets with 400', async () => {
    const now = Date.now();
    const bad = [
      `/api/metrics/workflows/summary?from=${iso(now)}&to=${iso(now - HOUR)}`,
      `/api/metrics/workflows/summary?range=1h&from=${iso(now - HOUR)}`,
      '/api/metrics/workflows/summary?range=soon',
      '/api/metrics/workflows/summary?from=yesterday',
      '/api/metrics/workflows/summary?sort=mood',
      '/api/metrics/workflows/summary?order=sideways',
      '/api/metrics/workflows/summary?min_failure_rate=2',
      `/api/metrics/workflows/summary?from=1999-12-31T00:00:00Z&to=${iso(now)}`,
      `/api/metrics/workflows/summary?from=${iso(now)}&to=${iso(now + 3 * DAY)}`,
      '/api/metrics/buckets?range=30d&bucket=minute',
      `/api/metrics/buckets?from=${iso(now - 10 * DAY)}&to=${iso(now - 9 * DAY)}&bucket=minute`,
      '/api/metrics/buckets?range=1h&bucket=week',
    ];
    for (const path of bad) {
      const answer = await mh.api(a.key, 'GET', path);
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
      expect(answer.body.error.code).toMatch(/^(bad_request|invalid_range)$/);
      expect(answer.body.error.message).toEqual(expect.any(String));
    }
  });
});

describe('tenancy', () => {
  it("answers 404 for another project's workflow and never shows its counts", async () => {
    const secret = await mh.publish(a.key, 'secret-flow', chain());
    await finishAt(a, secret.id, { count: 2, finishedAt: Date.now() - 60_000 });

    for (const path of [
      `/api/metrics/workflow/${secret.id}?range=1h`,
      `/api/metrics/buckets?range=1h&workflow=${secret.id}`,
    ]) {
      const answer = await mh.api(b.key, 'GET', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
    }
    const summary = await mh.api(b.key, 'GET', '/api/metrics/workflows/summary?range=1h');
    expect(summary.body.items).toEqual([]);
    expect(summary.body.totals.total).toBe(0);
    const buckets = await mh.api(b.key, 'GET', '/api/metrics/buckets?range=1h');
    expect(buckets.body.totals.total).toBe(0);

    // The database refuses too: B's claims see none of A's rollups.
    const keyId = (
      await mh.db.pool.query(`select id from meshhook.api_keys where project_id = $1`, [b.id])
    ).rows[0].id;
    const rows = await withTenant(mh.db.pool, { key_id: keyId }, async (db) => {
      const m = await db.query(`select count(*)::int as n from run_metrics`);
      const v = await db.query(`select count(*)::int as n from workflow_run_metrics`);
      return [m.rows[0].n, v.rows[0].n];
    });
    expect(rows).toEqual([0, 0]);
  });
});

describe('the live stream', () => {
  it("tells a project's dashboards when its runs finish, and only its own", async () => {
    const w = await mh.publish(a.key, 'live', chain());
    const other = await mh.publish(b.key, 'live-b', chain());
    const streamA = await openSse(`${mh.url}/api/metrics/stream`, {
      authorization: `Bearer ${a.key}`,
    });
    const streamB = await openSse(`${mh.url}/api/metrics/stream`, {
      authorization: `Bearer ${b.key}`,
    });
    try {
      expect(streamA.status).toBe(200);
      const runs = await Promise.all(
        [1, 2, 3].map(async () => (await mh.trigger(w.hook, {})).body.run_id),
      );
      await Promise.all(runs.map((id) => mh.finished(a.key, id)));
      await streamA.waitFor(1, 'runs');
      await new Promise((resolve) => setTimeout(resolve, 600)); // any further coalesced events
      const finished = streamA.events
        .filter((e) => e.event === 'runs')
        .flatMap((e) => JSON.parse(e.data).finished);
      expect(finished.every((f: any) => f.workflow_id === w.id)).toBe(true);
      expect(finished.reduce((n: number, f: any) => n + f.succeeded, 0)).toBe(3);
      expect(streamB.events.filter((e) => e.event === 'runs')).toEqual([]);

      const run = (await mh.trigger(other.hook, {})).body.run_id;
      await mh.finished(b.key, run);
      const [event] = await streamB.waitFor(1, 'runs');
      expect(JSON.parse(event!.data).finished).toEqual([
        { workflow_id: other.id, succeeded: 1, failed: 0, canceled: 0 },
      ]);
    } finally {
      streamA.close();
      streamB.close();
    }
  });

  it('ends with access_revoked when the key is revoked', async () => {
    const extra = await mh.api(a.key, 'POST', `/api/projects/${a.id}/api-keys`, {
      name: 'dashboard',
      role: 'viewer',
    });
    expect(extra.status).toBe(201);
    const stream = await openSse(`${mh.url}/api/metrics/stream`, {
      authorization: `Bearer ${extra.body.key}`,
    });
    const revoked = await mh.api(
      a.key,
      'DELETE',
      `/api/projects/${a.id}/api-keys/${extra.body.id}`,
    );
    expect(revoked.status).toBeLessThan(300);
    const [event] = await stream.waitFor(1, 'error');
    expect(JSON.parse(event!.data).code).toBe('access_revoked');
    await stream.ended;
  });
});
