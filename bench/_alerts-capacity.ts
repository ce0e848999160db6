// The alerts benchmark's third part: the dispatchers' raw capacity. A backlog of due deliveries
// to one webhook channel is inserted in one statement, and the web and worker processes'
// dispatchers send it to a receiver that answers at once; the baseline is the same number of
// plain undici POSTs of the same bytes to the same receiver, from the benchmark's process, so
// the ratio is what the bookkeeping costs (claim, channel read, message, signature, settling
// with its attempt row).
import type pg from 'pg';
import { Agent, request } from 'undici';
import { signWebhookPayload, webhookPayload } from '../src/core/alert-webhook.ts';
import { ALERTS_CHANNEL } from '../src/db/queries/alert-delivery.ts';
import { messageInput } from '../src/engine/alerts/channels/message-input.ts';
import { AlertReceiver } from './_alerts-receiver.ts';
import {
  CHANNEL_SECRET,
  type AlertSetup,
  coresBetween,
  describeSpread,
  inFlight,
  describeWaits,
  readCpu,
  sampleWaits,
  startAlertSetup,
  waitUntil,
} from './_alerts-setup.ts';

/** AlertDispatcher's default: deliveries one dispatcher sends at once. */
const DISPATCHER_CONCURRENCY = 16;
/** Dispatching processes: the web process and the worker each run one. */
const DISPATCHERS = 2;

/** What one backlog came to. */
interface Backlog {
  received: number;
  arrived: boolean;
  seconds: number;
  rate: number;
  /** Receipts with a delivery id seen before. */
  repeats: number;
  sent: number;
  attempts: number;
}

/** Runs the part and prints its figures; false when a delivery is missing or doubled. */
export async function measureCapacity(options: {
  deliveries: number;
  /** Also sends the backlog spread over this many channels (0: not). */
  spreadChannels: number;
  out: (line: string) => void;
}): Promise<{ ok: boolean; ratio: number }> {
  const { out, deliveries } = options;
  const receiver = await AlertReceiver.start();
  const setup = await startAlertSetup({ workflows: 0 });
  try {
    const channels = await createChannels(setup, receiver.url, 1 + options.spreadChannels);
    await setup.startWorker();
    out(
      `dispatch capacity: ${deliveries} due deliveries inserted in one statement, to one signed webhook channel whose receiver answers 200 at once; sent by the dispatchers of one web and one worker process (${DISPATCHERS} × ${DISPATCHER_CONCURRENCY} at once)`,
    );
    out(`  database: ${setup.server}`);
    const alert = storedAlert(await projectOf(setup.pool), setup.base);
    const backlog = (label: string, ids: string[]) =>
      dispatchBacklog({ setup, receiver, channelIds: ids, alert, deliveries, label, out });

    const one = await backlog('dispatchers', channels.slice(0, 1));
    const body = baselineBody(alert);
    const baselines: Array<{ concurrency: number; rate: number }> = [];
    for (const concurrency of [DISPATCHER_CONCURRENCY, DISPATCHERS * DISPATCHER_CONCURRENCY]) {
      const seconds = await plainPosts(`${receiver.url}/baseline`, {
        count: deliveries,
        concurrency,
        body,
      });
      baselines.push({ concurrency, rate: deliveries / seconds });
      out(
        `  baseline: ${deliveries} plain undici POSTs of the same ${Buffer.byteLength(body)}-byte body at ${concurrency} at once, from the benchmark's process: ${(deliveries / seconds).toFixed(0)} requests/s`,
      );
    }
    await receiver.collect();
    const same = baselines[baselines.length - 1]!;
    const ratio = one.rate / same.rate;
    out(
      `  dispatchers ÷ baseline at the same ${same.concurrency} at once: ${ratio.toFixed(3)} (${(1000 / one.rate - 1000 / same.rate).toFixed(2)} ms more per delivery)`,
    );
    const backlogs = [one];
    if (options.spreadChannels > 0) {
      out('');
      out(
        `what if the backlog were spread over ${options.spreadChannels} channels (to the same receiver), so that settling deliveries does not update one channel row:`,
      );
      backlogs.push(await backlog('dispatchers', channels.slice(1)));
    }

    const problems: string[] = [];
    for (const b of backlogs) {
      if (b.repeats > 0) problems.push(`${b.repeats} deliveries received more than once`);
      if (b.sent !== deliveries) problems.push(`${b.sent} of ${deliveries} recorded sent`);
      if (b.attempts !== deliveries) problems.push(`${b.attempts} attempts recorded`);
    }
    for (const problem of problems) out(`  WRONG: ${problem}`);
    if (problems.length === 0) out(`  every delivery sent and received once, in one attempt`);
    return { ok: problems.length === 0 && backlogs.every((b) => b.arrived), ratio };
  } finally {
    await setup.stop();
    await receiver.close();
  }
}

