import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  issuePaths,
  keyOf,
  WEBHOOK_SECRET,
  webhookChannel,
  type Project,
} from '../helpers/alert-api.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';

const mh = useMeshHook({ roles: { web: true, worker: false } });
// Every process runs an alerter; these tests only read and write configuration.
beforeAll(() => mh.running.alerter.stop());

const post = (key: string, form: unknown) => mh.api(key, 'POST', '/api/alerts/settings', form);
const counts = async (projectId: string) =>
  (
    await mh.db.pool.query(
      `select (select count(*)::int from meshhook.alert_channels where project_id = $1) as channels,
              (select count(*)::int from meshhook.alert_rules where project_id = $1) as rules`,
      [projectId],
    )
  ).rows[0];

describe('the settings forms', () => {
  let p: Project;
  let workflow: string;
  beforeAll(async () => {
    p = await mh.project('settings');
    workflow = (await mh.publish(p.key, 'orders', chain())).id;
  });

  it('upserts channels, then rules naming them, and answers what GET returns', async () => {
    const saved = await post(p.key, {
      channels: [
        webhookChannel('ops'),
        { name: 'mail', type: 'email', config: { to: ['ops@example.com'] } },
      ],
      rules: [
        { name: 'fails', events: ['run_failed'], channels: ['name:ops', 'name:mail'] },
        {
          name: 'rate',
          threshold: { metric: 'failure_count', op: '>=', value: 5, window: '10m' },
          channels: ['name:ops'],
        },
      ],
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.project_id).toBe(p.id);
    expect(saved.body.workflow_id).toBeNull();
    const [mail, ops] = saved.body.channels;
    expect([mail.name, ops.name]).toEqual(['mail', 'ops']);
    expect(ops.config.secret).toBe('••••cdef');
    expect(saved.body.rules.map((r: any) => [r.name, r.kind, r.channels])).toEqual([
      ['fails', 'events', [ops.id, mail.id]],
      ['rate', 'threshold', [ops.id]],
    ]);
    const read = await mh.api(p.key, 'GET', `/api/alerts/settings/${p.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(saved.body);

    // The form sent back edited: the same rows are replaced, the masked secret kept.
    const again = await post(p.key, {
      channels: [{ ...ops, config: { ...ops.config, url: 'http://127.0.0.1:9/v2' } }],
      rules: [
        { ...saved.body.rules[0], events: ['run_failed', 'run_timed_out'], channels: [ops.id] },
        { name: 'stalls', events: ['queue_stalled'], channels: ['name:mail'] },
      ],
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.channels.map((c: any) => c.id)).toEqual([mail.id, ops.id]);
    const { rows } = await mh.db.pool.query(
      `select config from meshhook.alert_channels where id = $1`,
      [ops.id],
    );
    expect(rows[0].config).toEqual({ url: 'http://127.0.0.1:9/v2', secret: WEBHOOK_SECRET });
    const rules = Object.fromEntries(again.body.rules.map((r: any) => [r.name, r]));
    expect(Object.keys(rules)).toEqual(['fails', 'rate', 'stalls']);
    expect(rules.fails).toMatchObject({
      id: saved.body.rules[0].id,
      events: ['run_failed', 'run_timed_out'],
      channels: [ops.id],
    });
    expect(rules.stalls.channels).toEqual([mail.id]);
    expect(await counts(p.id)).toEqual({ channels: 2, rules: 3 });
  });

  it("keeps a workflow's rules apart from the project's", async () => {
    const saved = await post(p.key, {
      workflow_id: workflow,
      rules: [{ name: 'fails', events: ['step_failed'], channels: ['name:ops'] }],
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.workflow_id).toBe(workflow);
    expect(saved.body.rules.map((r: any) => [r.name, r.workflow_id, r.events])).toEqual([
      ['fails', workflow, ['step_failed']],
    ]);
    const scoped = await mh.api(p.key, 'GET', `/api/alerts/settings/${p.id}/${workflow}`);
    expect(scoped.body).toEqual(saved.body);
    const project = await mh.api(p.key, 'GET', `/api/alerts/settings/${p.id}`);
    expect(project.body.rules.map((r: any) => [r.name, r.workflow_id])).toEqual([
      ['fails', null],
      ['rate', null],
      ['stalls', null],
    ]);
    const mismatch = await post(p.key, {
      workflow_id: workflow,
      rules: [{ name: 'x', workflow_id: null, events: ['run_failed'], channels: ['name:ops'] }],
    });
    expect([mismatch.status, issuePaths(mismatch)]).toEqual([422, ['rules[0].workflow_id']]);
  });

  it('stores nothing when any part is wrong, naming each problem', async () => {
    const before = await counts(p.id);
    const badChannel = await post(p.key, {
      channels: [
        webhookChannel('new one'),
        { name: 'broken', type: 'webhook', config: { url: 'x' } },
      ],
      rules: [{ name: 'new rule', events: ['run_failed'], channels: ['name:new one'] }],
    });
    expect([badChannel.status, issuePaths(badChannel)]).toEqual([422, ['channels[1].config.url']]);

    const badRules = await post(p.key, {
      channels: [webhookChannel('new one')],
      rules: [
        { name: 'ok', events: ['run_failed'], channels: ['name:new one'] },
        { name: 'unknown channel', events: ['run_failed'], channels: ['name:nobody'] },
        {
          name: 'long window',
          threshold: { metric: 'failure_rate', op: '>', value: 0.2, window: '30d' },
          channels: ['name:ops'],
        },
        { name: 'ok', events: ['run_failed'], channels: ['name:ops'] },
      ],
    });
    expect(badRules.status).toBe(422);
    expect(issuePaths(badRules)).toEqual([
      'rules[3].name',
      'rules[1].channels[0]',
      'rules[2].threshold.window',
    ]);
    // The channel of the refused form was not kept either: one transaction.
    expect(await counts(p.id)).toEqual(before);

    const twice = await post(p.key, { channels: [webhookChannel('x'), webhookChannel('x')] });
    expect([twice.status, issuePaths(twice)]).toEqual([422, ['channels[1].name']]);
    const foreign = await post(p.key, { workflow_id: randomUUID(), rules: [] });
    expect([foreign.status, issuePaths(foreign)]).toEqual([422, ['workflow_id']]);
    const shape = await post(p.key, { rules: {} });
    expect([shape.status, issuePaths(shape)]).toEqual([422, ['rules']]);
    const unknown = await post(p.key, { rules: [], extra: true });
    expect(unknown.status).toBe(422);
  });

  it('needs a member for rules and an admin for channels; viewers cannot read it', async () => {
    const [member, viewer] = [await keyOf(mh, p, 'member'), await keyOf(mh, p, 'viewer')];
    const withChannels = await post(member, { channels: [webhookChannel('by member')] });
    expect([withChannels.status, withChannels.body.error.code]).toEqual([403, 'forbidden']);
    const rulesOnly = await post(member, {
      rules: [{ name: 'by member', events: ['run_failed'], channels: ['name:ops'] }],
    });
    expect(rulesOnly.status).toBe(200);
    expect(rulesOnly.body.rules.map((r: any) => r.name)).toContain('by member');
    expect((await mh.api(member, 'GET', `/api/alerts/settings/${p.id}`)).status).toBe(200);
    expect((await mh.api(viewer, 'GET', `/api/alerts/settings/${p.id}`)).status).toBe(403);
    expect((await post(viewer, { rules: [] })).status).toBe(403);
  });

  it("answers 404 for another project's settings and unknown workflows", async () => {
    const other = await mh.project('settings elsewhere');
    const theirs = (await mh.publish(other.key, 'theirs', chain())).id;
    for (const path of [
      `/api/alerts/settings/${other.id}`,
      `/api/alerts/settings/${other.id}/${theirs}`,
      `/api/alerts/settings/${p.id}/${theirs}`,
      `/api/alerts/settings/${p.id}/${randomUUID()}`,
      `/api/alerts/settings/${p.id}/orders`,
      '/api/alerts/settings/not-a-project',
    ]) {
      const answer = await mh.api(p.key, 'GET', path);
      expect([path, answer.status, answer.body.error.code]).toEqual([path, 404, 'not_found']);
    }
  });
});
