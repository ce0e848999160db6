// The alerts benchmark's second part: a steady stream of failures across many workflows, each
// with its own throttled rule and webhook channel. It measures the deliveries the dispatchers
// send, how late each throttled message arrives against the time its throttle let it go, and
// that every failure is accounted for in the log: in a message sent (covers) or held for the
// next one.
import type pg from 'pg';
import { parseDuration } from '../src/core/metric-range.ts';
import { AlertReceiver, type Receipt } from './_alerts-receiver.ts';
import {
  coresBetween,
  createWebhookRules,
  describeSpread,
  inFlight,
  pushFailures,
  readCpu,
  startAlertSetup,
  waitUntil,
  type ThrottleText,
} from './_alerts-setup.ts';

/** Held failures are waited for when their message is due within this long of the load's end. */
const MAX_DRAIN_MS = 60_000;

/** What the log says about the failures, once everything due has been sent. */
interface Accounting {
  failures: number;
  sent: number;
  /** Sum of `covers` over sent deliveries. */
  covered: number;
  /** Suppressed rows not yet covered by a message. */
  held: number;
  /** Deliveries pending, sending or failed; muted rows. Both 0 here. */
  unsettled: number;
  muted: number;
  /** Rules whose sent covers plus held differ from their workflow's failures. */
  wrongRules: number;
  /** Messages whose covers differ from the rows they cover (plus their own failure). */
  wrongMessages: number;
  /** Failed runs in neither a message nor a held row; in more than one. */
  unaccounted: number;
  doubled: number;
}