/** Webhook channels to `receiverUrl/fast/<n>`, created through the API. */
async function createChannels(setup: AlertSetup, receiverUrl: string, count: number) {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const channel = (await setup.api(
      'POST',
      '/api/alerts/channels',
      {
        name: `fast receiver ${n}`,
        type: 'webhook',
        config: { url: `${receiverUrl}/fast/${n}`, secret: CHANNEL_SECRET },
      },
      201,
    )) as { id: string };
    ids.push(channel.id);
  }
  return ids;
}

/** Inserts a backlog over the channels, waits until it is received and settled, prints it. */
async function dispatchBacklog(input: {
  setup: AlertSetup;
  receiver: AlertReceiver;
  channelIds: string[];
  alert: Record<string, unknown>;
  deliveries: number;
  label: string;
  out: (line: string) => void;
}): Promise<Backlog> {
  const { setup, receiver, deliveries, out } = input;
  const before = await receiver.count();
  const cpu0 = await readCpu(setup);
  const waits = sampleWaits(setup.pool);
  const started = await insertBacklog(setup.pool, input);
  // The alerters would find the backlog at their next poll; the notification wakes them now,
  // as the evaluators' does after they queue deliveries.
  await setup.pool.query(`select pg_notify($1, 'due')`, [ALERTS_CHANNEL]);
  const arrived = await receiver.waitFor(before + deliveries, 300_000);
  const cores = coresBetween(cpu0, await readCpu(setup, cpu0));
  const sampled = await waits.stop();
  const receipts = await receiver.collect();
  await waitUntil(async () => (await inFlight(setup.pool)) === 0, 30_000);
  const last = Math.max(...receipts.map((r) => r.at));
  const seconds = (last - started) / 1000;
  const rate = receipts.length / seconds;
  const stored = await storedOutcome(setup.pool, input.channelIds);
  out(
    `  ${input.label}: ${receipts.length} received in ${seconds.toFixed(2)} s from the insert's commit: ${rate.toFixed(0)} deliveries/s${arrived ? '' : ' (NOT all arrived within 5 minutes)'}`,
  );
  out(
    `    each send's own time (alert_attempts.duration_ms), p50 / p95 / p99 / max: ${describeSpread(stored.durations)}`,
  );
  out(
    `    CPU, cores: web + worker ${cores.processes.toFixed(2)}, PostgreSQL ${cores.postgres.toFixed(2)}, machine ${cores.machine.toFixed(2)}; per delivery ${((cores.processes * cores.seconds * 1e3) / deliveries).toFixed(2)} ms in MeshHook, ${((cores.postgres * cores.seconds * 1e3) / deliveries).toFixed(2)} ms in PostgreSQL`,
  );
  out('    PostgreSQL meanwhile (pg_stat_activity every 20 ms):');
  for (const line of describeWaits(sampled)) out(`      ${line}`);
  const ids = receipts.map((r) => r.delivery);
  return {
    received: receipts.length,
    arrived,
    seconds,
    rate,
    repeats: ids.length - new Set(ids).size,
    sent: stored.sent,
    attempts: stored.attempts,
  };
}

