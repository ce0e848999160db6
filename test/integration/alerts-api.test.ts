import { beforeAll, describe, expect, it } from 'vitest';
import {
  createChannel,
  createRule,
  issuePaths,
  keyOf,
  SLACK_URL,
  WEBHOOK_SECRET,
  webhookChannel,
  type Project,
} from '../helpers/alert-api.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient } from '../helpers/session.ts';

const mh = useMeshHook({ roles: { web: true, worker: false } });
// Every process runs an alerter, which would evaluate and send what these tests write; they
// read the rows as the API left them.
beforeAll(() => mh.running.alerter.stop());

const storedConfig = async (id: string) =>
  (await mh.db.pool.query(`select config from meshhook.alert_channels where id = $1`, [id])).rows[0]
    ?.config;

const CHANNEL_KEYS = [
  'id',
  'name',
  'type',
  'config',
  'has_secret',
  'created_at',
  'updated_at',
  'last_status',
  'last_attempt_at',
  'last_error',
  'failing_since',
].sort();

describe('channels', () => {
  let p: Project;
  beforeAll(async () => {
    p = await mh.project('channels');
  });

  it('masks credentials in every answer and keeps them whole in the database', async () => {
    const created = await mh.api(p.key, 'POST', '/api/alerts/channels', webhookChannel());
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(CHANNEL_KEYS);
    expect(created.body).toMatchObject({
      name: 'ops hook',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/hook', secret: '••••cdef' },
      has_secret: true,
      last_status: null,
      last_attempt_at: null,
      last_error: null,
      failing_since: null,
    });
    expect(await storedConfig(created.body.id)).toEqual({
      url: 'http://127.0.0.1:9/hook',
      secret: WEBHOOK_SECRET,
    });

    const slack = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: 'slack',
      type: 'slack',
      config: { webhook_url: SLACK_URL },
    });
    expect(slack.status).toBe(201);
    expect(slack.body.config).toEqual({ webhook_url: 'https://hooks.slack.com/…WXYZ' });
    expect(slack.body.has_secret).toBe(true);

    const email = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: 'mail',
      type: 'email',
      config: { to: ['ops@example.com', 'OPS@example.com', 'oncall@example.com'] },
    });
    expect(email.body).toMatchObject({
      config: { to: ['ops@example.com', 'oncall@example.com'] },
      has_secret: false,
    });
    const sms = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: 'pager',
      type: 'sms',
      config: { to: '+33612345678' },
    });
    expect(sms.body).toMatchObject({
      config: { to: '+33612345678', from: null },
      has_secret: false,
    });

    const one = await mh.api(p.key, 'GET', `/api/alerts/channels/${created.body.id}`);
    expect(one.body).toEqual(created.body);
    const listed = await mh.api(p.key, 'GET', '/api/alerts/channels');
    expect(listed.status).toBe(200);
    expect(listed.body.next_cursor).toBeNull();
    expect(listed.body.items.map((c: any) => c.name)).toEqual([
      'mail',
      'ops hook',
      'pager',
      'slack',
    ]);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).not.toContain('services/T000');
  });

  it('replaces with PUT, keeping a masked credential sent back unchanged', async () => {
    const id = await createChannel(mh, p.key, webhookChannel('replace me'));
    const read = (await mh.api(p.key, 'GET', `/api/alerts/channels/${id}`)).body;

    // The answer as read, edited and sent back whole: read-only fields are ignored.
    const renamed = await mh.api(p.key, 'PUT', `/api/alerts/channels/${id}`, {
      ...read,
      name: 'replaced',
      config: { ...read.config, url: 'http://127.0.0.1:9/other' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      id,
      name: 'replaced',
      config: { url: 'http://127.0.0.1:9/other', secret: '••••cdef' },
    });
    expect(await storedConfig(id)).toEqual({
      url: 'http://127.0.0.1:9/other',
      secret: WEBHOOK_SECRET,
    });
    expect(Date.parse(renamed.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(read.updated_at));

    const wrongMask = await mh.api(p.key, 'PUT', `/api/alerts/channels/${id}`, {
      name: 'replaced',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/other', secret: '••••zzzz' },
    });
    expect([wrongMask.status, issuePaths(wrongMask)]).toEqual([422, ['config.secret']]);

    const newSecret = 'another-secret-0000-9999';
    const rotated = await mh.api(p.key, 'PUT', `/api/alerts/channels/${id}`, {
      name: 'replaced',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/other', secret: newSecret },
    });
    expect(rotated.body.config.secret).toBe('••••9999');
    expect((await storedConfig(id)).secret).toBe(newSecret);

    // PUT replaces: a config without a secret has none.
    const cleared = await mh.api(p.key, 'PUT', `/api/alerts/channels/${id}`, {
      name: 'replaced',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/other' },
    });
    expect(cleared.body).toMatchObject({ config: { secret: null }, has_secret: false });
    expect(await storedConfig(id)).toEqual({ url: 'http://127.0.0.1:9/other', secret: null });

    const slackId = await createChannel(mh, p.key, {
      name: 'slack put',
      type: 'slack',
      config: { webhook_url: SLACK_URL },
    });
    const slack = (await mh.api(p.key, 'GET', `/api/alerts/channels/${slackId}`)).body;
    const kept = await mh.api(p.key, 'PUT', `/api/alerts/channels/${slackId}`, {
      ...slack,
      name: 'slack kept',
    });
    expect(kept.status).toBe(200);
    expect(await storedConfig(slackId)).toEqual({ webhook_url: SLACK_URL });
  });

  it('refuses bad bodies with 400, 415, 422 naming fields, and taken names with 409', async () => {
    const bad = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: '',
      type: 'webhook',
      config: { url: 'ftp://x', secret: 'short' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(issuePaths(bad).sort()).toEqual(['config.secret', 'config.url', 'name']);
    const unknownType = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: 'x',
      type: 'pigeon',
      config: {},
    });
    expect(issuePaths(unknownType)).toEqual(['type']);
    const masked = await mh.api(p.key, 'POST', '/api/alerts/channels', {
      name: 'masked',
      type: 'webhook',
      config: { url: 'http://127.0.0.1:9/hook', secret: '••••cdef' },
    });
    expect(issuePaths(masked)).toEqual(['config.secret']);

    const json = await fetch(`${mh.url}/api/alerts/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect([json.status, ((await json.json()) as any).error.code]).toEqual([400, 'invalid_json']);
    const form = await fetch(`${mh.url}/api/alerts/channels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.key}`, 'content-type': 'text/plain' },
      body: 'name=x',
    });
    expect(form.status).toBe(415);

    await createChannel(mh, p.key, webhookChannel('taken'));
    const again = await mh.api(p.key, 'POST', '/api/alerts/channels', webhookChannel('taken'));
    expect([again.status, again.body.error.code]).toEqual([409, 'conflict']);
    const badCursor = await mh.api(p.key, 'GET', '/api/alerts/channels?cursor=nope');
    expect(badCursor.status).toBe(400);
    const badLimit = await mh.api(p.key, 'GET', '/api/alerts/channels?limit=0');
    expect(badLimit.status).toBe(400);
  });

  it('pages by name, and deletes a channel no rule uses (409 while one does)', async () => {
    const q = await mh.project('channel pages');
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      await createChannel(mh, q.key, webhookChannel(name));
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: any = await mh.api(
        q.key,
        'GET',
        `/api/alerts/channels?limit=2${next ? `&cursor=${next}` : ''}`,
      );
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((c: any) => c.name));
      next = page.body.next_cursor;
    } while (next);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);

    const channels = (await mh.api(q.key, 'GET', '/api/alerts/channels')).body.items;
    const [a, b] = [channels[0].id, channels[1].id];
    const ruleId = await createRule(mh, q.key, { channels: [a] });
    const used = await mh.api(q.key, 'DELETE', `/api/alerts/channels/${a}`);
    expect([used.status, used.body.error.code]).toEqual([409, 'conflict']);
    expect(used.body.error.details.rules).toEqual([{ id: ruleId, name: 'failures' }]);

    const deleted = await mh.api(q.key, 'DELETE', `/api/alerts/channels/${b}`);
    expect(deleted.status).toBe(204);
    expect((await mh.api(q.key, 'GET', `/api/alerts/channels/${b}`)).status).toBe(404);
    expect((await mh.api(q.key, 'DELETE', `/api/alerts/channels/${b}`)).status).toBe(404);
    expect((await mh.api(q.key, 'GET', '/api/alerts/channels/not-a-uuid')).status).toBe(404);
  });

  it('lets members read and admins write; viewers get 403', async () => {
    const r = await mh.project('channel roles');
    const [member, viewer] = [await keyOf(mh, r, 'member'), await keyOf(mh, r, 'viewer')];
    const id = await createChannel(mh, r.key);
    expect((await mh.api(member, 'GET', '/api/alerts/channels')).body.items).toHaveLength(1);
    expect((await mh.api(member, 'GET', `/api/alerts/channels/${id}`)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/api/alerts/channels', webhookChannel('by member')],
      ['PUT', `/api/alerts/channels/${id}`, webhookChannel('by member')],
      ['DELETE', `/api/alerts/channels/${id}`, undefined],
      ['POST', `/api/alerts/channels/${id}/test`, undefined],
    ] as const) {
      const refused = await mh.api(member, method, path, body);
      expect([method, path, refused.status, refused.body.error.code]).toEqual([
        method,
        path,
        403,
        'forbidden',
      ]);
    }
    for (const path of ['/api/alerts/channels', `/api/alerts/channels/${id}`]) {
      expect((await mh.api(viewer, 'GET', path)).status).toBe(403);
    }
    const count = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.alert_channels where project_id = $1`,
      [r.id],
    );
    expect(count.rows[0].n).toBe(1);
  });
});

