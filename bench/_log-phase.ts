// One measured phase of the log-stream benchmark: write for a while with the subscribers open,
// wait (bounded) for the streams to catch up, then compare what each subscriber received with
// what it should have, and time every delivery from its batch's commit.
import type pg from 'pg';
import { LOG_LEVELS, type LogLevel } from '../src/core/definition.ts';
import type { Notifier } from '../src/engine/notifier.ts';
import type { LogFixture } from './_log-fixture.ts';
import { runWriters, type Commit } from './_log-writers.ts';
import {
  clock,
  cpuOf,
  cpuSeconds,
  cpuSpent,
  machineCpuSeconds,
  mainThreadSchedule,
  quantile,
} from './_process-stats.ts';
import type { SubscriberSpec, SubscriberThreads } from './_subscribers.ts';

/** A stored line, as much as the expectations need. */
interface LineRow {
  id: number;
  runId: string;
  workflowId: string;
  level: LogLevel;
  message: string;
}

/** The figures of one phase. */
export interface PhaseFigures {
  /** The writing window on the monotonic clock in µs, as CPU profiles (--cpu-prof) time samples. */
  windowUs: [number, number];
  /** Offered lines/s, null when the writers ran unpaced. */
  offeredLinesPerS: number | null;
  seconds: number;
  linesCommitted: number;
  batches: number;
  /** Lines per batch, and how long the writers' transactions took (begin to commit). */
  linesPerBatch: number;
  transactionMs: { p50: number; p99: number };
  ingestedLinesPerS: number;
  expected: number;
  received: number;
  /** Received during the writing window, per second of it. */
  deliveriesPerS: number;
  missing: number;
  /** Deliveries whose id was not above the subscriber's previous one: repeated or reordered. */
  outOfOrder: number;
  /** Deliveries beyond what was expected (lines outside a subscriber's filter, or repeats). */
  unexpected: number;
  /** Subscribers whose count matched but whose set of ids did not. */
  wrongSets: number;
  lagged: number;
  reconnects: number;
  /** Per kind of subscriber: how many, and their deliveries expected and received. */
  byLabel: Record<string, { subscribers: number; expected: number; received: number }>;
  streamErrors: string[];
  /** Whether every expected delivery arrived before the drain deadline. */
  drained: boolean;
  /** From the writers' end to the last delivery of the phase's lines. */
  drainMs: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  /** Event loop utilisation of each client thread during the phase, 0–1. */
  clientUtilisation: number[];
  /** CPU while writing, in cores: the server process; */
  serverCores: number;
  /** the share of the time its main thread ran, and waited for a CPU to run on; */
  serverMainThread: { running: number; waiting: number };
  /** this database's PostgreSQL backends and the shared background processes; */
  postgresCores: number;
  /** (the same per line ingested, in µs of CPU;) */
  postgresUsPerLine: number;
  /** this process (writers and client threads); */
  benchCores: number;
  /** everything else on the machine (other work sharing it); */
  otherCores: number;
  /** and the whole machine. */
  machineBusyCores: number;
}

/** Commit time of every line id written so far. */
export class CommitTimes {
  #at = new Float64Array(1 << 16);

  /** Maps each line to the first commit of its run whose lastId is at least its id. */
  add(lines: LineRow[], commits: Commit[]): void {
    const byRun = new Map<string, Commit[]>();
    for (const c of commits) {
      let list = byRun.get(c.runId);
      if (!list) byRun.set(c.runId, (list = []));
      list.push(c);
    }
    const cursor = new Map<string, number>();
    for (const line of lines) {
      const list = byRun.get(line.runId);
      let i = cursor.get(line.runId) ?? 0;
      while (list && i < list.length && Number(list[i]!.lastId) < line.id) i++;
      cursor.set(line.runId, i);
      const commit = list?.[i];
      if (!commit) continue;
      while (line.id >= this.#at.length) {
        const grown = new Float64Array(this.#at.length * 2);
        grown.set(this.#at);
        this.#at = grown;
      }
      this.#at[line.id] = commit.at;
    }
  }

  /** The commit time of a line, or 0 when unknown. */
  get(id: number): number {
    return this.#at[id] ?? 0;
  }
}

/** This database's backends and the background processes every database shares. */
async function postgresPids(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    `select pid from pg_stat_activity where datname = current_database() or datname is null`,
  );
  return rows.map((r) => r.pid);
}

/** Highest log id so far. */
export async function maxLogId(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
    `select coalesce(max(id), 0)::text as id from run_logs`,
  );
  return Number(rows[0]!.id);
}

