import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CapturedError } from '../../src/core/error-events.ts';
import { recordErrors } from '../../src/db/queries/error-events.ts';
import { failure, repeated } from '../helpers/errors.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook();

const MINUTE = 60_000;
// Whole minutes an hour back: inside every retention, and past, so nothing else lands there.
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;
const iso = (t: number) => new Date(t).toISOString();

const record = (errors: CapturedError[]) => recordErrors(mh.db.pool, errors);
const list = (key: string, query = '') => mh.api(key, 'GET', `/api/errors${query}`);
const titles = (answer: { body: { items: Array<{ title: string }> } }) =>
  answer.body.items.map((i) => i.title);

/** A second key of a project, with a role. */
async function keyOf(project: { id: string; key: string }, role: string): Promise<string> {
  const created = await mh.api(project.key, 'POST', `/api/projects/${project.id}/api-keys`, {
    name: role,
    role,
  });
  expect(created.status).toBe(201);
  return created.body.key;
}

describe('grouping', () => {
  it('counts 1,000 repeats of one failure as one issue, and two failures as two', async () => {
    const g = await mh.project('grouping');
    const same = Array.from({ length: 1_000 }, (_, i) =>
      failure(g, { message: `upstream answered 503 after ${i + 1} ms`, ts: base + i }),
    );
    expect(await record(same)).toBe(1_000);
    await record([
      failure(g, {
        message: 'expression failed: unknown function foo',
        errorType: 'expression_error',
        ts: base + 5_000,
      }),
    ]);

    const listed = await list(g.key, '?sort=count');
    expect(listed.status).toBe(200);
    expect(listed.body.next_cursor).toBeNull();
    expect(
      listed.body.items.map((i: any) => [
        i.title,
        i.count,
        i.error_type,
        i.first_seen,
        i.last_seen,
      ]),
    ).toEqual([
      ['upstream answered 503 after 1000 ms', 1_000, 'http_5xx', iso(base), iso(base + 999)],
      [
        'expression failed: unknown function foo',
        1,
        'expression_error',
        iso(base + 5_000),
        iso(base + 5_000),
      ],
    ]);
    expect(Object.keys(listed.body.items[0]).sort()).toEqual(
      [
        'id',
        'fingerprint',
        'title',
        'source',
        'error_type',
        'severity',
        'status',
        'count',
        'first_seen',
        'last_seen',
        'workflow_id',
        'node_id',
        'regressed_at',
        'status_changed_at',
      ].sort(),
    );
    const stored = await mh.db.pool.query(
      `select (select count(*)::int from meshhook.error_events where project_id = $1) as events,
              (select sum(count)::int from meshhook.error_counts where project_id = $1 and grain = 'all') as counted`,
      [g.id],
    );
    expect(stored.rows[0]).toEqual({ events: 1_001, counted: 1_001 });
  });

  it('reopens a resolved issue as regressed when it recurs, and leaves an ignored one be', async () => {
    const r = await mh.project('regressions');
    await record([
      failure(r, { message: 'flaky upstream', ts: base }),
      failure(r, { message: 'noisy upstream', ts: base + 1 }),
    ]);
    const flaky = (await list(r.key, '?q=flaky')).body.items[0];
    const noisy = (await list(r.key, '?q=noisy')).body.items[0];

    const resolved = await mh.api(r.key, 'PATCH', `/api/errors/${flaky.id}`, {
      status: 'resolved',
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ id: flaky.id, status: 'resolved', regressed_at: null });
    const changedAt = Date.parse(resolved.body.status_changed_at);
    expect(Math.abs(changedAt - Date.now())).toBeLessThan(60_000);
    expect(titles(await list(r.key))).toEqual(['noisy upstream']);
    expect(titles(await list(r.key, '?status=resolved'))).toEqual(['flaky upstream']);
    await mh.api(r.key, 'PATCH', `/api/errors/${noisy.id}`, { status: 'ignored' });

    await record([
      failure(r, { message: 'flaky upstream', ts: base + MINUTE }),
      failure(r, { message: 'noisy upstream', ts: base + MINUTE }),
    ]);
    const again = await mh.api(r.key, 'GET', `/api/errors/${flaky.id}`);
    expect(again.body).toMatchObject({
      status: 'regressed',
      regressed_at: iso(base + MINUTE),
      status_changed_at: resolved.body.status_changed_at,
      count: 2,
      last_seen: iso(base + MINUTE),
    });
    const stillIgnored = await mh.api(r.key, 'GET', `/api/errors/${noisy.id}`);
    expect(stillIgnored.body).toMatchObject({ status: 'ignored', regressed_at: null, count: 2 });
    // Open means needing a look: the regressed one, not the ignored one.
    expect(titles(await list(r.key))).toEqual(['flaky upstream']);
    expect(titles(await list(r.key, '?status=regressed'))).toEqual(['flaky upstream']);
    expect((await list(r.key, '?status=all')).body.items).toHaveLength(2);
  });
});

