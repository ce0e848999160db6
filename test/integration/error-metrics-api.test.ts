import { beforeAll, describe, expect, it } from 'vitest';
import type { CapturedError } from '../../src/core/error-events.ts';
import { withTenant } from '../../src/db/client.ts';
import { recordErrors } from '../../src/db/queries/error-events.ts';
import { failure, repeated } from '../helpers/errors.ts';
import { createRuns, finishRuns } from '../helpers/log-lines.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook();

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// The start of the last whole hour: inside the minute retention, and past.
const hour0 = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
const iso = (t: number) => new Date(t).toISOString();
const record = (errors: CapturedError[]) => recordErrors(mh.db.pool, errors);
const list = (key: string, query = '') => mh.api(key, 'GET', `/api/errors${query}`);
const zero = { low: 0, medium: 0, high: 0 };

let m: { id: string; key: string };
let checkout: { id: string };
let billing: { id: string };

/** Finishes `count` runs of a workflow at exactly `at`, as the engine does (and counts them). */
async function finishAt(workflowId: string, count: number, at: number) {
  const runs = await createRuns(mh.db.pool, { projectId: m.id, workflowId, count });
  await finishRuns(
    mh.db.pool,
    runs.map((r) => r.runId),
    { at: new Date(at), tookMs: 10 },
  );
}

beforeAll(async () => {
  m = await mh.project('error-metrics');
  checkout = await mh.publish(m.key, 'checkout', chain());
  billing = await mh.publish(m.key, 'billing', chain());
  await record([
    // The minute and the hour before hour0, by one millisecond.
    ...repeated(m, { message: 'charge failed', severity: 'high', workflowId: checkout.id }, [
      hour0 - 1,
      hour0 - 1,
    ]),
    ...repeated(
      m,
      { message: 'deadlock', source: 'api', errorType: 'db_error', severity: 'medium' },
      [hour0, hour0, hour0],
    ),
    failure(m, {
      message: 'TypeError',
      source: 'web',
      errorType: 'browser_error',
      severity: 'low',
      workflowId: billing.id,
      ts: hour0 + MINUTE - 1,
    }),
    ...repeated(m, { message: 'invoice failed', severity: 'low', workflowId: billing.id }, [
      hour0 + MINUTE,
      hour0 + MINUTE,
      hour0 + MINUTE + 1,
      hour0 + 2 * MINUTE - 1,
    ]),
  ]);
  await finishAt(checkout.id, 4, hour0 + 30_000);
  await finishAt(billing.id, 1, hour0 - 30_000);
});

const metrics = (query: string) => mh.api(m.key, 'GET', `/api/error-metrics?${query}`);
const around = `from=${iso(hour0 - 2 * MINUTE)}&to=${iso(hour0 + 2 * MINUTE)}`;
const counts = (answer: { body: { buckets: Array<{ count: number }> } }) =>
  answer.body.buckets.map((b) => b.count);

describe('error metrics', () => {
  it('count by UTC minute and hour, split exactly at the boundaries, every bucket present', async () => {
    const minutes = await metrics(`${around}&bucket=minute`);
    expect(minutes.status).toBe(200);
    expect(minutes.body.range).toEqual({
      from: iso(hour0 - 2 * MINUTE),
      to: iso(hour0 + 2 * MINUTE),
    });
    expect(minutes.body.bucket).toBe('minute');
    expect(minutes.body.buckets).toEqual([
      { start: iso(hour0 - 2 * MINUTE), count: 0, by_severity: zero, by_source: {}, by_type: {} },
      {
        start: iso(hour0 - MINUTE),
        count: 2,
        by_severity: { ...zero, high: 2 },
        by_source: { worker: 2 },
        by_type: { http_5xx: 2 },
      },
      {
        start: iso(hour0),
        count: 4,
        by_severity: { ...zero, medium: 3, low: 1 },
        by_source: { api: 3, web: 1 },
        by_type: { db_error: 3, browser_error: 1 },
      },
      {
        start: iso(hour0 + MINUTE),
        count: 4,
        by_severity: { ...zero, low: 4 },
        by_source: { worker: 4 },
        by_type: { http_5xx: 4 },
      },
    ]);
    expect(minutes.body.totals).toEqual({
      total: 10,
      by_source: { worker: 6, api: 3, web: 1 },
      by_type: { http_5xx: 6, db_error: 3, browser_error: 1 },
      by_severity: { low: 5, medium: 3, high: 2 },
      runs: 5,
      per_run: 2,
      per_minute: 2.5,
    });

    const hours = await metrics(`from=${iso(hour0 - HOUR)}&to=${iso(hour0 + HOUR)}&bucket=hour`);
    expect(hours.body.buckets.map((b: any) => [b.start, b.count])).toEqual([
      [iso(hour0 - HOUR), 2],
      [iso(hour0), 8],
    ]);
    expect(hours.body.totals).toMatchObject({
      total: 10,
      runs: 5,
      per_run: 2,
      per_minute: 10 / 120,
    });

    // An unaligned range counts the buckets starting in it, like the run metrics.
    const unaligned = await metrics(
      `from=${iso(hour0 - 90_000)}&to=${iso(hour0 + 30_000)}&bucket=minute`,
    );
    expect(unaligned.body.range).toEqual({ from: iso(hour0 - MINUTE), to: iso(hour0 + MINUTE) });
    expect(counts(unaligned)).toEqual([2, 4]);
    expect(unaligned.body.totals.per_minute).toBe(3);
  });

  it('filter by source, type, severity and workflow, and divide by the runs of that workflow', async () => {
    const cases: Array<[string, number[]]> = [
      ['source=worker', [0, 2, 0, 4]],
      ['source=api,web', [0, 0, 4, 0]],
      ['type=db_error', [0, 0, 3, 0]],
      ['severity=low,medium', [0, 0, 4, 4]],
      ['workflow=billing', [0, 0, 1, 4]],
      [`workflow=${checkout.id}`, [0, 2, 0, 0]],
      ['workflow=billing&severity=high', [0, 0, 0, 0]],
    ];
    for (const [filter, expected] of cases) {
      expect([filter, counts(await metrics(`${around}&bucket=minute&${filter}`))]).toEqual([
        filter,
        expected,
      ]);
    }
    const billed = await metrics(`${around}&workflow=billing`);
    expect(billed.body.totals).toMatchObject({ total: 5, runs: 1, per_run: 5 });
    expect(billed.body.totals.by_severity).toEqual({ low: 5, medium: 0, high: 0 });
    const checkedOut = await metrics(`${around}&workflow=checkout`);
    expect(checkedOut.body.totals).toMatchObject({ total: 2, runs: 4, per_run: 0.5 });

    const quiet = await metrics(`from=${iso(hour0 - 4 * DAY)}&to=${iso(hour0 - 3 * DAY)}`);
    expect(quiet.body.bucket).toBe('hour');
    expect(quiet.body.buckets).toHaveLength(24);
    expect(quiet.body.buckets[0]).toEqual({
      start: iso(hour0 - 4 * DAY),
      count: 0,
      by_severity: zero,
      by_source: {},
      by_type: {},
    });
    expect(quiet.body.totals).toEqual({
      total: 0,
      by_source: {},
      by_type: {},
      by_severity: zero,
      runs: 0,
      per_run: null,
      per_minute: 0,
    });
  });

  it('choose the grain like the run metrics and refuse what they refuse', async () => {
    const lastHour = await metrics('range=1h');
    expect([lastHour.body.bucket, lastHour.body.buckets.length]).toEqual(['minute', 60]);
    expect((await metrics('range=30d')).body.bucket).toBe('day');
    const bad: Array<[string, string]> = [
      ['range=30d&bucket=minute', 'invalid_range'],
      [`from=${iso(hour0)}&to=${iso(hour0 - HOUR)}`, 'invalid_range'],
      [`range=1h&from=${iso(hour0)}`, 'invalid_range'],
      ['range=soon', 'bad_request'],
      ['bucket=week', 'bad_request'],
      ['source=mars', 'bad_request'],
      ['type=Bad-Type', 'bad_request'],
      ['severity=urgent', 'bad_request'],
    ];
    for (const [query, code] of bad) {
      const answer = await metrics(query);
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, code]);
    }
    expect((await metrics('range=1h&workflow=nope')).status).toBe(404);
  });
});

