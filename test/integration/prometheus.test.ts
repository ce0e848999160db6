import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DURATION_CELL_BOUNDS } from '../../src/core/duration-cells.ts';
import { freePort } from '../../src/db/embedded.ts';
import { createPrometheusMetrics } from '../../src/http/prometheus.ts';
import { parseExposition, sampleValue, type Family } from '../helpers/exposition.ts';
import { chain, flaky, useMeshHook } from '../helpers/meshhook.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

const TOKEN = `metrics-${randomBytes(16).toString('hex')}`;
const mh = useMeshHook({ env: { MESHHOOK_METRICS_TOKEN: TOKEN } });

const BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
];

async function scrape(authorization?: string) {
  const response = await fetch(`${mh.url}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A scrape with the token, parsed (and so checked) as the exposition format. */
async function metrics(): Promise<Map<string, Family>> {
  const response = await scrape(`Bearer ${TOKEN}`);
  expect(response.status).toBe(200);
  expect(response.text).not.toContain(TOKEN);
  return parseExposition(response.text);
}

let key: string;
let projectId: string;

beforeAll(async () => {
  ({ key, id: projectId } = await mh.project('prometheus'));
});

describe('GET /metrics with MESHHOOK_METRICS_TOKEN set', () => {
  it('answers 401 with WWW-Authenticate without the token, and never echoes it', async () => {
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}`,
      TOKEN,
      'Bearer',
      `Bearer ${key}`,
    ]) {
      const response = await scrape(authorization);
      expect([authorization, response.status]).toEqual([authorization, 401]);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.parse(response.text)).toEqual({
        error: { code: 'unauthorized', message: expect.any(String), details: {} },
      });
      expect(response.text).not.toContain(TOKEN);
    }
  });

  it('answers 200 in the text format with the token, whatever the case of the scheme', async () => {
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const response = await scrape(authorization);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect(response.text).not.toContain(TOKEN);
      const families = parseExposition(response.text);
      for (const [name, type] of [
        ['meshhook_runs_total', 'counter'],
        ['meshhook_run_duration_seconds', 'histogram'],
        ['meshhook_steps_total', 'counter'],
        ['meshhook_queue_jobs', 'gauge'],
        ['meshhook_queue_oldest_ready_seconds', 'gauge'],
        ['meshhook_log_streams', 'gauge'],
        ['meshhook_log_streams_lagged_total', 'counter'],
        ['meshhook_process_cpu_user_seconds_total', 'counter'],
        ['meshhook_process_resident_memory_bytes', 'gauge'],
        ['meshhook_nodejs_eventloop_lag_seconds', 'gauge'],
        ['meshhook_nodejs_heap_size_used_bytes', 'gauge'],
      ] as const) {
        expect([name, families.get(name)?.type]).toEqual([name, type]);
      }
    }
  });
});

