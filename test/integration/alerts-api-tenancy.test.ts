import { beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../../src/db/client.ts';
import { queueTestDelivery, triggerAlert } from '../../src/db/queries/alert-log.ts';
import { authenticateApiKey } from '../../src/db/queries/projects.ts';
import {
  createChannel,
  createRule,
  issuePaths,
  keyOf,
  webhookChannel,
  type Project,
} from '../helpers/alert-api.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook({ roles: { web: true, worker: false } });
// Every process runs an alerter, which would consume the outbox rows these tests count.
beforeAll(() => mh.running.alerter.stop());

/** One project's alert configuration and a delivery in its log. */
interface Tenant extends Project {
  channel: string;
  rule: string;
  silence: string;
  delivery: string;
  workflow: string;
  run: string;
}

async function tenant(name: string): Promise<Tenant> {
  const p = await mh.project(name);
  const channel = await createChannel(mh, p.key, webhookChannel(`${name} hook`));
  const rule = await createRule(mh, p.key, { name: `${name} rule`, channels: [channel] });
  const silence = await mh.api(p.key, 'POST', '/api/alerts/silences', {
    rule_id: rule,
    ends_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  const delivery = await mh.api(p.key, 'POST', `/api/alerts/channels/${channel}/test`);
  const published = await mh.publish(p.key, `${name}-flow`, chain());
  const run = await mh.trigger(published.hook, {});
  expect([silence.status, delivery.status, run.status]).toEqual([201, 202, 202]);
  return {
    ...p,
    channel,
    rule,
    silence: silence.body.id,
    delivery: delivery.body.delivery_id,
    workflow: published.id,
    run: run.body.run_id,
  };
}

/** What the owner sees of a project's alert rows, to show a refused request changed nothing. */
const snapshot = async (projectId: string) =>
  (
    await mh.db.pool.query(
      `select
         (select jsonb_agg(to_jsonb(c) order by c.id) from meshhook.alert_channels c
          where c.project_id = $1) as channels,
         (select jsonb_agg(to_jsonb(r) order by r.id) from meshhook.alert_rules r
          where r.project_id = $1) as rules,
         (select jsonb_agg(to_jsonb(s) order by s.id) from meshhook.alert_silences s
          where s.project_id = $1) as silences,
         (select count(*)::int from meshhook.alert_logs l where l.project_id = $1) as logs,
         (select count(*)::int from meshhook.alert_outbox o where o.project_id = $1) as outbox`,
      [projectId],
    )
  ).rows[0];

describe('tenant isolation', () => {
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    a = await tenant('alpha');
    b = await tenant('beta');
  });

  it("answers 404 for another project's ids on every endpoint that takes one", async () => {
    const before = await snapshot(b.id);
    const channelBody = webhookChannel('taken over');
    const ruleBody = { name: 'taken over', events: ['run_failed'], channels: [a.channel] };
    const requests: Array<[string, string, unknown?]> = [
      ['GET', `/api/alerts/channels/${b.channel}`],
      ['PUT', `/api/alerts/channels/${b.channel}`, channelBody],
      ['DELETE', `/api/alerts/channels/${b.channel}`],
      ['POST', `/api/alerts/channels/${b.channel}/test`],
      ['GET', `/api/alerts/rules/${b.rule}`],
      ['PUT', `/api/alerts/rules/${b.rule}`, ruleBody],
      ['DELETE', `/api/alerts/rules/${b.rule}`],
      ['GET', `/api/alerts/silences/${b.silence}`],
      ['DELETE', `/api/alerts/silences/${b.silence}`],
      ['GET', `/api/alerts/log/${b.delivery}`],
      ['GET', `/api/alerts/settings/${b.id}`],
      ['GET', `/api/alerts/settings/${b.id}/${b.workflow}`],
      ['GET', `/api/alerts/settings/${a.id}/${b.workflow}`],
    ];
    for (const [method, path, body] of requests) {
      const answer = await mh.api(a.key, method, path, body);
      expect([method, path, answer.status, answer.body?.error?.code]).toEqual([
        method,
        path,
        404,
        'not_found',
      ]);
    }
    expect(await snapshot(b.id)).toEqual(before);
    // The same requests reach the project's own rows.
    expect((await mh.api(b.key, 'GET', `/api/alerts/channels/${b.channel}`)).status).toBe(200);
    expect((await mh.api(b.key, 'GET', `/api/alerts/log/${b.delivery}`)).status).toBe(200);
  });

  it("never lists another project's channels, rules, silences or deliveries", async () => {
    const theirs = [b.channel, b.rule, b.silence, b.delivery];
    for (const path of [
      '/api/alerts/channels',
      '/api/alerts/rules',
      '/api/alerts/silences',
      '/api/alerts/silences?active=true',
      '/api/alerts/log',
      `/api/alerts/log?rule=${b.rule}`,
      `/api/alerts/log?channel=${b.channel}`,
      `/api/alerts/log?run=${b.run}`,
      '/api/alerts/log?event=test',
      `/api/alerts/settings/${a.id}`,
    ]) {
      const answer = await mh.api(a.key, 'GET', path);
      expect([path, answer.status]).toEqual([path, 200]);
      const text = JSON.stringify(answer.body);
      for (const id of theirs) expect(text, path).not.toContain(id);
    }
    const own = await mh.api(a.key, 'GET', '/api/alerts/log');
    expect(own.body.items.map((i: any) => i.id)).toEqual([a.delivery]);
    for (const path of ['/api/alerts/rules', '/api/alerts/log']) {
      const filtered = await mh.api(a.key, 'GET', `${path}?workflow=${b.workflow}`);
      expect([path, filtered.status]).toEqual([path, 404]);
    }
  });

  it('refuses bodies naming what belongs to another project with 422', async () => {
    const beforeA = await snapshot(a.id);
    const beforeB = await snapshot(b.id);
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const cases: Array<[string, unknown, string]> = [
      [
        '/api/alerts/rules',
        { name: 'x', events: ['run_failed'], channels: [b.channel] },
        'channels[0]',
      ],
      [
        '/api/alerts/rules',
        { name: 'x', events: ['run_failed'], channels: ['name:beta hook'] },
        'channels[0]',
      ],
      [
        '/api/alerts/rules',
        { name: 'x', workflow_id: b.workflow, events: ['run_failed'], channels: [a.channel] },
        'workflow_id',
      ],
      ['/api/alerts/silences', { rule_id: b.rule, ends_at: inAnHour }, 'rule_id'],
      ['/api/alerts/silences', { workflow_id: b.workflow, ends_at: inAnHour }, 'workflow_id'],
      ['/api/alerts/settings', { workflow_id: b.workflow, rules: [] }, 'workflow_id'],
      [
        '/api/alerts/settings',
        { rules: [{ name: 'x', events: ['run_failed'], channels: [b.channel] }] },
        'rules[0].channels[0]',
      ],
      ['/api/alerts/trigger', { type: 'run_failed', workflow_id: b.workflow }, 'workflow_id'],
      ['/api/alerts/trigger', { type: 'step_failed', run_id: b.run }, 'run_id'],
    ];
    for (const [path, body, field] of cases) {
      const answer = await mh.api(a.key, 'POST', path, body);
      expect([path, field, answer.status]).toEqual([path, field, 422]);
      expect(issuePaths(answer)).toEqual([field]);
    }
    expect(await snapshot(a.id)).toEqual(beforeA);
    expect(await snapshot(b.id)).toEqual(beforeB);
  });

  it('has the database functions check the claims themselves', async () => {
    const key = (await authenticateApiKey(mh.db.pool, a.key))!;
    const claims = { key_id: key.id, role: key.role };
    // Another project's channel reads as none.
    expect(await withTenant(mh.db.pool, claims, (db) => queueTestDelivery(db, b.channel))).toBe(
      undefined,
    );
    const event = { type: 'run_failed', runId: null, nodeId: null, details: {} };
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        triggerAlert(db, { ...event, projectId: b.id, workflowId: null }),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        triggerAlert(db, { ...event, projectId: a.id, workflowId: b.workflow }),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    const member = (await authenticateApiKey(mh.db.pool, await keyOf(mh, a, 'member')))!;
    await expect(
      withTenant(mh.db.pool, { key_id: member.id, role: member.role }, (db) =>
        queueTestDelivery(db, a.channel),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    // The app role cannot write the log or the outbox at all.
    await expect(
      withTenant(mh.db.pool, claims, (db) =>
        db.query(`insert into meshhook.alert_outbox (project_id, type) values ($1, 'run_failed')`, [
          a.id,
        ]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    expect((await snapshot(a.id)).outbox).toBe(0);
    expect((await snapshot(b.id)).outbox).toBe(0);
  });
});
