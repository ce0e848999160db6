// The alerts benchmark's first part: how soon a failure reaches its webhook. Failing runs at a
// steady rate through one web and one worker process, a rule on run_failed without throttling,
// and a receiver stamping each delivery; the latency runs from the run's finished_at (set in the
// settlement transaction that also wrote the outbox row) to the delivery's arrival.
import type pg from 'pg';
import { AlertReceiver, type Receipt } from './_alerts-receiver.ts';
import {
  createWebhookRules,
  describeSpread,
  pushFailures,
  spread,
  startAlertSetup,
  waitUntil,
} from './_alerts-setup.ts';

/** The target: p99 from the failure's commit to the webhook's receipt. */
const TARGET_P99_MS = 2_000;
/** No grouping and no spacing; repeat_interval at the least the rules allow (it only repeats thresholds). */
const NO_THROTTLE = { group_wait: '0s', group_interval: '0s', repeat_interval: '1m' };

/** The timestamps of one failure and the delivery that carried it, ms on the wall clock. */
interface Trace {
  runId: string;
  delivery: string | null;
  /** Webhook sent by the benchmark. */
  sent: number;
  /** runs.finished_at: the settlement transaction's now(), which the outbox row shares. */
  finished: number;
  /** When the throttle held it (its suppressed row's created_at); null when not held. */
  heldAt: number | null;
  /** Held: when the group's message before the covering one was evaluated (NaN if none). */
  previousEvaluated: number;
  /** alert_logs.created_at of the carrying delivery: the evaluating transaction's now(). */
  evaluated: number;
  /** The attempt's start: alert_attempts.at, when it was recorded, less its duration_ms. */
  sendStart: number;
  received: number;
  recorded: number;
  attempts: number;
  covers: number;
}

/** Runs the part and prints its figures; false when a delivery is missing, doubled or wrong. */
export async function measureLatency(options: {
  failures: number;
  perSecond: number;
  warmup: number;
  out: (line: string) => void;
}): Promise<{ ok: boolean; p99: number }> {
  const { out } = options;
  const receiver = await AlertReceiver.start();
  const setup = await startAlertSetup({ workflows: 1 });
  try {
    await createWebhookRules(setup, { receiverUrl: receiver.url, throttle: NO_THROTTLE });
    await setup.startWorker();
    out(
      `alert latency: ${options.failures} failed runs at ${options.perSecond}/s (after ${options.warmup} not counted), one workflow, a rule on run_failed with throttle 0s/0s/1m and one signed webhook channel; one web and one worker process, default alert settings`,
    );
    out(`  database: ${setup.server}`);

    const total = options.warmup + options.failures;
    const warm = await pushFailures(setup.workflows, {
      count: options.warmup,
      perSecond: options.perSecond,
    });
    await receiver.waitFor(options.warmup, 30_000);
    const pushed = await pushFailures(setup.workflows, {
      count: options.failures,
      perSecond: options.perSecond,
    });
    const arrived = await waitUntil(async () => {
      const settled = await settledDeliveries(setup.pool, total);
      return settled !== undefined && (await receiver.count()) >= settled;
    }, 60_000);
    const receipts = await receiver.collect();

    const traces = (await traceFailures(setup.pool, receipts, pushed.sentAt)).filter(
      (t) => !Number.isNaN(t.received),
    );
    const latencies = traces.map((t) => t.received - t.finished);
    const s = spread(latencies);
    out(
      `  sent ${pushed.runIds.length} failing webhooks in ${pushed.seconds.toFixed(1)} s (${(pushed.runIds.length / pushed.seconds).toFixed(1)}/s), ${pushed.refused + warm.refused} refused; ${receipts.length} deliveries received${arrived ? '' : ' (NOT all settled and received within 60 s)'}`,
    );
    out(
      `  failure commit → webhook received, p50 / p95 / p99 / max: ${describeSpread(latencies)}   target p99 ≤ ${TARGET_P99_MS} ms: ${s.p99 <= TARGET_P99_MS ? 'met' : 'MISSED'}`,
    );
    const stage = (name: string, f: (t: Trace) => number) =>
      out(`    ${name.padEnd(44)} ${describeSpread(traces.map(f))}`);
    out('  where the time goes, p50 / p95 / p99 / max:');
    stage('webhook sent → run finished (the engine)', (t) => t.finished - t.sent);
    stage('finished → evaluated (wake-up, outbox taken)', (t) => t.evaluated - t.finished);
    stage('evaluated → send started (commit, claim)', (t) => t.sendStart - t.evaluated);
    stage('send started → received (HTTP, signing)', (t) => t.received - t.sendStart);
    stage('received → attempt recorded', (t) => t.recorded - t.received);

    const held = traces.filter((t) => t.heldAt !== null);
    if (held.length > 0) {
      out(
        `  ${held.length} of ${traces.length} failures were held by the throttle in spite of 0s/0s and went out in the group's next message, arrival after commit: ${held.map((t) => `${(t.received - t.finished).toFixed(0)} ms`).join(', ')}`,
      );
      for (const t of held.slice(0, 5)) {
        out(
          `    held: its evaluating transaction began ${(t.heldAt! - t.finished).toFixed(0)} ms after the commit; that of the group's previous message ${(t.previousEvaluated - t.heldAt!).toFixed(1)} ms after it; covered ${(t.evaluated - t.heldAt!).toFixed(0)} ms later by a message of ${t.covers}`,
        );
      }
    }
    const problems = checkFailures(traces, receipts, pushed.runIds);
    for (const problem of problems) out(`  WRONG: ${problem}`);
    if (problems.length === 0) {
      out(
        `  every failed run in exactly one delivery, received once, in one attempt; none missing`,
      );
    }
    return { ok: problems.length === 0 && arrived, p99: s.p99 };
  } finally {
    await setup.stop();
    await receiver.close();
  }
}

