// Log streaming: writers append log lines for many running runs while thousands of SSE
// subscribers read them over real HTTP from one `meshhook web` process, next to a baseline of
// the naive design (one NOTIFY per line, one authorised query per subscriber per line) in the
// same run.
//
//   npm run bench -- log-stream     (BENCH_SUBSCRIBERS=10000 BENCH_LINES_PER_S=10000 by default)
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type pg from 'pg';
import { createPool } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { Notifier } from '../src/engine/notifier.ts';
import { benchDatabase } from './_database.ts';
import { createLogFixture, type LogFixture } from './_log-fixture.ts';
import { CommitTimes, runPhase, type PhaseFigures } from './_log-phase.ts';
import { dropNaiveTrigger, installNaiveTrigger } from './_naive-log-server.ts';
import { clock, rssKiB } from './_process-stats.ts';
import { planSubscribers, SubscriberThreads, type SubscriberSpec } from './_subscribers.ts';

const env = process.env;
const SUBSCRIBERS = Number(env.BENCH_SUBSCRIBERS ?? 10_000);
const RUNS = Number(env.BENCH_RUNS ?? 2000);
const WRITERS = Number(env.BENCH_WRITERS ?? 4);
const LINES_PER_S = Number(env.BENCH_LINES_PER_S ?? 10_000);
const SECONDS = Number(env.BENCH_SECONDS ?? 15);
const FLAT_OUT_SECONDS = Number(env.BENCH_FLAT_OUT_SECONDS ?? 5);
const BASELINE_SUBSCRIBERS = Number(env.BENCH_BASELINE_SUBSCRIBERS ?? 1000);
const SKIP_BASELINE = env.BENCH_SKIP_BASELINE === '1';
const CLIENT_THREADS = Number(env.BENCH_CLIENT_THREADS ?? 2);
const tailsFor = (subscribers: number) =>
  Number(env.BENCH_TAILS ?? Math.max(4, Math.round(subscribers * 0.002)));
const JSON_ONLY = env.BENCH_JSON === '1';

const KEYS = 4;
// Requests in flight per client thread while opening: bounded, so opening measures the server
// rather than its accept queue.
const OPEN_CONCURRENCY = 32;
const OPEN_TIMEOUT_MS = 180_000;
const DRAIN_SECONDS = 20;
// A paced batch holds what accumulated (~10 ms of lines); unpaced, writers commit this many.
const MAX_BATCH = 200;