async function readLines(pool: pg.Pool, afterId: number, upToId: number): Promise<LineRow[]> {
  const { rows } = await pool.query<{
    id: string;
    run_id: string;
    workflow_id: string;
    level: LogLevel;
    message: string;
  }>(
    `select id, run_id, workflow_id, level, message from run_logs
     where id > $1::bigint and id <= $2::bigint order by id`,
    [afterId, upToId],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    runId: r.run_id,
    workflowId: r.workflow_id,
    level: r.level,
    message: r.message,
  }));
}

/** What each subscriber should receive of these lines: how many, and the sum of their ids. */
function expectedFor(
  specs: SubscriberSpec[],
  lines: LineRow[],
): { count: Float64Array; sum: Float64Array } {
  // Subscribers with the same filter expect the same lines: count each filter once.
  const groups = new Map<string, { spec: SubscriberSpec; count: number; sum: number }>();
  const groupOf = specs.map((spec) => {
    const key = `${spec.runId ?? ''}|${spec.workflowId ?? ''}|${spec.level ?? ''}|${spec.q ?? ''}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { spec, count: 0, sum: 0 }));
    return group;
  });
  const byRun = new Map<string, Array<{ spec: SubscriberSpec; count: number; sum: number }>>();
  const projectWide: Array<{ spec: SubscriberSpec; count: number; sum: number }> = [];
  for (const group of groups.values()) {
    if (group.spec.runId) {
      let list = byRun.get(group.spec.runId);
      if (!list) byRun.set(group.spec.runId, (list = []));
      list.push(group);
    } else projectWide.push(group);
  }
  const matches = (spec: SubscriberSpec, line: LineRow) =>
    (!spec.workflowId || spec.workflowId === line.workflowId) &&
    (!spec.level || LOG_LEVELS.indexOf(line.level) >= LOG_LEVELS.indexOf(spec.level)) &&
    (!spec.q || line.message.toLowerCase().includes(spec.q.toLowerCase()));
  for (const line of lines) {
    for (const group of byRun.get(line.runId) ?? []) {
      if (matches(group.spec, line)) {
        group.count++;
        group.sum += line.id;
      }
    }
    for (const group of projectWide) {
      if (matches(group.spec, line)) {
        group.count++;
        group.sum += line.id;
      }
    }
  }
  return {
    count: Float64Array.from(groupOf, (g) => g.count),
    sum: Float64Array.from(groupOf, (g) => g.sum),
  };
}

/** Runs one phase and returns its figures and the counters to diff the next phase against. */
export async function runPhase(options: {
  pool: pg.Pool;
  fixture: LogFixture;
  threads: SubscriberThreads;
  specs: SubscriberSpec[];
  commitTimes: CommitTimes;
  writers: number;
  linesPerSecond: number | null;
  seconds: number;
  maxBatch: number;
  drainSeconds: number;
  serverPid: number;
  notifier?: Notifier;
}): Promise<PhaseFigures> {
  const { pool, specs, threads } = options;
  const fromId = await maxLogId(pool);
  // Counters are cumulative: this phase's are the difference to here.
  const previous = await threads.collect();
  const startTotal = previous.count.reduce((a, b) => a + b, 0);
  const cpu0 = {
    server: cpuSeconds(options.serverPid),
    schedule: mainThreadSchedule(options.serverPid),
    postgres: cpuOf(await postgresPids(pool)),
    bench: process.cpuUsage(),
    machine: machineCpuSeconds(),
  };
  const t0 = clock();
  const mono0 = Number(process.hrtime.bigint() / 1000n);
  const written = await runWriters({
    pool,
    projectId: options.fixture.projectId,
    runs: options.fixture.runs,
    writers: options.writers,
    linesPerSecond: options.linesPerSecond,
    seconds: options.seconds,
    maxBatch: options.maxBatch,
    ...(options.notifier ? { notifier: options.notifier } : {}),
  });
  const t1 = clock();
  const mono1 = Number(process.hrtime.bigint() / 1000n);
  const cpu1 = {
    server: cpuSeconds(options.serverPid),
    schedule: mainThreadSchedule(options.serverPid),
    postgres: cpuOf(await postgresPids(pool)),
    bench: process.cpuUsage(cpu0.bench),
    machine: machineCpuSeconds(),
  };
  const toId = await maxLogId(pool);
  const lines = await readLines(pool, fromId, toId);
  options.commitTimes.add(lines, written.commits);
  const expected = expectedFor(specs, lines);
  const expectedTotal = expected.count.reduce((a, b) => a + b, 0);

  const deadline = t1 + options.drainSeconds * 1000;
  let drained = false;
  while (clock() < deadline) {
    if ((await threads.total()).total - startTotal >= expectedTotal) {
      drained = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const collected = await threads.collect();

  let missing = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let wrongSets = 0;
  let lagged = 0;
  let reconnects = 0;
  let received = 0;
  const streamErrors = new Map<string, number>();
  const byLabel: PhaseFigures['byLabel'] = {};
  specs.forEach((spec, i) => {
    const got = collected.count[i]! - previous.count[i]!;
    const gotSum = collected.sum[i]! - previous.sum[i]!;
    received += got;
    const label = (byLabel[spec.label] ??= { subscribers: 0, expected: 0, received: 0 });
    label.subscribers++;
    label.expected += expected.count[i]!;
    label.received += got;
    missing += Math.max(0, expected.count[i]! - got);
    unexpected += Math.max(0, got - expected.count[i]!);
    if (got === expected.count[i] && gotSum !== expected.sum[i]) wrongSets++;
    outOfOrder += collected.outOfOrder[i]! - previous.outOfOrder[i]!;
    lagged += collected.lagged[i]! - previous.lagged[i]!;
    reconnects += collected.reconnects[i]! - previous.reconnects[i]!;
    const error = collected.errors[i];
    if (error && error !== previous.errors[i]) {
      const key = `${spec.label}: ${error.slice(0, 120)}`;
      streamErrors.set(key, (streamErrors.get(key) ?? 0) + 1);
    }
  });

  let inWindow = 0;
  let lastDelivery = t1;
  const latencies: number[] = [];
  for (let i = 0; i < collected.ids.length; i++) {
    const id = collected.ids[i]!;
    const at = collected.times[i]!;
    if (id <= fromId || id > toId) continue;
    if (at <= t1) inWindow++;
    if (at > lastDelivery) lastDelivery = at;
    const committed = options.commitTimes.get(id);
    if (committed > 0) latencies.push(at - committed);
  }
  const sorted = Float64Array.from(latencies).sort();
  const transactions = Float64Array.from(written.transactionMs).sort();
  const windowSeconds = (t1 - t0) / 1000;
  const serverCores = (cpu1.server - cpu0.server) / windowSeconds;
  const postgresCores = cpuSpent(cpu0.postgres, cpu1.postgres) / windowSeconds;
  const benchCores = (cpu1.bench.user + cpu1.bench.system) / 1e6 / windowSeconds;
  const machineBusyCores = (cpu1.machine.busy - cpu0.machine.busy) / windowSeconds;
  return {
    windowUs: [mono0, mono1],
    offeredLinesPerS: options.linesPerSecond,
    seconds: written.seconds,
    linesCommitted: written.lines,
    batches: written.batches,
    linesPerBatch: written.lines / Math.max(1, written.batches),
    transactionMs: {
      p50: quantile(transactions, 0.5),
      p99: quantile(transactions, 0.99),
    },
    ingestedLinesPerS: written.lines / written.seconds,
    expected: expectedTotal,
    received,
    deliveriesPerS: inWindow / windowSeconds,
    missing,
    outOfOrder,
    unexpected,
    wrongSets,
    lagged,
    reconnects,
    byLabel,
    streamErrors: [...streamErrors].map(([text, n]) => `${n} × ${text}`),
    drained,
    drainMs: lastDelivery - t1,
    latencyMs: {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
      samples: sorted.length,
    },
    clientUtilisation: collected.utilisation,
    serverCores,
    serverMainThread: {
      running: (cpu1.schedule.runNs - cpu0.schedule.runNs) / 1e6 / (t1 - t0),
      waiting: (cpu1.schedule.waitNs - cpu0.schedule.waitNs) / 1e6 / (t1 - t0),
    },
    postgresCores,
    postgresUsPerLine: (postgresCores * windowSeconds * 1e6) / Math.max(1, written.lines),
    benchCores,
    otherCores: Math.max(0, machineBusyCores - serverCores - postgresCores - benchCores),
    machineBusyCores,
  };
}