describe('rules', () => {
  let p: Project;
  let other: Project;
  let channel: string;
  let foreignChannel: string;
  let workflow: string;
  let foreignWorkflow: string;

  beforeAll(async () => {
    p = await mh.project('rules');
    other = await mh.project('rules elsewhere');
    channel = await createChannel(mh, p.key);
    foreignChannel = await createChannel(mh, other.key);
    workflow = (await mh.publish(p.key, 'orders', chain())).id;
    foreignWorkflow = (await mh.publish(other.key, 'theirs', chain())).id;
  });

  it('creates an event rule with its defaults, stored in columns and a definition', async () => {
    const created = await mh.api(p.key, 'POST', '/api/alerts/rules', {
      name: 'Orders down',
      workflow_id: workflow,
      events: ['run_failed', 'step_failed', 'run_failed'],
      channels: [channel.toUpperCase()],
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'Orders down',
      workflow_id: workflow,
      kind: 'events',
      enabled: true,
      events: ['run_failed', 'step_failed'],
      threshold: null,
      channels: [channel],
      throttle: { group_wait: '30s', group_interval: '5m', repeat_interval: '4h' },
      template: null,
      quiet_hours: null,
      criticality: 'normal',
      state: 'ok',
      state_since: null,
      last_value: null,
      last_evaluated_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const { rows } = await mh.db.pool.query(
      `select kind, channels, workflow_id, enabled, name, definition
       from meshhook.alert_rules where id = $1`,
      [created.body.id],
    );
    expect(rows[0]).toMatchObject({
      kind: 'events',
      channels: [channel],
      workflow_id: workflow,
      enabled: true,
      name: 'Orders down',
      definition: {
        name: 'Orders down',
        events: ['run_failed', 'step_failed'],
        threshold: null,
        throttle: {
          group_wait_ms: 30_000,
          group_interval_ms: 300_000,
          repeat_interval_ms: 14_400_000,
        },
      },
    });
    expect((await mh.api(p.key, 'GET', `/api/alerts/rules/${created.body.id}`)).body).toEqual(
      created.body,
    );
  });

  it('creates a threshold rule with quiet hours; a rule read back can be sent again', async () => {
    const created = await mh.api(p.key, 'POST', '/api/alerts/rules', {
      name: 'Failure rate',
      threshold: { metric: 'failure_rate', op: '>=', value: 0.5, window: '15m' },
      channels: [channel],
      throttle: { group_wait: '0s', group_interval: '1m', repeat_interval: '1h' },
      quiet_hours: { start: '22:00', end: '07:00', time_zone: 'europe/paris' },
      template: 'Failing: {{workflow.slug}} at {{threshold.value}}',
      criticality: 'critical',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      workflow_id: null,
      kind: 'threshold',
      events: null,
      threshold: {
        metric: 'failure_rate',
        op: '>=',
        value: 0.5,
        window: '15m',
        for: '0s',
        resolve_value: 0.5,
        source: null,
        type: null,
        severity: null,
      },
      quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Europe/Paris', days: null },
      criticality: 'critical',
      state: 'ok',
    });
    const id = created.body.id;
    await mh.db.pool.query(
      `update meshhook.alert_rules set state = 'firing', state_since = now(), last_value = 0.75
       where id = $1`,
      [id],
    );
    const read = (await mh.api(p.key, 'GET', `/api/alerts/rules/${id}`)).body;
    expect(read).toMatchObject({ state: 'firing', last_value: 0.75 });
    expect(read.state_since).toEqual(expect.any(String));

    const resent = await mh.api(p.key, 'PUT', `/api/alerts/rules/${id}`, read);
    expect(resent.status, JSON.stringify(resent.body)).toBe(200);
    // An edit of a threshold rule keeps its state, so it does not fire again.
    expect({ ...resent.body, updated_at: read.updated_at }).toEqual(read);

    const toEvents = await mh.api(p.key, 'PUT', `/api/alerts/rules/${id}`, {
      name: 'Failure rate',
      events: ['run_timed_out'],
      channels: [channel],
      enabled: false,
    });
    expect(toEvents.body).toMatchObject({
      kind: 'events',
      enabled: false,
      threshold: null,
      quiet_hours: null,
      state: 'ok',
      state_since: null,
      last_value: null,
    });
  });

  it('answers every bad definition with 422 naming the field, and stores nothing', async () => {
    const valid = { name: 'bad', events: ['run_failed'], channels: [channel] };
    const threshold = { metric: 'failure_count', op: '>', value: 3, window: '5m' };
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [
        'unknown metric',
        { events: undefined, threshold: { ...threshold, metric: 'latency' } },
        'threshold.metric',
      ],
      [
        'window too long',
        { events: undefined, threshold: { ...threshold, window: '8d' } },
        'threshold.window',
      ],
      [
        'resolve_value above value',
        { events: undefined, threshold: { ...threshold, resolve_value: 5 } },
        'threshold.resolve_value',
      ],
      [
        'bad time zone',
        { quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Mars/Olympus' } },
        'quiet_hours.time_zone',
      ],
      ['both events and threshold', { threshold }, 'threshold'],
      ['neither events nor threshold', { events: undefined }, 'events'],
      ['unknown event type', { events: ['run_failed', 'run_exploded'] }, 'events[1]'],
      ['channel of another project', { channels: [channel, foreignChannel] }, 'channels[1]'],
      [
        'channel that does not exist',
        { channels: ['7d0c1a52-0000-4000-8000-000000000000'] },
        'channels[0]',
      ],
      ['empty channels', { channels: [] }, 'channels'],
      ['workflow of another project', { workflow_id: foreignWorkflow }, 'workflow_id'],
      [
        'repeat shorter than group interval',
        { throttle: { group_interval: '1h', repeat_interval: '5m' } },
        'throttle.repeat_interval',
      ],
      ['unknown placeholder', { template: '{{run.secret}}' }, 'template'],
      ['unknown field', { severity: 'high' }, 'severity'],
      ['blank name', { name: ' ' }, 'name'],
    ];
    for (const [what, change, path] of cases) {
      const answer = await mh.api(p.key, 'POST', '/api/alerts/rules', { ...valid, ...change });
      expect([what, answer.status, answer.body.error?.code]).toEqual([
        what,
        422,
        'validation_failed',
      ]);
      expect(issuePaths(answer), what).toContain(path);
      expect(answer.body.error.message, what).toContain(path);
    }
    const stored = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.alert_rules where name = 'bad'`,
    );
    expect(stored.rows[0].n).toBe(0);
    // Every problem at once.
    const many = await mh.api(p.key, 'POST', '/api/alerts/rules', {
      name: '',
      events: ['nope'],
      channels: [],
      throttle: { group_wait: 'soon' },
    });
    expect(issuePaths(many).sort()).toEqual([
      'channels',
      'events[0]',
      'name',
      'throttle.group_wait',
    ]);
  });

  it('lists rules (of one workflow too), replaces and deletes them', async () => {
    const q = await mh.project('rule list');
    const ch = await createChannel(mh, q.key);
    const wf = (await mh.publish(q.key, 'billing', chain())).id;
    const global = await createRule(mh, q.key, { name: 'all', channels: [ch] });
    const scoped = await createRule(mh, q.key, {
      name: 'billing',
      workflow_id: wf,
      channels: [ch],
    });
    const names = async (query = '') =>
      (await mh.api(q.key, 'GET', `/api/alerts/rules${query}`)).body.items.map((r: any) => r.name);
    expect(await names()).toEqual(['all', 'billing']);
    expect(await names(`?workflow=${wf}`)).toEqual(['billing']);
    expect(await names('?workflow=billing')).toEqual(['billing']);
    expect((await mh.api(q.key, 'GET', '/api/alerts/rules?workflow=nope')).status).toBe(404);
    expect(await names('?limit=1')).toEqual(['all']);

    const taken = await mh.api(q.key, 'POST', '/api/alerts/rules', {
      name: 'all',
      events: ['run_failed'],
      channels: [ch],
    });
    expect(taken.status).toBe(409);
    const replaced = await mh.api(q.key, 'PUT', `/api/alerts/rules/${global}`, {
      name: 'everything',
      events: ['worker_missing', 'queue_stalled'],
      channels: [ch],
    });
    expect(replaced.body).toMatchObject({
      id: global,
      name: 'everything',
      events: ['worker_missing', 'queue_stalled'],
    });
    const invalid = await mh.api(q.key, 'PUT', `/api/alerts/rules/${global}`, { name: 'x' });
    expect(invalid.status).toBe(422);

    expect((await mh.api(q.key, 'DELETE', `/api/alerts/rules/${scoped}`)).status).toBe(204);
    expect((await mh.api(q.key, 'GET', `/api/alerts/rules/${scoped}`)).status).toBe(404);
    expect((await mh.api(q.key, 'PUT', `/api/alerts/rules/${scoped}`, { name: 'x' })).status).toBe(
      404,
    );
    expect(await names()).toEqual(['everything']);
  });

  it('lets viewers read and members write; viewers get 403', async () => {
    const [member, viewer] = [await keyOf(mh, p, 'member'), await keyOf(mh, p, 'viewer')];
    const id = await createRule(mh, member, { name: 'by member', channels: [channel] });
    expect((await mh.api(viewer, 'GET', `/api/alerts/rules/${id}`)).status).toBe(200);
    expect((await mh.api(viewer, 'GET', '/api/alerts/rules')).body.items.length).toBeGreaterThan(0);
    for (const [method, path] of [
      ['POST', '/api/alerts/rules'],
      ['PUT', `/api/alerts/rules/${id}`],
      ['DELETE', `/api/alerts/rules/${id}`],
    ] as const) {
      const refused = await mh.api(
        viewer,
        method,
        path,
        method === 'DELETE'
          ? undefined
          : {
              name: 'by viewer',
              events: ['run_failed'],
              channels: [channel],
            },
      );
      expect([method, refused.status, refused.body.error.code]).toEqual([method, 403, 'forbidden']);
    }
    expect((await mh.api(member, 'DELETE', `/api/alerts/rules/${id}`)).status).toBe(204);
  });
});

describe('silences', () => {
  let p: Project;
  let rule: string;
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

  beforeAll(async () => {
    p = await mh.project('silences');
    rule = await createRule(mh, p.key, { channels: [await createChannel(mh, p.key)] });
  });

  it('creates, lists (active or not) and ends silences', async () => {
    const now = Date.now();
    const created = await mh.api(p.key, 'POST', '/api/alerts/silences', {
      rule_id: rule,
      ends_at: inAnHour(),
      comment: 'deploying',
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      rule_id: rule,
      workflow_id: null,
      starts_at: expect.any(String),
      ends_at: expect.any(String),
      comment: 'deploying',
      created_by: null,
      created_at: expect.any(String),
      active: true,
    });
    expect(Math.abs(Date.parse(created.body.starts_at) - now)).toBeLessThan(60_000);
    const later = await mh.api(p.key, 'POST', '/api/alerts/silences', {
      starts_at: new Date(now + 1_800_000).toISOString(),
      ends_at: new Date(now + 7_200_000).toISOString(),
    });
    expect(later.body).toMatchObject({ rule_id: null, workflow_id: null, active: false });

    const ids = async (query = '') =>
      (await mh.api(p.key, 'GET', `/api/alerts/silences${query}`)).body.items.map((s: any) => s.id);
    expect(await ids()).toEqual([later.body.id, created.body.id]);
    expect(await ids('?active=true')).toEqual([created.body.id]);
    expect(await ids('?active=false')).toEqual([later.body.id]);
    expect(await ids('?limit=1')).toEqual([later.body.id]);
    expect((await mh.api(p.key, 'GET', '/api/alerts/silences?active=maybe')).status).toBe(400);

    // A silence that started is ended, and kept; one not started yet is deleted.
    expect((await mh.api(p.key, 'DELETE', `/api/alerts/silences/${created.body.id}`)).status).toBe(
      204,
    );
    const ended = await mh.api(p.key, 'GET', `/api/alerts/silences/${created.body.id}`);
    expect(ended.body.active).toBe(false);
    expect(Date.parse(ended.body.ends_at)).toBeLessThanOrEqual(Date.now());
    expect(await ids('?active=true')).toEqual([]);
    expect((await mh.api(p.key, 'DELETE', `/api/alerts/silences/${later.body.id}`)).status).toBe(
      204,
    );
    expect((await mh.api(p.key, 'GET', `/api/alerts/silences/${later.body.id}`)).status).toBe(404);
    expect((await mh.api(p.key, 'DELETE', `/api/alerts/silences/${later.body.id}`)).status).toBe(
      404,
    );
  });

  it('refuses a past end, an end before the start, and unknown rules with 422', async () => {
    const past = await mh.api(p.key, 'POST', '/api/alerts/silences', {
      ends_at: new Date(Date.now() - 1_000).toISOString(),
    });
    expect([past.status, issuePaths(past)]).toEqual([422, ['ends_at']]);
    const backwards = await mh.api(p.key, 'POST', '/api/alerts/silences', {
      starts_at: new Date(Date.now() + 7_200_000).toISOString(),
      ends_at: inAnHour(),
    });
    expect([backwards.status, issuePaths(backwards)]).toEqual([422, ['ends_at']]);
    const missing = await mh.api(p.key, 'POST', '/api/alerts/silences', {});
    expect(issuePaths(missing)).toEqual(['ends_at']);
    const notADate = await mh.api(p.key, 'POST', '/api/alerts/silences', { ends_at: 'tomorrow' });
    expect(issuePaths(notADate)).toEqual(['ends_at']);
    const unknown = await mh.api(p.key, 'POST', '/api/alerts/silences', {
      rule_id: '7d0c1a52-0000-4000-8000-000000000000',
      workflow_id: '7d0c1a52-0000-4000-8000-000000000001',
      ends_at: inAnHour(),
    });
    expect([unknown.status, issuePaths(unknown)]).toEqual([422, ['rule_id', 'workflow_id']]);
  });

  it('records the signed-in user who created it; viewers may only read', async () => {
    const browser = sessionClient(mh.url);
    const signup = await browser.enter('/api/auth/signup', {
      email: 'oncall@example.com',
      password: 'correct horse battery',
      project_name: 'On call',
    });
    expect(signup.status).toBe(201);
    const created = await browser.request('POST', '/api/alerts/silences', { ends_at: inAnHour() });
    expect(created.status).toBe(201);
    expect(created.body.created_by).toBe(signup.body.user.id);
    // The internal trigger is for API keys, not browsers.
    const trigger = await browser.request('POST', '/api/alerts/trigger', { type: 'run_failed' });
    expect(trigger.status).toBe(403);

    const viewer = await keyOf(mh, p, 'viewer');
    expect((await mh.api(viewer, 'GET', '/api/alerts/silences')).status).toBe(200);
    const refused = await mh.api(viewer, 'POST', '/api/alerts/silences', { ends_at: inAnHour() });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    const mine = await mh.api(p.key, 'POST', '/api/alerts/silences', { ends_at: inAnHour() });
    const ending = await mh.api(viewer, 'DELETE', `/api/alerts/silences/${mine.body.id}`);
    expect(ending.status).toBe(403);
    expect((await mh.api(viewer, 'GET', `/api/alerts/silences/${mine.body.id}`)).body.active).toBe(
      true,
    );
  });
});