describe('tenancy', () => {
  it("never shows, changes or attaches to another project's errors", async () => {
    const a = await mh.project('tenant-a');
    const b = await mh.project('tenant-b');
    const flow = await mh.publish(a.key, 'private', chain());
    const [aRun] = await createRuns(mh.db.pool, { projectId: a.id, workflowId: flow.id, count: 1 });
    await record([
      failure(a, { message: 'secret failure', ts: hour0, workflowId: flow.id, runId: aRun!.runId }),
    ]);
    const issue = (await list(a.key)).body.items[0];
    expect(issue.title).toBe('secret failure');

    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { status: 'resolved' }],
    ] as const) {
      const answer = await mh.api(b.key, method, `/api/errors/${issue.id}`, body);
      expect([method, answer.status, answer.body.error.code]).toEqual([method, 404, 'not_found']);
    }
    expect((await list(b.key, '?status=all')).body.items).toEqual([]);
    expect((await list(b.key, `?run=${aRun!.runId}`)).body.items).toEqual([]);
    expect((await list(b.key, `?workflow=${flow.id}`)).status).toBe(404);
    const metrics = await mh.api(
      b.key,
      'GET',
      `/api/error-metrics?from=${iso(hour0 - MINUTE)}&to=${iso(hour0 + MINUTE)}`,
    );
    expect(metrics.body.totals.total).toBe(0);
    expect(metrics.body.buckets.every((x: any) => x.count === 0)).toBe(true);
    expect(
      (await mh.api(b.key, 'GET', `/api/error-metrics?range=1h&workflow=${flow.id}`)).status,
    ).toBe(404);

    const report = { source: 'api', error_type: 'internal', severity: 'high', message: 'planted' };
    for (const extra of [{ run_id: aRun!.runId }, { workflow_id: flow.id }]) {
      const posted = await mh.api(b.key, 'POST', '/api/error-events', { ...report, ...extra });
      expect([posted.status, posted.body.error.code]).toEqual([422, 'validation_failed']);
      expect(posted.body.error.details.issues[0].path).toBe(Object.keys(extra)[0]);
    }
    const planted = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.error_events where project_id = $1 or run_id = $2`,
      [b.id, aRun!.runId],
    );
    expect(planted.rows[0].n).toBe(1); // A's own

    // And in SQL: B's claims see none of A's rows.
    const keyId = (
      await mh.db.pool.query(`select id from meshhook.api_keys where project_id = $1`, [b.id])
    ).rows[0].id;
    const seen = await withTenant(mh.db.pool, { key_id: keyId }, async (db) => {
      const counts = [];
      for (const table of ['error_issues', 'error_events', 'error_counts']) {
        counts.push((await db.query(`select count(*)::int as n from ${table}`)).rows[0].n);
      }
      return counts;
    });
    expect(seen).toEqual([0, 0, 0]);
    expect((await mh.api(a.key, 'GET', `/api/errors/${issue.id}`)).body.status).toBe('unresolved');
  });
});
