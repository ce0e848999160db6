import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERTS_CHANNEL } from '../../src/db/queries/alert-delivery.ts';
import {
  createChannel,
  createRule,
  issuePaths,
  keyOf,
  webhookChannel,
  type Project,
} from '../helpers/alert-api.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { waitFor } from '../helpers/wait.ts';

const mh = useMeshHook({ roles: { web: true, worker: false } });
// Every process runs an alerter, which would evaluate and send what these tests write; they
// read the rows as the API left them.
beforeAll(() => mh.running.alerter.stop());

/** What arrives on the alerts notification channel, seen by a connection of its own. */
let heard: string[] = [];
let listener: pg.Client;
beforeAll(async () => {
  listener = new pg.Client({ connectionString: mh.db.url });
  await listener.connect();
  listener.on('notification', (n) => heard.push(...(n.payload ?? '').split(',')));
  await listener.query(`listen ${ALERTS_CHANNEL}`);
});
afterAll(async () => {
  await listener?.end();
});

const outbox = async (projectId: string) =>
  (
    await mh.db.pool.query(
      `select project_id, type, workflow_id, run_id, node_id, details
       from meshhook.alert_outbox where project_id = $1 order by id`,
      [projectId],
    )
  ).rows;

describe('a test message', () => {
  it('writes exactly one pending delivery of a test alert, and announces it', async () => {
    const p = await mh.project('test sends');
    const channel = await createChannel(mh, p.key);
    heard = [];
    const before = Date.now();
    const sent = await mh.api(p.key, 'POST', `/api/alerts/channels/${channel}/test`);
    expect(sent.status).toBe(202);
    expect(Object.keys(sent.body)).toEqual(['delivery_id']);

    const { rows } = await mh.db.pool.query(
      `select id, project_id, rule_id, channel_id, group_key, event, status, covers, message_id,
              attempts, due_at, alert
       from meshhook.alert_logs where channel_id = $1`,
      [channel],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({
      id: sent.body.delivery_id,
      project_id: p.id,
      rule_id: null,
      channel_id: channel,
      group_key: null,
      event: 'test',
      status: 'pending',
      covers: 1,
      message_id: sent.body.delivery_id,
      attempts: 0,
    });
    expect(row.due_at.getTime()).toBeLessThanOrEqual(Date.now());
    expect(row.alert).toEqual({
      type: 'test',
      project_id: p.id,
      workflow: null,
      run: null,
      node_id: null,
      error: null,
      attempts: null,
      covers: 1,
      rule: null,
      criticality: 'normal',
      template: null,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(Math.abs(Date.parse(row.alert.at) - before)).toBeLessThan(60_000);
    await waitFor(() => heard.includes('test'), { what: 'the test announcement' });

    const read = await mh.api(p.key, 'GET', `/api/alerts/log/${sent.body.delivery_id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id: sent.body.delivery_id,
      channel_id: channel,
      rule_id: null,
      event: 'test',
      status: 'pending',
      attempts: 0,
      attempt_log: [],
      alert: { type: 'test', project_id: p.id },
    });
    const listed = await mh.api(p.key, 'GET', '/api/alerts/log?event=test');
    expect(listed.body.items.map((i: any) => i.id)).toEqual([sent.body.delivery_id]);
  });

  it('needs an admin (403 for members, nothing written) and a channel of the project (404)', async () => {
    const p = await mh.project('test roles');
    const channel = await createChannel(mh, p.key);
    const member = await keyOf(mh, p, 'member');
    const refused = await mh.api(member, 'POST', `/api/alerts/channels/${channel}/test`);
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    const missing = await mh.api(p.key, 'POST', `/api/alerts/channels/${randomUUID()}/test`);
    expect(missing.status).toBe(404);
    const { rows } = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.alert_logs where project_id = $1`,
      [p.id],
    );
    expect(rows[0].n).toBe(0);
  });
});

describe('the internal trigger', () => {
  let p: Project;
  let workflow: { id: string; hook: string };
  beforeAll(async () => {
    p = await mh.project('triggers');
    workflow = await mh.publish(p.key, 'orders', chain());
  });

  it('queues nothing while the project has no enabled rule', async () => {
    const answer = await mh.api(p.key, 'POST', '/api/alerts/trigger', { type: 'worker_missing' });
    expect([answer.status, answer.body]).toEqual([202, { queued: false }]);
    expect(await outbox(p.id)).toEqual([]);
  });

  it('puts one event in the outbox, with its error, and announces it', async () => {
    await createRule(mh, p.key, { channels: [await createChannel(mh, p.key)] });
    heard = [];
    const answer = await mh.api(p.key, 'POST', '/api/alerts/trigger', {
      type: 'run_failed',
      workflow_id: workflow.id,
      node_id: 'charge',
      error: { type: 'http_5xx', message: 'upstream answered 503' },
    });
    expect([answer.status, answer.body]).toEqual([202, { queued: true }]);
    expect(await outbox(p.id)).toEqual([
      {
        project_id: p.id,
        type: 'run_failed',
        workflow_id: workflow.id,
        run_id: null,
        node_id: 'charge',
        details: { error: { type: 'http_5xx', message: 'upstream answered 503' } },
      },
    ]);
    await waitFor(() => heard.includes('failure'), { what: 'the failure announcement' });

    // A run names its workflow.
    const run = await mh.trigger(workflow.hook, { order: 1 });
    expect(run.status).toBe(202);
    const step = await mh.api(p.key, 'POST', '/api/alerts/trigger', {
      type: 'step_failed',
      run_id: run.body.run_id,
    });
    expect(step.status).toBe(202);
    expect((await outbox(p.id)).at(-1)).toMatchObject({
      type: 'step_failed',
      workflow_id: workflow.id,
      run_id: run.body.run_id,
    });
  });

  it('refuses members, viewers and bad bodies, writing nothing', async () => {
    const before = (await outbox(p.id)).length;
    for (const role of ['member', 'viewer']) {
      const key = await keyOf(mh, p, role);
      const refused = await mh.api(key, 'POST', '/api/alerts/trigger', { type: 'run_failed' });
      expect([role, refused.status]).toEqual([role, 403]);
    }
    const other = await mh.publish(p.key, 'other', chain());
    const run = await mh.trigger(workflow.hook, {});
    const cases: Array<[unknown, string]> = [
      [{ type: 'run_exploded' }, 'type'],
      [{}, 'type'],
      [{ type: 'run_failed', extra: 1 }, '(root)'],
      [{ type: 'run_failed', workflow_id: randomUUID() }, 'workflow_id'],
      [{ type: 'run_failed', run_id: randomUUID() }, 'run_id'],
      [{ type: 'run_failed', workflow_id: other.id, run_id: run.body.run_id }, 'run_id'],
      [{ type: 'run_failed', error: { type: 'Bad Type', message: 'x' } }, 'error.type'],
    ];
    for (const [body, path] of cases) {
      const answer = await mh.api(p.key, 'POST', '/api/alerts/trigger', body);
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), 422]);
      expect(issuePaths(answer)).toContain(path);
    }
    expect(await outbox(p.id)).toHaveLength(before);
  });
});