/** One side's figures: memory, opening, and its phases. */
interface SideFigures {
  subscribers: number;
  opened: number;
  openFailures: string[];
  openSeconds: number;
  openAtEnd: number;
  rssMiB: { before: number; open: number; end: number; per1000: number };
  paced: PhaseFigures;
  flatOut?: PhaseFigures;
  /** The naive server's own counts over the paced phase and its drain, per second. */
  naive?: { notificationsPerS: number; queriesPerS: number };
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const out = JSON_ONLY ? console.error : console.log;
  const database = await benchDatabase();
  const children = new Set<ChildProcess>();
  const pool = createPool({ connectionString: database.url, max: WRITERS + 3 });
  try {
    await migrate(pool);
    const fixture = await createLogFixture(pool, { runCount: RUNS, keyCount: KEYS });
    const commitTimes = new CommitTimes();
    const specs = planSubscribers({ count: SUBSCRIBERS, tails: tailsFor(SUBSCRIBERS), fixture });
    out(
      `log-stream benchmark: ${describe(specs)}, ${WRITERS} writers, ` +
        `${LINES_PER_S} lines/s offered for ${SECONDS} s, then unpaced for ${FLAT_OUT_SECONDS} s`,
    );
    out(`database: ${database.server}; client: ${CLIENT_THREADS} worker threads`);

    // MeshHook: one web process, writers announcing each committed batch like the engine.
    const port = await freePort();
    const web = spawnChild(['bin/meshhook.js', 'web'], {
      ...env,
      DATABASE_URL: database.url,
      PORT: String(port),
      MESHHOOK_LOG_LEVEL: 'warn',
    });
    children.add(web);
    await waitReady(`http://127.0.0.1:${port}`);
    const notifier = new Notifier(pool, (error) => console.error('notify failed', error));
    const meshhook = await measureSide({
      pool,
      pid: web.pid!,
      port,
      specs,
      fixture,
      commitTimes,
      notifier,
      flatOut: true,
      progress: out,
    });
    await stopChild(web);
    children.delete(web);

    // The naive design: NOTIFY per line from a trigger, a query per subscriber per line.
    let naive: SideFigures | undefined;
    if (!SKIP_BASELINE) {
      const naiveSpecs = planSubscribers({
        count: BASELINE_SUBSCRIBERS,
        tails: tailsFor(BASELINE_SUBSCRIBERS),
        fixture,
      });
      await installNaiveTrigger(pool);
      const naivePort = await freePort();
      const server = spawnChild(['bench/_naive-log-server.ts'], {
        ...env,
        DATABASE_URL: database.url,
        PORT: String(naivePort),
      });
      children.add(server);
      try {
        await waitReady(`http://127.0.0.1:${naivePort}`);
        naive = await measureSide({
          pool,
          pid: server.pid!,
          port: naivePort,
          specs: naiveSpecs,
          fixture,
          commitTimes,
          flatOut: false,
          statsUrl: `http://127.0.0.1:${naivePort}/stats`,
          progress: out,
        });
      } finally {
        await stopChild(server);
        children.delete(server);
        await dropNaiveTrigger(pool);
      }
    }

    report(out, meshhook, naive);
    console.log(
      JSON.stringify({
        bench: 'log-stream',
        config: {
          subscribers: SUBSCRIBERS,
          baseline_subscribers: SKIP_BASELINE ? 0 : BASELINE_SUBSCRIBERS,
          runs: RUNS,
          writers: WRITERS,
          lines_per_s: LINES_PER_S,
          seconds: SECONDS,
          flat_out_seconds: FLAT_OUT_SECONDS,
          client_threads: CLIENT_THREADS,
          database: database.server,
        },
        meshhook,
        naive,
      }),
    );
    const wrong = (p: PhaseFigures | undefined) =>
      p !== undefined && p.missing + p.outOfOrder + p.unexpected + p.wrongSets > 0;
    if (wrong(meshhook.paced) || wrong(meshhook.flatOut)) process.exitCode = 1;
  } finally {
    for (const child of children) await stopChild(child);
    await pool.end();
    await database.drop();
  }
}