describe('the list', () => {
  let s: { id: string; key: string };
  let orders: { id: string };
  const run = randomUUID();

  beforeAll(async () => {
    s = await mh.project('listing');
    orders = await mh.publish(s.key, 'orders', chain());
    await record([
      ...repeated(
        s,
        {
          message: 'charge failed',
          severity: 'high',
          workflowId: orders.id,
          runId: run,
          nodeId: 'charge',
        },
        [base + MINUTE, base + 2 * MINUTE, base + 3 * MINUTE],
      ),
      failure(s, {
        message: 'deadlock detected',
        source: 'api',
        errorType: 'db_error',
        severity: 'medium',
        ts: base + 10 * MINUTE,
      }),
      ...repeated(
        s,
        {
          message: 'bad signature',
          source: 'webhook',
          errorType: 'signature_invalid',
          severity: 'low',
        },
        [base + 5 * MINUTE, base + 20 * MINUTE],
      ),
      ...repeated(
        s,
        {
          message: 'TypeError in checkout page',
          source: 'web',
          errorType: 'browser_error',
          severity: 'medium',
        },
        [0, 1, 2, 3, 4].map((n) => base + n * 1_000),
      ),
    ]);
  });

  it('sorts by last and first sight, count and severity, either way', async () => {
    const cases: Array<[string, string[]]> = [
      ['', ['bad signature', 'deadlock detected', 'charge failed', 'TypeError in checkout page']],
      [
        '?sort=last_seen&order=asc',
        ['TypeError in checkout page', 'charge failed', 'deadlock detected', 'bad signature'],
      ],
      [
        '?sort=first_seen&order=asc',
        ['TypeError in checkout page', 'charge failed', 'bad signature', 'deadlock detected'],
      ],
      [
        '?sort=count',
        ['TypeError in checkout page', 'charge failed', 'bad signature', 'deadlock detected'],
      ],
      [
        '?sort=count&order=asc',
        ['deadlock detected', 'bad signature', 'charge failed', 'TypeError in checkout page'],
      ],
    ];
    for (const [query, expected] of cases) {
      expect([query, titles(await list(s.key, query))]).toEqual([query, expected]);
    }
    const bySeverity = await list(s.key, '?sort=severity');
    expect(bySeverity.body.items.map((i: any) => i.severity)).toEqual([
      'high',
      'medium',
      'medium',
      'low',
    ]);
    const charge = bySeverity.body.items[0];
    expect(charge).toMatchObject({
      title: 'charge failed',
      source: 'worker',
      error_type: 'http_5xx',
      status: 'unresolved',
      count: 3,
      first_seen: iso(base + MINUTE),
      last_seen: iso(base + 3 * MINUTE),
      workflow_id: orders.id,
      node_id: 'charge',
      regressed_at: null,
      status_changed_at: null,
    });
    expect(charge.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it('filters by status, source, type, severity, workflow, run and title text', async () => {
    const cases: Array<[string, string[]]> = [
      ['?source=worker,api', ['deadlock detected', 'charge failed']],
      ['?source=web&severity=medium', ['TypeError in checkout page']],
      ['?type=signature_invalid,db_error', ['bad signature', 'deadlock detected']],
      ['?severity=high', ['charge failed']],
      ['?workflow=orders', ['charge failed']],
      [`?workflow=${orders.id}`, ['charge failed']],
      [`?run=${run}`, ['charge failed']],
      [`?run=${randomUUID()}`, []],
      ['?q=DEADLOCK', ['deadlock detected']],
      ['?q=%25', []], // a literal %, not a wildcard
      ['?status=resolved', []],
      ['?status=all&source=webhook', ['bad signature']],
    ];
    for (const [query, expected] of cases) {
      expect([query, titles(await list(s.key, query))]).toEqual([query, expected]);
    }
  });

  it('pages with a cursor that holds its place, and refuses one of another sort', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const page: any = await list(s.key, `?sort=count&limit=1${next ? `&cursor=${next}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...titles(page));
      next = page.body.next_cursor;
      pages++;
    } while (next && pages < 10);
    expect(seen).toEqual([
      'TypeError in checkout page',
      'charge failed',
      'bad signature',
      'deadlock detected',
    ]);
    expect(pages).toBe(4);

    const first = await list(s.key, '?sort=last_seen&limit=2');
    const rest = await list(s.key, `?sort=last_seen&limit=2&cursor=${first.body.next_cursor}`);
    expect([...titles(first), ...titles(rest)]).toEqual(titles(await list(s.key)));
    const mixed = await list(s.key, `?sort=count&cursor=${first.body.next_cursor}`);
    expect([mixed.status, mixed.body.error.code]).toEqual([400, 'bad_request']);
  });

  it('refuses unknown values with 400 naming the parameter', async () => {
    const bad: Array<[string, string]> = [
      ['?source=worker,mars', 'source'],
      ['?type=Not-A-Type', 'type'],
      ['?severity=urgent', 'severity'],
      ['?status=closed', 'status'],
      ['?sort=mood', 'sort'],
      ['?order=sideways', 'order'],
      ['?limit=0', 'limit'],
      ['?limit=501', 'limit'],
      ['?run=not-a-uuid', 'run'],
    ];
    for (const [query, parameter] of bad) {
      const answer = await list(s.key, query);
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, 'bad_request']);
      expect(answer.body.error.details.issues[0].path).toBe(parameter);
      expect(answer.body.error.message).toContain(parameter);
    }
    expect((await list(s.key, '?cursor=garbage')).status).toBe(400);
    const unknownFlow = await list(s.key, '?workflow=nope');
    expect([unknownFlow.status, unknownFlow.body.error.code]).toEqual([404, 'not_found']);
    expect((await list(s.key, '?limit=500')).status).toBe(200);
  });
});