describe('the log', () => {
  let p: Project;
  let viewer: string;
  let ruleA: string;
  let ruleB: string;
  let ch1: string;
  let ch2: string;
  let workflow: string;
  const run = randomUUID();
  const ids: Record<string, string> = {};
  const message = randomUUID();
  const base = Date.now() - 3_600_000;

  /** Writes a log row as the engine would, created `minutes` after base; returns its id. */
  async function logRow(minutes: number, row: Record<string, unknown>): Promise<string> {
    const { rows } = await mh.db.pool.query<{ id: string }>(
      `insert into meshhook.alert_logs
         (created_at, project_id, rule_id, channel_id, event, status, covers, message_id,
          covered_by, reason, workflow_id, run_id, alert, attempts, last_error, permanent, sent_at)
       values ($1, $2, $3, $4, $5, $6, coalesce($7, 1), $8, $9, $10, $11, $12, '{}', coalesce($13, 0),
               $14, coalesce($15, false), $16)
       returning id`,
      [
        new Date(base + minutes * 60_000),
        p.id,
        row.rule ?? null,
        row.channel ?? null,
        row.event,
        row.status,
        row.covers ?? null,
        row.message ?? null,
        row.coveredBy ?? null,
        row.reason ?? null,
        row.workflow ?? null,
        row.run ?? null,
        row.attempts ?? null,
        row.lastError ?? null,
        row.permanent ?? null,
        row.sentAt ?? null,
      ],
    );
    return rows[0]!.id;
  }

  async function attempt(logId: string, n: number, outcome: string, statusCode: number | null) {
    await mh.db.pool.query(
      `insert into meshhook.alert_attempts
         (log_id, attempt, project_id, at, outcome, status_code, error, duration_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        logId,
        n,
        p.id,
        new Date(base + n * 1_000),
        outcome,
        statusCode,
        outcome === 'failed' ? `answered ${statusCode}` : null,
        40 + n,
      ],
    );
  }

  beforeAll(async () => {
    p = await mh.project('log');
    viewer = await keyOf(mh, p, 'viewer');
    ch1 = await createChannel(mh, p.key, webhookChannel('one'));
    ch2 = await createChannel(mh, p.key, webhookChannel('two'));
    ruleA = await createRule(mh, p.key, { name: 'a', channels: [ch1, ch2] });
    ruleB = await createRule(mh, p.key, { name: 'b', events: ['step_failed'], channels: [ch1] });
    workflow = (await mh.publish(p.key, 'orders', chain())).id;
    const common = { workflow, message };
    ids.sent = await logRow(1, {
      ...common,
      rule: ruleA,
      channel: ch1,
      event: 'run_failed',
      status: 'sent',
      covers: 2,
      attempts: 2,
      run,
      sentAt: new Date(base + 2_000),
    });
    await attempt(ids.sent, 2, 'sent', 200);
    await attempt(ids.sent, 1, 'failed', 503);
    ids.failed = await logRow(2, {
      ...common,
      rule: ruleA,
      channel: ch2,
      event: 'run_failed',
      status: 'failed',
      attempts: 1,
      lastError: 'answered 410',
      permanent: true,
    });
    await attempt(ids.failed, 1, 'failed', 410);
    ids.suppressed = await logRow(3, {
      rule: ruleA,
      event: 'run_failed',
      status: 'suppressed',
      workflow,
      coveredBy: message,
    });
    ids.muted = await logRow(4, {
      rule: ruleB,
      event: 'step_failed',
      status: 'muted',
      workflow,
      reason: 'quiet hours until 2030-01-01T06:00:00.000Z',
    });
    ids.sending = await logRow(5, {
      rule: ruleB,
      channel: ch1,
      event: 'step_failed',
      status: 'sending',
      attempts: 1,
    });
    ids.test = await logRow(6, { channel: ch2, event: 'test', status: 'pending' });
  });

  const listed = async (query = '', key = p.key) => {
    const answer = await mh.api(key, 'GET', `/api/alerts/log${query}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body.items.map((i: any) => i.id);
  };

  it('lists every decision newest first, each delivery with its attempts', async () => {
    const answer = await mh.api(viewer, 'GET', '/api/alerts/log');
    expect(answer.status).toBe(200);
    expect(answer.body.next_cursor).toBeNull();
    const items = answer.body.items;
    expect(items.map((i: any) => i.id)).toEqual(
      ['test', 'sending', 'muted', 'suppressed', 'failed', 'sent'].map((k) => ids[k]),
    );
    expect(items.map((i: any) => i.status)).toEqual([
      'pending',
      'pending',
      'muted',
      'suppressed',
      'failed',
      'sent',
    ]);
    const sent = items.at(-1);
    expect(Object.keys(sent).sort()).toEqual(
      [
        'id',
        'rule_id',
        'channel_id',
        'event',
        'status',
        'attempts',
        'last_error',
        'permanent',
        'created_at',
        'sent_at',
        'covers',
        'covered_by',
        'message_id',
        'reason',
        'workflow_id',
        'run_id',
        'attempt_log',
      ].sort(),
    );
    expect(sent).toMatchObject({
      rule_id: ruleA,
      channel_id: ch1,
      event: 'run_failed',
      attempts: 2,
      covers: 2,
      message_id: message,
      workflow_id: workflow,
      run_id: run,
      created_at: new Date(base + 60_000).toISOString(),
      sent_at: new Date(base + 2_000).toISOString(),
    });
    expect(sent.attempt_log).toEqual([
      {
        attempt: 1,
        at: new Date(base + 1_000).toISOString(),
        outcome: 'failed',
        status_code: 503,
        error: 'answered 503',
        duration_ms: 41,
      },
      {
        attempt: 2,
        at: new Date(base + 2_000).toISOString(),
        outcome: 'sent',
        status_code: 200,
        error: null,
        duration_ms: 42,
      },
    ]);
    expect(items.find((i: any) => i.id === ids.failed)).toMatchObject({
      permanent: true,
      last_error: 'answered 410',
      attempt_log: [{ attempt: 1, outcome: 'failed', status_code: 410 }],
    });
    expect(items.find((i: any) => i.id === ids.suppressed)).toMatchObject({
      channel_id: null,
      covered_by: message,
      attempt_log: [],
    });
    expect(items.find((i: any) => i.id === ids.muted).reason).toContain('quiet hours');
  });

  it('filters by rule, channel, status, event, workflow and run', async () => {
    const of = (...keys: string[]) => keys.map((k) => ids[k]);
    expect(await listed(`?rule=${ruleA}`)).toEqual(of('suppressed', 'failed', 'sent'));
    expect(await listed(`?channel=${ch1}`)).toEqual(of('sending', 'sent'));
    expect(await listed('?status=pending')).toEqual(of('test', 'sending'));
    expect(await listed('?status=sent,failed')).toEqual(of('failed', 'sent'));
    expect(await listed('?event=step_failed')).toEqual(of('sending', 'muted'));
    expect(await listed('?event=test,run_failed&status=pending')).toEqual(of('test'));
    expect(await listed(`?workflow=${workflow}`)).toEqual(
      of('muted', 'suppressed', 'failed', 'sent'),
    );
    expect(await listed('?workflow=orders&status=muted')).toEqual(of('muted'));
    expect(await listed(`?run=${run}`)).toEqual(of('sent'));
    expect(await listed(`?rule=${ruleA}&channel=${ch2}`)).toEqual(of('failed'));
    expect(await listed(`?rule=${randomUUID()}`)).toEqual([]);
  });

  it('pages with a cursor, newest first, with no row twice or left out', async () => {
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const answer: any = await mh.api(
        p.key,
        'GET',
        `/api/alerts/log?limit=4${next ? `&cursor=${next}` : ''}`,
      );
      seen.push(...answer.body.items.map((i: any) => i.id));
      next = answer.body.next_cursor;
      pages++;
    } while (next);
    expect(pages).toBe(2);
    expect(seen).toEqual(await listed());
    const filtered = await mh.api(p.key, 'GET', `/api/alerts/log?rule=${ruleA}&limit=2`);
    const rest = await mh.api(
      p.key,
      'GET',
      `/api/alerts/log?rule=${ruleA}&limit=2&cursor=${filtered.body.next_cursor}`,
    );
    expect([...filtered.body.items, ...rest.body.items].map((i: any) => i.id)).toEqual([
      ids.suppressed,
      ids.failed,
      ids.sent,
    ]);
    expect(rest.body.next_cursor).toBeNull();
  });

  it('refuses bad parameters with 400 naming them, an unknown workflow with 404', async () => {
    for (const [query, path] of [
      ['?status=sending', 'status'],
      ['?status=sent,lost', 'status'],
      ['?event=run_exploded', 'event'],
      ['?rule=abc', 'rule'],
      ['?channel=abc', 'channel'],
      ['?run=abc', 'run'],
      ['?limit=501', 'limit'],
    ]) {
      const answer = await mh.api(p.key, 'GET', `/api/alerts/log${query}`);
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, 'bad_request']);
      expect(issuePaths(answer)).toEqual([path]);
    }
    expect((await mh.api(p.key, 'GET', '/api/alerts/log?cursor=abc')).status).toBe(400);
    expect((await mh.api(p.key, 'GET', '/api/alerts/log?workflow=nope')).status).toBe(404);
    expect((await mh.api(p.key, 'GET', `/api/alerts/log/${randomUUID()}`)).status).toBe(404);
    expect((await mh.api(p.key, 'GET', '/api/alerts/log/abc')).status).toBe(404);
  });

  it('reads one row with its alert', async () => {
    const one = await mh.api(viewer, 'GET', `/api/alerts/log/${ids.sent}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: ids.sent, status: 'sent', alert: {} });
    expect(one.body.attempt_log).toHaveLength(2);
  });
});