/**
 * The deliveries sent, once `failures` runs have failed and their alerts have all been
 * evaluated and settled with nothing held; undefined until then.
 */
async function settledDeliveries(pool: pg.Pool, failures: number): Promise<number | undefined> {
  const { rows } = await pool.query<{ failed: number; open: number; sent: number }>(
    `select (select count(*)::int from meshhook.runs where status = 'failed') as failed,
            (select count(*)::int from meshhook.alert_outbox)
            + (select count(*)::int from meshhook.alert_logs
               where status in ('pending', 'sending')
                  or (status = 'suppressed' and covered_by is null)) as open,
            (select count(*)::int from meshhook.alert_logs where status = 'sent') as sent`,
  );
  const r = rows[0]!;
  return r.failed >= failures && r.open === 0 ? r.sent : undefined;
}

/**
 * Each failed run and the delivery that carried it: its own message, or, when the throttle
 * held it (a suppressed row), the message that covered it.
 */
async function traceFailures(
  pool: pg.Pool,
  receipts: Receipt[],
  sentAt: Map<string, number>,
): Promise<Trace[]> {
  const received = new Map(receipts.map((r) => [r.delivery, r.at]));
  const { rows } = await pool.query<{
    run_id: string;
    delivery: string | null;
    finished: number;
    held_at: number | null;
    previous_evaluated: number | null;
    evaluated: number;
    recorded: number | null;
    duration_ms: number | null;
    attempts: number;
    covers: number;
  }>(
    `select r.id as run_id, l.id as delivery, extract(epoch from r.finished_at) * 1000 as finished,
            extract(epoch from s.created_at) * 1000 as held_at,
            (select extract(epoch from max(p.created_at)) * 1000 from meshhook.alert_logs p
             where p.status = 'sent' and p.rule_id = s.rule_id and p.created_at < l.created_at)
              as previous_evaluated,
            extract(epoch from l.created_at) * 1000 as evaluated,
            extract(epoch from a.at) * 1000 as recorded, a.duration_ms, l.attempts, l.covers
     from meshhook.runs r
     left join meshhook.alert_logs s on s.run_id = r.id and s.status = 'suppressed'
     left join meshhook.alert_logs l on l.status = 'sent'
       and case when s.id is null then l.run_id = r.id else l.message_id = s.covered_by end
     left join meshhook.alert_attempts a on a.log_id = l.id and a.attempt = l.attempts
     where r.id = any($1::uuid[])`,
    [[...sentAt.keys()]],
  );
  return rows.map((r) => ({
    runId: r.run_id,
    delivery: r.delivery,
    sent: sentAt.get(r.run_id)!,
    finished: Number(r.finished),
    heldAt: r.held_at === null ? null : Number(r.held_at),
    previousEvaluated: Number(r.previous_evaluated),
    evaluated: Number(r.evaluated),
    sendStart: Number(r.recorded) - Number(r.duration_ms),
    received: r.delivery ? (received.get(r.delivery) ?? NaN) : NaN,
    recorded: Number(r.recorded),
    attempts: r.attempts,
    covers: r.covers,
  }));
}

function checkFailures(traces: Trace[], receipts: Receipt[], runIds: string[]): string[] {
  const problems: string[] = [];
  const ids = receipts.map((r) => r.delivery);
  const repeats = ids.length - new Set(ids).size;
  if (repeats > 0) problems.push(`${repeats} deliveries received more than once`);
  const carried = traces.filter((t) => !Number.isNaN(t.received));
  const missing = runIds.length - new Set(carried.map((t) => t.runId)).size;
  if (missing > 0)
    problems.push(`${missing} of ${runIds.length} failed runs in no received delivery`);
  if (carried.length > new Set(carried.map((t) => t.runId)).size) {
    problems.push('failed runs carried by more than one delivery');
  }
  const retried = new Set(traces.filter((t) => t.attempts > 1).map((t) => t.delivery)).size;
  if (retried > 0) problems.push(`${retried} deliveries took more than one attempt`);
  return problems;
}