describe('one issue', () => {
  it('comes with its recent events, newest first, and the runs they happened in', async () => {
    const p = await mh.project('detail');
    const [r1, r2, r3] = [randomUUID(), randomUUID(), randomUUID()];
    const input = {
      message: 'upstream answered 502',
      nodeId: 'call',
      stack: 'Error: upstream answered 502\n    at call (/srv/src/engine/nodes/http-call.ts:10:5)',
      metadata: { status: 502 },
    };
    await record([
      ...repeated(p, { ...input, runId: r1 }, [base, base + 1_000, base + 2_000]),
      ...repeated(p, { ...input, runId: r2 }, [base + 10_000, base + 11_000]),
      ...repeated(p, { ...input, runId: r3 }, [base + 20_000]),
      ...repeated(p, input, [base + 30_000]),
    ]);
    const issue = (await list(p.key)).body.items[0];
    const answer = await mh.api(p.key, 'GET', `/api/errors/${issue.id}`);
    expect(answer.status).toBe(200);
    const { events, runs, ...rest } = answer.body;
    expect(rest).toEqual(issue);
    expect(events.map((e: any) => e.ts)).toEqual(
      [30_000, 20_000, 11_000, 10_000, 2_000, 1_000, 0].map((d) => iso(base + d)),
    );
    expect(events[1]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ts: iso(base + 20_000),
      source: 'worker',
      error_type: 'http_5xx',
      severity: 'medium',
      message: 'upstream answered 502',
      stack: input.stack,
      workflow_id: null,
      run_id: r3,
      node_id: 'call',
      user_id: null,
      metadata: { status: 502 },
    });
    expect(runs).toEqual([
      { run_id: r1, count: 3, last_seen: iso(base + 2_000) },
      { run_id: r2, count: 2, last_seen: iso(base + 11_000) },
      { run_id: r3, count: 1, last_seen: iso(base + 20_000) },
    ]);

    await record(
      repeated(
        p,
        { message: 'often' },
        Array.from({ length: 60 }, (_, i) => base + i),
      ),
    );
    const often = (await list(p.key, '?q=often')).body.items[0];
    const busy = await mh.api(p.key, 'GET', `/api/errors/${often.id}`);
    expect(busy.body.count).toBe(60);
    expect(busy.body.events).toHaveLength(50);
    expect(busy.body.events[0].ts).toBe(iso(base + 59));
    expect(busy.body.runs).toEqual([]);

    for (const id of [randomUUID(), 'not-a-uuid']) {
      const missing = await mh.api(p.key, 'GET', `/api/errors/${id}`);
      expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
    }
  });

  it('changes status for members and above; viewers get 403; other values 422', async () => {
    const p = await mh.project('triage');
    await record([failure(p, { message: 'to triage', ts: base })]);
    const issue = (await list(p.key)).body.items[0];
    const [member, viewer] = [await keyOf(p, 'member'), await keyOf(p, 'viewer')];

    const refused = await mh.api(viewer, 'PATCH', `/api/errors/${issue.id}`, { status: 'ignored' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect((await mh.api(viewer, 'GET', `/api/errors/${issue.id}`)).body.status).toBe('unresolved');
    const ignored = await mh.api(member, 'PATCH', `/api/errors/${issue.id}`, { status: 'ignored' });
    expect([ignored.status, ignored.body.status]).toEqual([200, 'ignored']);
    const reopened = await mh.api(member, 'PATCH', `/api/errors/${issue.id}`, {
      status: 'unresolved',
    });
    expect(reopened.body.status).toBe('unresolved');

    for (const body of [
      { status: 'regressed' },
      { status: 'done' },
      {},
      { status: 'resolved', note: 'x' },
    ]) {
      const answer = await mh.api(p.key, 'PATCH', `/api/errors/${issue.id}`, body);
      expect([JSON.stringify(body), answer.status, answer.body.error.code]).toEqual([
        JSON.stringify(body),
        422,
        'validation_failed',
      ]);
    }
    const badJson = await fetch(`${mh.url}/api/errors/${issue.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
      body: '{"status":',
    });
    expect(badJson.status).toBe(400);
    expect((await mh.api(p.key, 'GET', `/api/errors/${issue.id}`)).body.status).toBe('unresolved');
  });
});