/** Runs the part and prints its figures; false when a failure is unaccounted for. */
export async function measureThrottling(options: {
  seconds: number;
  perMinute: number;
  rules: number;
  throttle: ThrottleText;
  out: (line: string) => void;
}): Promise<{ ok: boolean }> {
  const { out, throttle } = options;
  const waitMs = parseDuration(throttle.group_wait) ?? NaN;
  const intervalMs = parseDuration(throttle.group_interval) ?? NaN;
  const receiver = await AlertReceiver.start();
  const setup = await startAlertSetup({ workflows: options.rules });
  try {
    await createWebhookRules(setup, { receiverUrl: receiver.url, throttle });
    await setup.startWorker();
    const count = Math.round((options.perMinute * options.seconds) / 60);
    out(
      `alerts under throttling: ${count} failed runs in ${options.seconds} s (${options.perMinute}/min, round-robin) across ${options.rules} workflows, each with its own rule on run_failed (throttle ${throttle.group_wait}/${throttle.group_interval}/${throttle.repeat_interval}) and signed webhook channel; one web and one worker process, default alert settings`,
    );
    out(`  database: ${setup.server}`);

    const cpu0 = await readCpu(setup);
    const loadStart = Date.now();
    const pushed = await pushFailures(setup.workflows, {
      count,
      perSecond: options.perMinute / 60,
    });
    const loadEnd = Date.now();
    const cores = coresBetween(cpu0, await readCpu(setup, cpu0));
    const settled = await waitUntil(
      async () => (await failedRuns(setup.pool)) >= pushed.runIds.length,
      30_000,
    );
    // What the throttle still holds goes out group_interval after each group's last message;
    // with long timers (Alertmanager's 5 minutes) it is left held and counted as such.
    const drainMs = Math.max(waitMs, intervalMs) + 5_000;
    const drained =
      drainMs <= MAX_DRAIN_MS &&
      (await waitUntil(async () => (await heldFailures(setup.pool)) === 0, drainMs));
    await waitUntil(async () => (await inFlight(setup.pool)) === 0, 30_000);
    const receipts = await receiver.collect();
    const accounting = await account(setup.pool);

    const during = receipts.filter((r) => r.at >= loadStart && r.at <= loadEnd).length;
    const loadSeconds = (loadEnd - loadStart) / 1000;
    out(
      `  sent ${pushed.runIds.length} failing webhooks in ${pushed.seconds.toFixed(1)} s (${((pushed.runIds.length / pushed.seconds) * 60).toFixed(0)}/min), ${pushed.refused} refused${settled ? '' : '; NOT all runs failed within 30 s'}`,
    );
    out(
      `  deliveries: ${receipts.length} received, ${during} while failures arrived (${(during / loadSeconds).toFixed(2)}/s; the throttle lets ${allowed({ ...options, loadMs: loadEnd - loadStart, waitMs, intervalMs })} go out in that time), ${(accounting.failures / Math.max(1, accounting.sent)).toFixed(1)} failures per message`,
    );
    out(
      `  CPU while failures arrived, cores: web + worker ${cores.processes.toFixed(2)}, PostgreSQL ${cores.postgres.toFixed(2)}, machine ${cores.machine.toFixed(2)}`,
    );
    const timing = await throttleTiming(setup.pool, receipts, { waitMs, intervalMs });
    out(
      `  a throttled message's arrival after the time its throttle let it go, p50 / p95 / p99 / max: ${describeSpread(timing.late)} (${timing.late.length} messages)`,
    );
    out(
      `    of which until its evaluating transaction began: ${describeSpread(timing.lateEvaluated)}`,
    );
    out(
      `  messages of one group apart at the receiver, p50 / p95 / p99 / max: ${describeSpread(timing.gaps)}; shortest ${timing.gaps.length ? Math.min(...timing.gaps).toFixed(0) : '–'} ms (group_interval ${intervalMs} ms)`,
    );
    const a = accounting;
    const balanced = a.covered + a.held === a.failures;
    out(
      `  accounted: covers of ${a.sent} sent deliveries ${a.covered} + held (suppressed, not yet covered) ${a.held} = ${a.covered + a.held} of ${a.failures} failures: ${balanced ? 'equal' : 'NOT EQUAL'}${drained ? ' (everything held was sent)' : ''}`,
    );
    const problems: string[] = [];
    if (!balanced) problems.push('covers and held do not add up to the failures');
    if (a.unsettled > 0) problems.push(`${a.unsettled} deliveries pending, sending or failed`);
    if (a.muted > 0) problems.push(`${a.muted} failures muted`);
    if (a.wrongRules > 0) problems.push(`${a.wrongRules} rules whose counts differ`);
    if (a.wrongMessages > 0) problems.push(`${a.wrongMessages} messages covering other than said`);
    if (a.unaccounted > 0) problems.push(`${a.unaccounted} failed runs in no message or held row`);
    if (a.doubled > 0) problems.push(`${a.doubled} failed runs counted twice`);
    const ids = receipts.map((r) => r.delivery);
    if (new Set(ids).size !== ids.length) problems.push('deliveries received more than once');
    if (receipts.length !== a.sent) {
      problems.push(`${receipts.length} received but ${a.sent} recorded as sent`);
    }
    if (timing.gaps.some((gap) => gap < intervalMs * 0.95)) {
      problems.push('two messages of a group arrived closer than group_interval');
    }
    for (const problem of problems) out(`  WRONG: ${problem}`);
    if (problems.length === 0) {
      out(
        '  per rule and per run too: each failed run in exactly one message or held row, each message covering exactly the rows it names, each delivery received once',
      );
    }
    return { ok: problems.length === 0 && settled };
  } finally {
    await setup.stop();
    await receiver.close();
  }
}

/**
 * Messages the throttle lets out while failures arrive, round-robin at a steady rate: each
 * group's first group_wait after its first failure, then one each group_interval (a failure is
 * always waiting by then while the interval is longer than the gap between a group's failures).
 */
function allowed(o: {
  rules: number;
  perMinute: number;
  loadMs: number;
  waitMs: number;
  intervalMs: number;
}): number {
  if (o.intervalMs === 0) return Math.round((o.perMinute * o.loadMs) / 60_000);
  let total = 0;
  for (let g = 0; g < o.rules; g++) {
    const first = (g * 60_000) / o.perMinute + o.waitMs;
    if (first <= o.loadMs) total += 1 + Math.floor((o.loadMs - first) / o.intervalMs);
  }
  return total;
}

async function failedRuns(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `select count(*)::int as n from meshhook.runs where status = 'failed'`,
  );
  return rows[0]!.n;
}

async function heldFailures(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `select count(*)::int as n from meshhook.alert_logs
     where status = 'suppressed' and covered_by is null`,
  );
  return rows[0]!.n;
}