/** Opens the subscribers on one server, runs the phases, and reads the server's memory. */
async function measureSide(options: {
  pool: pg.Pool;
  pid: number;
  port: number;
  specs: SubscriberSpec[];
  fixture: LogFixture;
  commitTimes: CommitTimes;
  notifier?: Notifier;
  flatOut: boolean;
  /** Where the naive server tells how many notifications and queries it handled. */
  statsUrl?: string;
  progress: (line: string) => void;
}): Promise<SideFigures> {
  const { pid, specs } = options;
  const threads = await SubscriberThreads.start(CLIENT_THREADS);
  try {
    const before = rssKiB(pid);
    const openStart = clock();
    let timer: NodeJS.Timeout | undefined;
    const openFailures = await Promise.race([
      threads.open({ port: options.port, specs, concurrency: OPEN_CONCURRENCY }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`subscribers not open after ${OPEN_TIMEOUT_MS / 1000} s`)),
          OPEN_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    const openSeconds = (clock() - openStart) / 1000;
    const opened = (await threads.total()).open;
    const open = rssKiB(pid);
    options.progress(
      `  ${opened} of ${specs.length} subscribers open in ${openSeconds.toFixed(1)} s` +
        (openFailures.length ? `; ${openFailures.length} failed, e.g. ${openFailures[0]}` : ''),
    );
    const phase = (linesPerSecond: number | null, seconds: number) =>
      runPhase({
        pool: options.pool,
        fixture: options.fixture,
        threads,
        specs,
        commitTimes: options.commitTimes,
        writers: WRITERS,
        linesPerSecond,
        seconds,
        maxBatch: MAX_BATCH,
        drainSeconds: DRAIN_SECONDS,
        serverPid: pid,
        ...(options.notifier ? { notifier: options.notifier } : {}),
      });
    const stats = async () =>
      (await (await fetch(options.statsUrl!)).json()) as { notifications: number; queries: number };
    const counted = options.statsUrl ? { at: clock(), ...(await stats()) } : undefined;
    const paced = await phase(LINES_PER_S, SECONDS);
    let naive: SideFigures['naive'];
    if (counted) {
      const after = await stats();
      const seconds = (clock() - counted.at) / 1000;
      naive = {
        notificationsPerS: (after.notifications - counted.notifications) / seconds,
        queriesPerS: (after.queries - counted.queries) / seconds,
      };
    }
    options.progress(
      `  paced: ${paced.ingestedLinesPerS.toFixed(0)} lines/s, ${paced.deliveriesPerS.toFixed(0)} deliveries/s`,
    );
    const openAtEnd = (await threads.total()).open;
    const flatOut = options.flatOut ? await phase(null, FLAT_OUT_SECONDS) : undefined;
    if (flatOut) {
      options.progress(
        `  unpaced: ${flatOut.ingestedLinesPerS.toFixed(0)} lines/s, ${flatOut.deliveriesPerS.toFixed(0)} deliveries/s`,
      );
    }
    const end = rssKiB(pid);
    await threads.close();
    return {
      subscribers: specs.length,
      opened,
      openFailures: openFailures.slice(0, 10),
      openSeconds,
      openAtEnd,
      rssMiB: {
        before: before / 1024,
        open: open / 1024,
        end: end / 1024,
        per1000: ((open - before) / 1024 / Math.max(1, opened)) * 1000,
      },
      paced,
      ...(flatOut ? { flatOut } : {}),
      ...(naive ? { naive } : {}),
    };
  } finally {
    await threads.terminate();
  }
}

function describe(specs: SubscriberSpec[]): string {
  const runs = specs.filter((s) => s.kind === 'run');
  const followed = new Set(runs.map((s) => s.runId)).size;
  return (
    `${specs.length} subscribers (${runs.length} following ${followed} runs, ` +
    `${specs.length - runs.length} project-wide tails)`
  );
}

function spawnChild(args: string[], childEnv: NodeJS.ProcessEnv): ChildProcess {
  return spawn(
    process.execPath,
    [...(env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + env.BENCH_PROFILE] : []), ...args],
    { env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** SIGTERM, and SIGKILL when the process is still there 15 s later. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready`);
}

const TARGETS = { ingest: 10_000, deliveries: 50_000, p50: 25, p99: 150, subscribers: 10_000 };

function report(out: (line: string) => void, m: SideFigures, n: SideFigures | undefined): void {
  const num = (v: number | undefined, digits = 0) =>
    v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || !(b > 0) ? '' : `${(a / b).toFixed(a / b < 10 ? 1 : 0)}×`;
  const rows: Array<[string, string, string, string]> = [];
  const row = (label: string, a: string, b: string, r = '') => rows.push([label, a, b, r]);
  const mp = m.paced;
  const np = n?.paced;
  row(
    'subscribers open / asked',
    `${m.opened} / ${m.subscribers}`,
    n ? `${n.opened} / ${n.subscribers}` : '',
  );
  row(
    'lines/s offered',
    num(mp.offeredLinesPerS ?? undefined),
    num(np?.offeredLinesPerS ?? undefined),
  );
  row(
    'lines/s ingested (committed)',
    num(mp.ingestedLinesPerS),
    num(np?.ingestedLinesPerS),
    ratio(mp.ingestedLinesPerS, np?.ingestedLinesPerS),
  );
  row(
    'writer batch: lines / transaction p50, p99 (ms)',
    `${num(mp.linesPerBatch)} / ${num(mp.transactionMs.p50, 1)}, ${num(mp.transactionMs.p99, 1)}`,
    np
      ? `${num(np.linesPerBatch)} / ${num(np.transactionMs.p50, 1)}, ${num(np.transactionMs.p99, 1)}`
      : '',
  );
  row(
    'deliveries/s while writing',
    num(mp.deliveriesPerS),
    num(np?.deliveriesPerS),
    ratio(mp.deliveriesPerS, np?.deliveriesPerS),
  );
  row('deliveries expected', num(mp.expected), num(np?.expected));
  row('  received', num(mp.received), num(np?.received));
  row('  missing after drain', num(mp.missing), num(np?.missing));
  row(
    '  out of order / unexpected / wrong set',
    `${mp.outOfOrder} / ${mp.unexpected} / ${mp.wrongSets}`,
    np ? `${np.outOfOrder} / ${np.unexpected} / ${np.wrongSets}` : '',
  );
  row(
    '  lagged events / reconnects',
    `${mp.lagged} / ${mp.reconnects}`,
    np ? `${np.lagged} / ${np.reconnects}` : '',
  );
  row(
    'drain after writers stopped (ms)',
    `${num(mp.drainMs)}${mp.drained ? '' : ' (cut)'}`,
    np ? `${num(np.drainMs)}${np.drained ? '' : ' (cut)'}` : '',
  );
  row(
    'commit→client p50 (ms)',
    num(mp.latencyMs.p50, 1),
    num(np?.latencyMs.p50, 1),
    ratio(np?.latencyMs.p50, mp.latencyMs.p50),
  );
  row(
    'commit→client p99 (ms)',
    num(mp.latencyMs.p99, 1),
    num(np?.latencyMs.p99, 1),
    ratio(np?.latencyMs.p99, mp.latencyMs.p99),
  );
  row('commit→client max (ms)', num(mp.latencyMs.max, 1), num(np?.latencyMs.max, 1));
  row(
    'server RSS before / open / end (MiB)',
    `${num(m.rssMiB.before)} / ${num(m.rssMiB.open)} / ${num(m.rssMiB.end)}`,
    n ? `${num(n.rssMiB.before)} / ${num(n.rssMiB.open)} / ${num(n.rssMiB.end)}` : '',
  );
  row(
    'server RSS per 1,000 subscribers (MiB)',
    num(m.rssMiB.per1000, 1),
    num(n?.rssMiB.per1000, 1),
    ratio(n?.rssMiB.per1000, m.rssMiB.per1000),
  );
  row('opening all subscribers (s)', num(m.openSeconds, 1), num(n?.openSeconds, 1));
  row('CPU while writing: server (cores)', num(mp.serverCores, 2), num(np?.serverCores, 2));
  const pct = (v: number | undefined) => (v === undefined ? '' : `${(v * 100).toFixed(0)}%`);
  row(
    '  server main thread: running / waiting for CPU',
    `${pct(mp.serverMainThread.running)} / ${pct(mp.serverMainThread.waiting)}`,
    np ? `${pct(np.serverMainThread.running)} / ${pct(np.serverMainThread.waiting)}` : '',
  );
  row('  PostgreSQL, this database (cores)', num(mp.postgresCores, 2), num(np?.postgresCores, 2));
  row(
    '  PostgreSQL CPU per line ingested (µs)',
    num(mp.postgresUsPerLine),
    num(np?.postgresUsPerLine),
  );
  row('  bench: writers + client (cores)', num(mp.benchCores, 2), num(np?.benchCores, 2));
  row('  other processes (cores)', num(mp.otherCores, 2), num(np?.otherCores, 2));
  row('  whole machine busy (cores)', num(mp.machineBusyCores, 2), num(np?.machineBusyCores, 2));
  row(
    '  client threads (event loop busy)',
    mp.clientUtilisation.map((u) => `${(u * 100).toFixed(0)}%`).join(' '),
    np ? np.clientUtilisation.map((u) => `${(u * 100).toFixed(0)}%`).join(' ') : '',
  );
  const f = m.flatOut;
  if (f) {
    row('unpaced: lines/s ingested', num(f.ingestedLinesPerS), '');
    row('unpaced: deliveries/s while writing', num(f.deliveriesPerS), '');
    row(
      'unpaced: writer batch lines / transaction p50 (ms)',
      `${num(f.linesPerBatch)} / ${num(f.transactionMs.p50, 1)}`,
      '',
    );
    row('unpaced: p50 / p99 (ms)', `${num(f.latencyMs.p50, 1)} / ${num(f.latencyMs.p99, 1)}`, '');
    row('unpaced: missing / out of order', `${f.missing} / ${f.outOfOrder}`, '');
    row(
      'unpaced: CPU server / PostgreSQL / bench / other',
      `${num(f.serverCores, 2)} / ${num(f.postgresCores, 2)} / ${num(f.benchCores, 2)} / ${num(f.otherCores, 2)}`,
      '',
    );
  }
  const widths = [0, 1, 2, 3].map((c) =>
    Math.max(...rows.map((r) => r[c]!.length), [' ', 'MeshHook', 'naive', 'ratio'][c]!.length),
  );
  const line = (r: string[]) =>
    r[0]!.padEnd(widths[0]!) +
    '  ' +
    r
      .slice(1)
      .map((v, i) => v.padStart(widths[i + 1]!))
      .join('  ');
  out('');
  out(line(['', 'MeshHook', n ? 'naive' : '', n ? 'ratio' : '']));
  for (const r of rows) out(line(n ? r : [r[0], r[1], '', '']));
  out('ratios: throughput MeshHook ÷ naive; latency and memory naive ÷ MeshHook');
  if (n?.naive) {
    out(
      `naive server: ${num(n.naive.notificationsPerS)} notifications/s in, ` +
        `${num(n.naive.queriesPerS)} authorised queries/s out (one per subscriber per line)`,
    );
  }
  if (n && n.subscribers !== m.subscribers) {
    out(
      `the naive baseline serves ${n.subscribers} subscribers, not ${m.subscribers}: its work per line grows with every subscriber`,
    );
  }
  out(
    'deliveries by subscriber (MeshHook, paced): ' +
      Object.entries(mp.byLabel)
        .map(([label, v]) => `${label} ×${v.subscribers} ${v.received}/${v.expected}`)
        .join('; '),
  );
  for (const e of [...mp.streamErrors, ...(f?.streamErrors ?? [])]) out(`stream error: ${e}`);
  for (const e of m.openFailures) out(`open failure: ${e}`);
  const busiest = Math.max(...mp.clientUtilisation);
  if (busiest > 0.9)
    out(
      `the client threads were saturated (${(busiest * 100).toFixed(0)}% busy): the figures may be the client's limit`,
    );
  const check = (ok: boolean, text: string) => out(`${ok ? 'met   ' : 'MISSED'} ${text}`);
  out('');
  check(
    mp.ingestedLinesPerS >= TARGETS.ingest * 0.99 && (f?.ingestedLinesPerS ?? 0) >= TARGETS.ingest,
    `≥ ${TARGETS.ingest} lines/s ingested with streaming on (paced ${num(mp.ingestedLinesPerS)}, unpaced ${num(f?.ingestedLinesPerS)})`,
  );
  check(
    mp.deliveriesPerS >= TARGETS.deliveries,
    `≥ ${TARGETS.deliveries} deliveries/s from one web process (${num(mp.deliveriesPerS)})`,
  );
  check(
    mp.latencyMs.p50 <= TARGETS.p50,
    `commit→client p50 ≤ ${TARGETS.p50} ms (${num(mp.latencyMs.p50, 1)})`,
  );
  check(
    mp.latencyMs.p99 <= TARGETS.p99,
    `commit→client p99 ≤ ${TARGETS.p99} ms (${num(mp.latencyMs.p99, 1)})`,
  );
  check(
    m.openAtEnd >= TARGETS.subscribers,
    `${TARGETS.subscribers} open subscribers in one web process (${m.openAtEnd} open at the end of the paced phase)`,
  );
  check(
    mp.missing === 0 && mp.outOfOrder === 0 && mp.unexpected === 0 && mp.wrongSets === 0,
    'every subscriber received exactly its lines, once, in order',
  );
}