async function projectOf(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(`select id from meshhook.projects limit 1`);
  return rows[0]!.id;
}

/** An alert as the evaluator stores it for a run failed at its transform (run filled in per row). */
function storedAlert(projectId: string, base: string): Record<string, unknown> {
  return {
    type: 'run_failed',
    project_id: projectId,
    workflow: { id: '5b9de45c-d6a8-40f0-9aca-1fd60d470002', slug: 'bench-0' },
    run: { id: '00000000-0000-4000-8000-000000000000', url: `${base}/runs/` },
    node_id: 'shape',
    error: {
      type: 'expression_error',
      message: 'invalid-type: sum() expects an array of numbers, got a string at index 0',
    },
    attempts: null,
    covers: 1,
    rule: { id: '9f0c1d8e-2b3a-4c5d-8e7f-0a1b2c3d4e5f', name: 'failures 0' },
    criticality: 'normal',
    template: null,
    at: new Date().toISOString(),
  };
}

/** Inserts the backlog, each delivery due now and for a run of its own; returns the commit time. */
async function insertBacklog(
  pool: pg.Pool,
  input: { channelIds: string[]; alert: Record<string, unknown>; deliveries: number },
): Promise<number> {
  const run = input.alert.run as { url: string };
  await pool.query(
    `insert into meshhook.alert_logs
       (project_id, channel_id, group_key, event, status, covers, message_id, run_id, alert, due_at)
     select $1::uuid, ($2::uuid[])[1 + g.n % cardinality($2::uuid[])], '', 'run_failed',
            'pending', 1, gen_random_uuid(), g.run_id,
            $3::jsonb || jsonb_build_object('run', jsonb_build_object('id', g.run_id, 'url', $4 || g.run_id)),
            now()
     from (select n, gen_random_uuid() as run_id from generate_series(1, $5) n) g`,
    [
      input.alert.project_id,
      input.channelIds,
      JSON.stringify(input.alert),
      run.url,
      input.deliveries,
    ],
  );
  return Date.now();
}

/** The backlog's deliveries as recorded: sent, attempts, and each attempt's duration. */
async function storedOutcome(
  pool: pg.Pool,
  channelIds: string[],
): Promise<{ sent: number; attempts: number; durations: number[] }> {
  const { rows } = await pool.query<{ sent: number }>(
    `select count(*)::int as sent from meshhook.alert_logs
     where channel_id = any($1::uuid[]) and status = 'sent'`,
    [channelIds],
  );
  const attempts = await pool.query<{ duration_ms: number }>(
    `select a.duration_ms
     from meshhook.alert_attempts a join meshhook.alert_logs l on l.id = a.log_id
     where l.channel_id = any($1::uuid[])`,
    [channelIds],
  );
  const durations = attempts.rows.map((r) => r.duration_ms);
  return { sent: rows[0]!.sent, attempts: durations.length, durations };
}

/** The body a dispatcher sends for the stored alert, serialised the same way. */
function baselineBody(alert: Record<string, unknown>): string {
  const input = messageInput(alert);
  if (!input.ok) throw new Error(`the stored alert is unusable: ${input.error}`);
  return JSON.stringify(webhookPayload(input.value.alert, { template: input.value.template }));
}

/** POSTs `count` times, `concurrency` at once, with a dispatcher's headers; returns seconds. */
async function plainPosts(
  url: string,
  options: { count: number; concurrency: number; body: string },
): Promise<number> {
  const agent = new Agent();
  const headers = {
    'user-agent': 'MeshHook-Alerts/1',
    'content-type': 'application/json',
    'MeshHook-Signature': signWebhookPayload(options.body, CHANNEL_SECRET, new Date()),
  };
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next++ < options.count) {
        const response = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers,
          body: options.body,
        });
        await response.body.text();
        if (response.statusCode !== 200) throw new Error(`baseline POST ${response.statusCode}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return seconds;
}