async function account(pool: pg.Pool): Promise<Accounting> {
  const { rows } = await pool.query<Accounting>(
    `with sent as (
       select l.*,
              (select count(*) from meshhook.alert_logs s
               where s.status = 'suppressed' and s.covered_by = l.message_id) as held_rows,
              exists (select from meshhook.alert_logs s
                      where s.status = 'suppressed' and s.covered_by = l.message_id
                        and s.run_id = l.run_id) as subject_held
       from meshhook.alert_logs l where l.status = 'sent'
     ), per_run as (
       -- Each failure is a held row, or the subject of the message it triggered.
       select run_id from meshhook.alert_logs where status = 'suppressed'
       union all
       select run_id from sent where not subject_held
     ), per_rule as (
       select r.id,
              (select count(*) from meshhook.runs x
               where x.workflow_id = r.workflow_id and x.status = 'failed') as failures,
              (select coalesce(sum(covers), 0) from sent where sent.rule_id = r.id)
              + (select count(*) from meshhook.alert_logs h
                 where h.rule_id = r.id and h.status = 'suppressed' and h.covered_by is null)
                as counted
       from meshhook.alert_rules r
     )
     select
       (select count(*)::int from meshhook.runs where status = 'failed') as failures,
       (select count(*)::int from sent) as sent,
       (select coalesce(sum(covers), 0)::int from sent) as covered,
       (select count(*)::int from meshhook.alert_logs
        where status = 'suppressed' and covered_by is null) as held,
       (select count(*)::int from meshhook.alert_logs
        where status in ('pending', 'sending', 'failed')) as unsettled,
       (select count(*)::int from meshhook.alert_logs where status = 'muted') as muted,
       (select count(*)::int from per_rule where failures <> counted) as "wrongRules",
       (select count(*)::int from sent
        where covers <> held_rows + case when subject_held then 0 else 1 end) as "wrongMessages",
       (select count(*)::int from meshhook.runs r
        where r.status = 'failed' and not exists (select from per_run p where p.run_id = r.id))
         as unaccounted,
       (select (count(*) - count(distinct run_id))::int from per_run) as doubled`,
  );
  return rows[0]!;
}

/**
 * When each message was due by its throttle, worked out from the log as decideGroup does: the
 * first failure it covers plus group_wait in a quiet group, else the group's previous message
 * plus group_interval (the times are the evaluating transactions'); and its lateness at the
 * receiver. Also the gaps between a group's messages as received.
 */
async function throttleTiming(
  pool: pg.Pool,
  receipts: Receipt[],
  timers: { waitMs: number; intervalMs: number },
): Promise<{ late: number[]; lateEvaluated: number[]; gaps: number[] }> {
  const received = new Map(receipts.map((r) => [r.delivery, r.at]));
  const { rows } = await pool.query<{
    id: string;
    rule_id: string;
    evaluated: number;
    earliest: number;
  }>(
    `select l.id, l.rule_id, extract(epoch from l.created_at) * 1000 as evaluated,
            extract(epoch from coalesce(
              (select min(s.created_at) from meshhook.alert_logs s
               where s.status = 'suppressed' and s.covered_by = l.message_id),
              l.created_at)) * 1000 as earliest
     from meshhook.alert_logs l where l.status = 'sent'
     order by l.rule_id, l.created_at`,
  );
  const late: number[] = [];
  const lateEvaluated: number[] = [];
  const gaps: number[] = [];
  let previous: { ruleId: string; evaluated: number; received: number } | undefined;
  for (const row of rows) {
    const evaluated = Number(row.evaluated);
    const earliest = Number(row.earliest);
    const at = received.get(row.id);
    const prior = previous?.ruleId === row.rule_id ? previous : undefined;
    const quiet = !prior || earliest >= prior.evaluated + timers.intervalMs;
    const due = quiet ? earliest + timers.waitMs : prior.evaluated + timers.intervalMs;
    if (at !== undefined) {
      late.push(at - due);
      lateEvaluated.push(evaluated - due);
      if (prior) gaps.push(at - prior.received);
    }
    previous = { ruleId: row.rule_id, evaluated, received: at ?? NaN };
  }
  return { late, lateEvaluated, gaps };
}