describe('run, step and queue metrics', () => {
  const N = 5;
  const M = 3;
  /** Runs of a workflow whose one call fails twice: one retry, then the step and run fail. */
  const K = 2;
  let workflow: { id: string; hook: string };
  let unreachable: { id: string; hook: string };
  let families: Map<string, Family>;
  const labels = () => ({ project: projectId, workflow: 'flaky' });

  beforeAll(async () => {
    workflow = await mh.publish(key, 'flaky', flaky());
    // Nothing listens on the port: every attempt is refused.
    const url = `http://127.0.0.1:${await freePort()}/`;
    const call = { method: 'GET', url, retry: { max_attempts: 2, backoff_ms: 1 } };
    unreachable = await mh.publish(
      key,
      'unreachable',
      chain({ id: 'call', type: 'http_call', config: call }),
    );
    const outcomes = [...Array<boolean>(N).fill(true), ...Array<boolean>(M).fill(false)];
    const runIds = await Promise.all([
      ...outcomes.map(
        async (ok) => (await mh.trigger(workflow.hook, { ok })).body.run_id as string,
      ),
      ...Array.from(
        { length: K },
        async () => (await mh.trigger(unreachable.hook, {})).body.run_id as string,
      ),
    ]);
    const runs = await Promise.all(runIds.map((id) => mh.finished(key, id)));
    expect(runs.map((r) => r.status)).toEqual([
      ...Array<string>(N).fill('succeeded'),
      ...Array<string>(M + K).fill('failed'),
    ]);
    families = await metrics();
  });

  it('counts the succeeded and failed runs of the workflow exactly', () => {
    const runs = (status: string) =>
      sampleValue(families, 'meshhook_runs_total', 'meshhook_runs_total', {
        ...labels(),
        status,
      });
    expect(runs('succeeded')).toBe(N);
    expect(runs('failed')).toBe(M);
    expect(runs('canceled')).toBe(0);
    const other = { project: projectId, workflow: 'unreachable' };
    expect(
      sampleValue(families, 'meshhook_runs_total', 'meshhook_runs_total', {
        ...other,
        status: 'failed',
      }),
    ).toBe(K);
    // Only these two workflows have runs: every series is one of their three statuses.
    expect(families.get('meshhook_runs_total')!.samples).toHaveLength(6);
  });

  it('gives the durations as cumulative buckets matching the runs, +Inf = _count = N + M', async () => {
    const { rows } = await mh.db.pool.query<{ ms: number }>(
      `select extract(epoch from finished_at - coalesce(started_at, created_at))::float8 * 1000 as ms
       from meshhook.runs where workflow_id = $1`,
      [workflow.id],
    );
    expect(rows).toHaveLength(N + M);
    const histogram = 'meshhook_run_duration_seconds';
    const bucket = (le: string) =>
      sampleValue(families, histogram, `${histogram}_bucket`, { ...labels(), le });
    for (const le of BUCKETS_S) {
      // Every bucket bound is a duration cell bound, so the bucket is exact.
      expect(DURATION_CELL_BOUNDS).toContain(le * 1000);
      expect([le, bucket(String(le))]).toEqual([le, rows.filter((r) => r.ms < le * 1000).length]);
    }
    expect(bucket('+Inf')).toBe(N + M);
    expect(sampleValue(families, histogram, `${histogram}_count`, labels())).toBe(N + M);
    const les = families
      .get(histogram)!
      .samples.filter((s) => s.name === `${histogram}_bucket` && s.labels.workflow === 'flaky')
      .map((s) => s.labels.le);
    expect(les).toEqual([...BUCKETS_S.map(String), '+Inf']);

    // _sum is an estimate from cell midpoints: within 14% of the true sum for runs over 1 ms.
    const sum = sampleValue(families, histogram, `${histogram}_sum`, labels())!;
    const exact = rows.reduce((total, r) => total + r.ms, 0) / 1000;
    expect(rows.every((r) => r.ms >= 1)).toBe(true);
    expect(Math.abs(sum - exact)).toBeLessThanOrEqual(0.14 * exact);
    expect(families.get(histogram)!.help).toMatch(/_sum is an estimate/);
  });

  it('counts the settled steps of each workflow by outcome, as the step rows say', async () => {
    const { rows } = await mh.db.pool.query<{ slug: string; status: string; n: number }>(
      `select w.slug, t.status, sum(t.n)::int as n
       from meshhook.run_steps s
       join meshhook.runs r on r.id = s.run_id
       join meshhook.workflows w on w.id = r.workflow_id
       cross join lateral (values (s.status, 1), ('retried', greatest(s.attempts - 1, 0))) t(status, n)
       where r.project_id = $1
       group by w.slug, t.status`,
      [projectId],
    );
    const direct = (slug: string, status: string) =>
      rows.find((r) => r.slug === slug && r.status === status)?.n ?? 0;
    for (const slug of ['flaky', 'unreachable']) {
      for (const status of ['succeeded', 'failed', 'retried', 'canceled']) {
        const counted = sampleValue(families, 'meshhook_steps_total', 'meshhook_steps_total', {
          project: projectId,
          workflow: slug,
          status,
        });
        expect([slug, status, counted]).toEqual([slug, status, direct(slug, status)]);
      }
    }
    // Three steps a run (the trigger, the branch, one of its two ends), all succeeded.
    expect(direct('flaky', 'succeeded')).toBe(3 * (N + M));
    // The trigger succeeded; the call was retried once and then failed.
    expect(direct('unreachable', 'succeeded')).toBe(K);
    expect(direct('unreachable', 'retried')).toBe(K);
    expect(direct('unreachable', 'failed')).toBe(K);
  });

  it('gives the queue by state, and how long its oldest ready job has waited', async () => {
    const queue = (f: Map<string, Family>, state: string) =>
      sampleValue(f, 'meshhook_queue_jobs', 'meshhook_queue_jobs', { state });
    // Every run is final: nothing is queued.
    for (const state of ['ready', 'leased', 'scheduled']) expect(queue(families, state)).toBe(0);
    const oldest = 'meshhook_queue_oldest_ready_seconds';
    expect(sampleValue(families, oldest, oldest, {})).toBe(0);

    // A job due in an hour is scheduled, not ready (no worker takes it).
    const { rows } = await mh.db.pool.query<{ id: string }>(
      `insert into meshhook.step_jobs (project_id, run_id, node_id, run_at)
       select project_id, id, 'later', now() + interval '1 hour'
       from meshhook.runs where workflow_id = $1 limit 1
       returning id`,
      [workflow.id],
    );
    try {
      const after = await metrics();
      expect(queue(after, 'scheduled')).toBe(1);
      expect(queue(after, 'ready')).toBe(0);
    } finally {
      await mh.db.pool.query(`delete from meshhook.step_jobs where id = $1`, [rows[0]!.id]);
    }
  });

  it('reads the same totals from the database in any process', async () => {
    // Another app's registry on the same database (another web process, or this one restarted).
    const other = createPrometheusMetrics({
      pool: mh.db.pool,
      logHub: mh.running.logHub!,
      errors: mh.running.errors,
    });
    const again = parseExposition(await other.render());
    const sorted = (f: Map<string, Family>, family: string) =>
      f
        .get(family)!
        .samples.map((s) => JSON.stringify(s))
        .sort();
    for (const family of [
      'meshhook_runs_total',
      'meshhook_run_duration_seconds',
      'meshhook_steps_total',
      'meshhook_errors_total',
    ]) {
      expect(sorted(again, family)).toEqual(sorted(families, family));
    }
  });
});

describe('log streams', () => {
  it('gives the log streams open on this process', async () => {
    const streams = async () =>
      sampleValue(await metrics(), 'meshhook_log_streams', 'meshhook_log_streams', {});
    expect(await streams()).toBe(0);
    const stream = await openSse(`${mh.url}/api/logs/stream`, { authorization: `Bearer ${key}` });
    try {
      expect(stream.status).toBe(200);
      await waitFor(async () => (await streams()) === 1, { what: 'the stream in /metrics' });
    } finally {
      stream.close();
    }
    await waitFor(async () => (await streams()) === 0, { what: 'the stream to leave /metrics' });
    const lagged = 'meshhook_log_streams_lagged_total';
    expect(sampleValue(await metrics(), lagged, lagged, {})).toBe(mh.running.logHub!.lagged);
  });
});
