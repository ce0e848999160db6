import { describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/core/alert-webhook.ts';
import { claimDeliveries } from '../../src/db/queries/alert-delivery.ts';
import { AlertDispatcher } from '../../src/engine/alerts/dispatcher.ts';
import { createChannelSenders } from '../../src/engine/alerts/channels/index.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { alertLog, createChannel, createRule } from '../helpers/alert-fixtures.ts';
import { parseExposition, sampleValue } from '../helpers/exposition.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

const mh = useMeshHook({
  env: {
    MESHHOOK_ALERT_POLL_INTERVAL_MS: '200',
    MESHHOOK_ALERT_THRESHOLD_INTERVAL_MS: '200',
    MESHHOOK_ALERT_RETRY_BASE_MS: '100',
  },
});

const SECRET = 'alert-signing-secret-0123456789';
const DELIVERIES = 'meshhook_alert_deliveries_total';
const failing = chain({
  id: 'boom',
  type: 'terminate',
  config: { status: 'failed', message: 'no' },
});
const fast = { group_wait: '0s', group_interval: '2s', repeat_interval: '1m' };

/** A project with a failing workflow, a signed webhook channel to the receiver and a rule. */
async function setUp(receiver: Receiver, path: string, rule: Record<string, unknown> = {}) {
  const project = await mh.project(`alerts ${path}`);
  const workflow = await mh.publish(project.key, 'failing', failing);
  const channel = await createChannel(mh.db.pool, project.id, {
    type: 'webhook',
    config: { url: `${receiver.url}${path}`, secret: SECRET },
  });
  const ruleId = await createRule(mh.db.pool, project.id, {
    events: ['run_failed'],
    channels: [channel],
    throttle: fast,
    ...rule,
  });
  return { ...project, workflow, channel, ruleId };
}

/** The JSON bodies the receiver got on a path, after checking each signature. */
function deliveries(receiver: Receiver, path: string) {
  return receiver.to(path).map((request) => {
    const signature = request.headers['meshhook-signature'];
    expect(typeof signature).toBe('string');
    const checked = verifyWebhookSignature(String(signature), request.body, SECRET, {
      now: new Date(),
    });
    expect(checked.ok).toBe(true);
    return {
      id: String(request.headers['meshhook-delivery']),
      body: JSON.parse(request.body) as Record<string, any>,
    };
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 800));

describe('failure alerts', () => {
  it('sends one alert for a run that fails after 3 attempts, not three', async () => {
    const receiver = await startReceiver();
    receiver.on('/fail', (_req, res) => void res.writeHead(500).end());
    try {
      const project = await mh.project('retries');
      const workflow = await mh.publish(
        project.key,
        'calls',
        chain({
          id: 'call',
          type: 'http_call',
          config: {
            method: 'GET',
            url: `${receiver.url}/fail`,
            retry: { max_attempts: 3, backoff_ms: 10 },
          },
        }),
      );
      const channel = await createChannel(mh.db.pool, project.id, {
        type: 'webhook',
        config: { url: `${receiver.url}/alerts`, secret: SECRET },
      });
      await createRule(mh.db.pool, project.id, {
        events: ['run_failed'],
        channels: [channel],
        throttle: fast,
      });
      // Another project's failure never reaches this project's channel.
      const other = await setUp(receiver, '/other');
      await mh.trigger(other.workflow.hook, {});

      const run = await mh.finished(project.key, (await mh.trigger(workflow.hook, {})).body.run_id);
      expect(run.status).toBe('failed');
      await waitFor(() => receiver.to('/alerts').length >= 1 || undefined, {
        timeoutMs: 10_000,
        what: 'the alert',
      });
      await settle();
      const [alert, ...more] = deliveries(receiver, '/alerts');
      expect(more).toEqual([]);
      expect(alert!.body).toMatchObject({
        version: '1',
        type: 'run_failed',
        project_id: project.id,
        workflow: { id: workflow.id, slug: 'calls' },
        run: { id: run.id, url: `${mh.url}/runs/${run.id}` },
        node_id: 'call',
        error: { type: 'http_5xx' },
        covers: 1,
      });
      expect(receiver.to('/other')).toHaveLength(1);
      const log = await alertLog(mh.db.pool, project.id);
      expect(log.map((l) => [l.event, l.status, l.attempts, l.covers])).toEqual([
        ['run_failed', 'sent', 1, 1],
      ]);
      expect(log[0]!.id).toBe(alert!.id);
    } finally {
      await receiver.close();
    }
  });

  it('sends 100 failures in a minute as one message and a digest, and logs every one', async () => {
    const receiver = await startReceiver();
    try {
      const { id: projectId, workflow } = await setUp(receiver, '/burst');
      await Promise.all(Array.from({ length: 100 }, () => mh.trigger(workflow.hook, {})));
      await waitFor(
        () => {
          const covered = deliveries(receiver, '/burst').reduce((n, d) => n + d.body.covers, 0);
          return covered >= 100 || undefined;
        },
        { timeoutMs: 20_000, what: 'messages covering 100 failures' },
      );
      await settle();
      const got = deliveries(receiver, '/burst');
      expect(got.reduce((n, d) => n + d.body.covers, 0)).toBe(100);
      // The first failure goes at once; the rest wait out the group interval together.
      expect(got[0]!.body.covers).toBe(1);
      expect(got.length).toBeLessThanOrEqual(3);
      expect(got.at(-1)!.body.covers).toBeGreaterThan(1);

      const log = await alertLog(mh.db.pool, projectId);
      const sent = log.filter((l) => l.channel_id !== null);
      const suppressed = log.filter((l) => l.status === 'suppressed');
      expect(sent.every((l) => l.status === 'sent')).toBe(true);
      expect(sent.reduce((n, l) => n + l.covers, 0)).toBe(100);
      // Every failure is in the log: the subject of a message, or suppressed and covered.
      const messages = new Set(sent.map((l) => l.message_id));
      expect(suppressed.every((l) => messages.has(l.covered_by))).toBe(true);
      const subjects = sent.filter(
        (l) => l.run_id !== null && !suppressed.some((s) => s.run_id === l.run_id),
      );
      expect(new Set([...suppressed, ...subjects].map((l) => l.run_id)).size).toBe(100);
    } finally {
      await receiver.close();
    }
  });

  it('mutes and logs alerts during a silence and during quiet hours', async () => {
    const receiver = await startReceiver();
    try {
      const hour = new Date().getUTCHours();
      const clock = (h: number) => `${String((h + 24) % 24).padStart(2, '0')}:00`;
      const quiet = await setUp(receiver, '/quiet', {
        quiet_hours: { start: clock(hour - 1), end: clock(hour + 1), time_zone: 'UTC' },
      });
      const silenced = await setUp(receiver, '/silenced');
      await mh.db.pool.query(
        `insert into meshhook.alert_silences (project_id, rule_id, ends_at, comment)
         values ($1, $2, now() + interval '1 hour', 'maintenance')`,
        [silenced.id, silenced.ruleId],
      );
      await mh.trigger(quiet.workflow.hook, {});
      await mh.trigger(silenced.workflow.hook, {});
      const muted = await waitFor(
        async () => {
          const rows = [
            ...(await alertLog(mh.db.pool, quiet.id)),
            ...(await alertLog(mh.db.pool, silenced.id)),
          ];
          return rows.length >= 2 ? rows : undefined;
        },
        { timeoutMs: 10_000, what: 'two muted rows' },
      );
      expect(muted.map((l) => l.status)).toEqual(['muted', 'muted']);
      expect(muted[0]!.reason).toMatch(/^quiet hours until /);
      expect(muted[1]!.reason).toMatch(/^silence [0-9a-f-]{36} until /);
      await settle();
      expect(receiver.requests).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('retries a receiver that is down for 30 s, and delivers the alert once when it is back', async () => {
    const receiver = await startReceiver();
    const downUntil = Date.now() + 30_000;
    receiver.on('/flaky', (_req, res) => {
      if (Date.now() < downUntil) res.writeHead(503).end('down');
      else res.writeHead(200).end('{}');
    });
    try {
      const { id: projectId, workflow } = await setUp(receiver, '/flaky');
      const errorsBefore = await mh.db.pool.query(
        `select count(*)::int as n from meshhook.error_events`,
      );
      await mh.trigger(workflow.hook, {});
      const log = await waitFor(
        async () => {
          const rows = await alertLog(mh.db.pool, projectId);
          return rows[0]?.status === 'sent' ? rows : undefined;
        },
        { timeoutMs: 60_000, what: 'the delivery after the outage' },
      );
      const got = deliveries(receiver, '/flaky');
      expect(new Set(got.map((d) => d.id))).toEqual(new Set([log[0]!.id]));
      expect(got.length).toBe(log[0]!.attempts);
      expect(log[0]!.attempts).toBeGreaterThan(1);
      const attempts = await mh.db.pool.query(
        `select attempt, outcome, status_code from meshhook.alert_attempts where log_id = $1 order by attempt`,
        [log[0]!.id],
      );
      expect(attempts.rows.at(-1)).toMatchObject({ outcome: 'sent', status_code: 200 });
      expect(
        attempts.rows.slice(0, -1).every((a) => a.outcome === 'failed' && a.status_code === 503),
      ).toBe(true);
      // The alerter's own trouble never becomes an error event (no loops).
      const errorsAfter = await mh.db.pool.query(
        `select count(*)::int as n from meshhook.error_events`,
      );
      expect(errorsAfter.rows[0].n - errorsBefore.rows[0].n).toBe(1); // the run's own failure
      // …but the operator sees it in /metrics.
      const metrics = parseExposition(await (await fetch(`${mh.url}/metrics`)).text());
      const outcome = (o: string) => sampleValue(metrics, DELIVERIES, DELIVERIES, { outcome: o });
      expect(outcome('retried')).toBeGreaterThanOrEqual(log[0]!.attempts - 1);
      expect(outcome('sent')).toBeGreaterThanOrEqual(1);
    } finally {
      await receiver.close();
    }
  }, 90_000);

  it('takes over a delivery whose dispatcher died mid-send, and sends it once', async () => {
    const receiver = await startReceiver();
    try {
      const { id: projectId, channel } = await setUp(receiver, '/orphan');
      const id = crypto.randomUUID();
      await mh.db.pool.query(
        `insert into meshhook.alert_logs (id, project_id, channel_id, event, status, alert, due_at)
         values ($1, $2, $3, 'test', 'pending', $4, now() + interval '1 day')`,
        [id, projectId, channel, JSON.stringify(testAlert(projectId))],
      );
      await mh.db.pool.query(`update meshhook.alert_logs set due_at = now() where id = $1`, [id]);
      // A dispatcher takes it and dies before sending: its lease runs out after 300 ms.
      const taken = await claimDeliveries(mh.db.pool, {
        dispatcherId: 'dead',
        limit: 10,
        leaseMs: 300,
      });
      expect(taken.map((d) => d.id)).toContain(id);
      await waitFor(
        async () => (await alertLog(mh.db.pool, projectId))[0]?.status === 'sent' || undefined,
        { timeoutMs: 10_000, what: 'the take-over' },
      );
      const [row] = await alertLog(mh.db.pool, projectId);
      expect(row).toMatchObject({ status: 'sent', attempts: 2 });
      expect(deliveries(receiver, '/orphan').map((d) => d.id)).toEqual([id]);
    } finally {
      await receiver.close();
    }
  });

  it('never lets two dispatchers send one delivery twice', async () => {
    const receiver = await startReceiver();
    try {
      const { id: projectId, channel } = await setUp(receiver, '/many');
      await mh.db.pool.query(
        `insert into meshhook.alert_logs (project_id, channel_id, event, status, alert, due_at)
         select $1, $2, 'test', 'pending', $3, now() + interval '1 day' from generate_series(1, 300)`,
        [projectId, channel, JSON.stringify(testAlert(projectId))],
      );
      const senders = createChannelSenders({});
      const dispatchers = ['a', 'b', 'c'].map(
        (id) =>
          new AlertDispatcher({ id, pool: mh.db.pool, senders, log: silentLog, concurrency: 8 }),
      );
      await mh.db.pool.query(
        `update meshhook.alert_logs set due_at = now() where project_id = $1`,
        [projectId],
      );
      const signal = new AbortController().signal;
      await Promise.all(dispatchers.map((d) => d.run(signal)));
      senders.close();
      await waitFor(
        async () => {
          const { rows } = await mh.db.pool.query(
            `select count(*)::int as n from meshhook.alert_logs where project_id = $1 and status = 'sent'`,
            [projectId],
          );
          return rows[0].n === 300 || undefined;
        },
        { timeoutMs: 20_000, what: '300 deliveries sent' },
      );
      const ids = deliveries(receiver, '/many').map((d) => d.id);
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
    } finally {
      await receiver.close();
    }
  });

  it('fires a failure-rate threshold once when crossed, and resolves it once', async () => {
    const receiver = await startReceiver();
    try {
      const project = await mh.project('threshold');
      const flaky = await mh.publish(project.key, 'flaky', {
        nodes: [
          { id: 'hook', type: 'webhook', config: {} },
          { id: 'check', type: 'branch', config: { condition: 'trigger.body.ok' } },
          { id: 'done', type: 'log', config: { level: 'info', message: 'ok' } },
          { id: 'boom', type: 'terminate', config: { status: 'failed', message: 'not ok' } },
        ],
        edges: [
          { from: 'hook', to: 'check' },
          { from: 'check', to: 'done', when: 'true' },
          { from: 'check', to: 'boom', when: 'false' },
        ],
      });
      const channel = await createChannel(mh.db.pool, project.id, {
        type: 'webhook',
        config: { url: `${receiver.url}/rate`, secret: SECRET },
      });
      await createRule(mh.db.pool, project.id, {
        workflow_id: flaky.id,
        threshold: {
          metric: 'failure_rate',
          op: '>',
          value: 0.5,
          window: '5m',
          resolve_value: 0.2,
        },
        channels: [channel],
        throttle: { group_wait: '0s', group_interval: '0s', repeat_interval: '1h' },
      });
      for (let i = 0; i < 3; i++) await mh.trigger(flaky.hook, { ok: false });
      await waitFor(() => receiver.to('/rate').length >= 1 || undefined, {
        timeoutMs: 10_000,
        what: 'the firing notice',
      });
      for (let i = 0; i < 20; i++) await mh.trigger(flaky.hook, { ok: true });
      await waitFor(() => receiver.to('/rate').length >= 2 || undefined, {
        timeoutMs: 10_000,
        what: 'the resolved notice',
      });
      await settle();
      const got = deliveries(receiver, '/rate').map((d) => [d.body.type, d.body.threshold?.state]);
      expect(got).toEqual([
        ['threshold_firing', 'firing'],
        ['threshold_resolved', 'resolved'],
      ]);
    } finally {
      await receiver.close();
    }
  });
});

function testAlert(projectId: string) {
  return {
    type: 'test',
    project_id: projectId,
    workflow: null,
    run: null,
    node_id: null,
    error: null,
    attempts: null,
    covers: 1,
    rule: null,
    at: new Date().toISOString(),
  };
}
