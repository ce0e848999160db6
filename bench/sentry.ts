// What reporting to Sentry costs the engine: the engine benchmark's drain and mixed phases with
// one run in ten failing at its transform, SENTRY_DSN unset (off) and pointing at a loopback
// Sentry-protocol receiver (on), alternating on a fresh database each round. With Sentry on,
// the receiver must get one event per failed run it was sent (at least the issue's burst of
// MESHHOOK_SENTRY_EVENTS_PER_ISSUE, none twice); with it off, nothing.
//
//   npm run bench -- sentry                          (3 rounds each, 2,000 runs per phase)
//   npm run bench -- sentry --rounds 4 --runs 1000
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { createPool } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { benchDatabase } from './_database.ts';
import {
  runEnginePhases,
  spawnRole,
  stopChildren,
  waitReady,
  type EngineFigures,
} from './_engine-phases.ts';
import {
  alternateRounds,
  ENGINE_LOAD,
  ENGINE_LOAD_WORDS,
  printPhaseRatios,
} from './_engine-rounds.ts';
import { median } from './_errors-capture.ts';
import { SentryReceiver, type SentryReceipt } from './_sentry-receiver.ts';
import type { SinkCost } from './_sentry-sink.ts';

/** One webhook in FAIL_EVERY makes its run fail. */
const FAIL_EVERY = 10;
/** The target: throughput with Sentry on at least this share of it with Sentry off. */
const TARGET = 0.97;
/** The variables that turn Sentry on or shape it; none reaches an off round. */
const SENTRY_VARIABLES = /^(PUBLIC_)?SENTRY_|^MESHHOOK_SENTRY_/;
/** MESHHOOK_SENTRY_EVENTS_PER_ISSUE for the processes with Sentry on (`--events-per-issue`). */
let eventsPerIssue = '10';

/** One round's figures and what its checks found. */
interface Round {
  sentry: boolean;
  figures: EngineFigures;
  /** CPU seconds of the web and worker processes over the round (all three phases). */
  cpuSeconds: number;
  drain: DrainShape;
  failedRuns: number;
  errorEvents: number;
  /** Event items the receiver got, and items of other types by type. */
  sentryEvents: number;
  /** Distinct fingerprints among them: the Sentry issues they group into. */
  sentryIssues: number;
  otherItems: Map<string, number>;
  /** Why the round's failures, error events or Sentry events are wrong; empty when right. */
  wrong: string[];
}

/** Runs the benchmark and prints its figures. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: 'string', default: '3' },
      runs: { type: 'string', default: process.env.BENCH_RUNS ?? '2000' },
      // MESHHOOK_SENTRY_EVENTS_PER_ISSUE of the processes with Sentry on (0: every event).
      'events-per-issue': { type: 'string', default: '10' },
    },
  });
  const roundsEach = Number(values.rounds);
  const runs = Number(values.runs);
  const out = console.log;
  // Off means unset: nothing Sentry's from the benchmark's own environment reaches the processes.
  for (const name of Object.keys(process.env))
    if (SENTRY_VARIABLES.test(name)) delete process.env[name];
  eventsPerIssue = values['events-per-issue'];
  const sdk = JSON.parse(
    await readFile(new URL('../node_modules/@sentry/node/package.json', import.meta.url), 'utf8'),
  ) as { version: string };

  const receiver = await SentryReceiver.start();
  let rounds: Round[];
  try {
    out(
      `engine with Sentry off and on: ${runs} webhooks per phase, 3-step workflow, 1 run in ${FAIL_EVERY} failing at its transform (expression_error, no retry), error capture on, ${ENGINE_LOAD_WORDS}; on: SENTRY_DSN=${receiver.dsn()} (@sentry/node ${sdk.version}, a loopback receiver answering 200), off: SENTRY_DSN unset; ${roundsEach} rounds each, off on on off …, a fresh database each`,
    );
    const startup = await measureStartup(receiver, roundsEach);
    out(
      `  start-up: meshhook web from spawn to /readyz, median of ${roundsEach} each   off ${startup.off.toFixed(0)} ms   on ${startup.on.toFixed(0)} ms (loading and initialising the SDK: ${(startup.on - startup.off).toFixed(0)} ms)`,
    );
    const sink = await measureSink(receiver);
    out(
      `  the sink alone (bench/_sentry-sink.ts, a process of its own, ${SINK_EVENTS} failed-step errors one every ${SINK_GAP_MS} ms): startSentry ${sink.startMs.toFixed(0)} ms CPU; per event sentryEventOf ${sink.eventOfMs.toFixed(3)} ms, sink.send and the SDK's sending ${sink.sendMs.toFixed(2)} ms CPU; the receiver got ${sink.received} events`,
    );
    rounds = await alternateRounds({
      rounds: roundsEach,
      order: 'off-on-on-off',
      round: (sentry, pool, url) => runRound(receiver, pool, url, { sentry, runs }),
      describe: (round) =>
        describeRound(round, runs) + round.wrong.map((reason) => `\n    WRONG: ${reason}`).join(''),
      out,
    });
  } finally {
    await receiver.close();
  }

  const { met, wrong } = summarize(rounds, runs, out);
  if (!met) out('  target MISSED (see above)');
  if (wrong > 0) {
    out('FAILED: some counts were wrong (see above)');
    process.exitCode = 1;
  }
}

/** Prints the medians, the ratios and where the difference lies; whether the target was met. */
function summarize(
  rounds: Round[],
  runs: number,
  out: (line: string) => void,
): { met: boolean; wrong: number } {
  const side = (sentry: boolean) => rounds.filter((r) => r.sentry === sentry);
  const { met } = printPhaseRatios({ rounds, isOn: (r) => r.sentry, runs, target: TARGET, out });
  // Where the difference lies: the drain's start-up (every process loads the SDK when it
  // starts, and the drain phase starts the workers), its steady rate, and the CPU of it all.
  const startOff = median(side(false).map((r) => r.drain.firstAfterSeconds));
  const startOn = median(side(true).map((r) => r.drain.firstAfterSeconds));
  const steadyOff = median(side(false).map((r) => r.drain.steadyRate));
  const steadyOn = median(side(true).map((r) => r.drain.steadyRate));
  out(
    `  median drain, first run finished after   off ${startOff.toFixed(2)} s   on ${startOn.toFixed(2)} s; then runs/s   off ${steadyOff.toFixed(0)}   on ${steadyOn.toFixed(0)}   on/off ${(steadyOn / steadyOff).toFixed(3)}`,
  );
  const cpuOff = median(side(false).map((r) => r.cpuSeconds));
  const cpuOn = median(side(true).map((r) => r.cpuSeconds));
  out(
    `  median CPU of the web and worker processes per round   off ${cpuOff.toFixed(1)} s   on ${cpuOn.toFixed(1)} s`,
  );
  const wrong = rounds.filter((r) => r.wrong.length > 0);
  out(
    `  rounds whose failures, error events or Sentry events were wrong: ${wrong.length} of ${rounds.length} (each round: ${rounds[0]?.figures.failing ?? 0} runs meant to fail; with Sentry on, at most one event per failed run and at least the issue's burst, each the run's error event's, and no other; off, no request at all)`,
  );
  return { met, wrong: wrong.length };
}

/** One round on a fresh database: the engine's phases, then the checks and the drain's shape. */
async function runRound(
  receiver: SentryReceiver,
  pool: pg.Pool,
  url: string,
  options: { sentry: boolean; runs: number },
): Promise<Round> {
  const { sentry, runs } = options;
  receiver.collect(); // nothing may be left over, but a stray request is not this round's
  const cpuBefore = childrenCpuSeconds();
  const figures = await runEnginePhases(pool, url, {
    runs,
    ...ENGINE_LOAD,
    failEvery: FAIL_EVERY,
    env: {
      MESHHOOK_ERROR_CAPTURE: 'on',
      ...(sentry
        ? { SENTRY_DSN: receiver.dsn(), MESHHOOK_SENTRY_EVENTS_PER_ISSUE: eventsPerIssue }
        : {}),
    },
  });
  // The processes have exited, flushing the SDK first: whatever they sent has arrived.
  const cpuSeconds = childrenCpuSeconds() - cpuBefore;
  return {
    ...(await checkRound(pool, { sentry, figures, received: receiver.collect() })),
    cpuSeconds,
    drain: await drainShape(pool, runs, figures),
  };
}

/**
 * Checks a round: the runs meant to fail failed and no other, each left one error event; with
 * Sentry on the receiver got one event per failed run (its run, its error event's id, level
 * error, the transform's error type) and nothing else of that kind; with it off, no request.
 */
async function checkRound(
  pool: pg.Pool,
  round: { sentry: boolean; figures: EngineFigures; received: SentryReceipt[] },
): Promise<Omit<Round, 'cpuSeconds' | 'drain'>> {
  const { sentry, figures, received } = round;
  const { rows } = await pool.query<{ run_id: string; error_ids: string[] }>(
    `select r.id as run_id, array_remove(array_agg(e.error_id::text), null) as error_ids
     from meshhook.runs r left join meshhook.error_events e on e.run_id = r.id
     where r.status = 'failed'
     group by r.id`,
  );
  const errorEvents = (
    await pool.query<{ n: number }>(`select count(*)::int as n from meshhook.error_events`)
  ).rows[0]!.n;
  const wrong: string[] = [];
  if (figures.failed !== figures.failing || rows.length !== figures.failing)
    wrong.push(`${rows.length} runs failed, ${figures.failing} were meant to`);
  if (errorEvents !== rows.length || rows.some((r) => r.error_ids.length !== 1))
    wrong.push(`${errorEvents} error events for ${rows.length} failed runs, not one each`);

  const items = received.flatMap((r) => r.items);
  const events = items.filter((item) => item.type === 'event').map((item) => item.payload);
  const otherItems = new Map<string, number>();
  for (const item of items)
    if (item.type !== 'event') otherItems.set(item.type, (otherItems.get(item.type) ?? 0) + 1);

  if (!sentry) {
    if (received.length > 0) wrong.push(`the receiver got ${received.length} requests`);
  } else {
    if (received.some((r) => !r.envelope))
      wrong.push(`${received.filter((r) => !r.envelope).length} requests were no envelope`);
    // Sentry's event ids are the error events' ids without their dashes.
    const expected = new Map(rows.map((r) => [r.run_id, r.error_ids[0]?.replace(/-/g, '')]));
    const seen = new Map<string, number>();
    let unexpected = 0;
    for (const event of events as SentryEventFields[]) {
      const runId = event.tags?.run_id ?? '';
      seen.set(runId, (seen.get(runId) ?? 0) + 1);
      const right =
        expected.has(runId) &&
        event.event_id === expected.get(runId) &&
        event.level === 'error' &&
        event.tags?.source === 'worker' &&
        event.tags?.error_type === 'expression_error' &&
        event.tags?.node_id === 'shape';
      if (!right) unexpected++;
    }
    const once = rows.filter((r) => seen.get(r.run_id) === 1).length;
    const twice = [...seen.values()].filter((n) => n > 1).length;
    // One issue sends a burst of MESHHOOK_SENTRY_EVENTS_PER_ISSUE events and then that many a
    // minute (0: every one): each event sent is one failed run's, none twice, at least the burst.
    const limit = Number(eventsPerIssue);
    const least = limit === 0 ? rows.length : Math.min(rows.length, limit);
    const most = rows.length;
    if (events.length < least || events.length > most || twice > 0 || unexpected > 0)
      wrong.push(
        `${events.length} Sentry events for ${rows.length} failed runs (expected ${least} to ${most}): ${once} runs with exactly one, ${twice} with more, ${unexpected} events of no failed run or not as the failure`,
      );
  }
  return {
    sentry,
    figures,
    failedRuns: rows.length,
    errorEvents,
    sentryEvents: events.length,
    sentryIssues: new Set((events as SentryEventFields[]).map((e) => e.fingerprint?.join())).size,
    otherItems,
    wrong,
  };
}

/** The fields of a received event that the checks read. */
interface SentryEventFields {
  event_id?: string;
  level?: string;
  tags?: Record<string, string>;
  fingerprint?: string[];
}

function describeRound(round: Round, runs: number): string {
  const { figures, drain } = round;
  const others = [...round.otherItems].map(([type, n]) => `${n} ${type}`).join(', ');
  return (
    `Sentry ${round.sentry ? 'on ' : 'off'}   drain ${(runs / figures.drainSeconds).toFixed(0).padStart(5)} runs/s` +
    ` (first run after ${drain.firstAfterSeconds.toFixed(2)} s, then ${drain.steadyRate.toFixed(0)} runs/s)` +
    `   mixed ${(runs / figures.mixedSeconds).toFixed(0).padStart(5)} runs/s` +
    ` (${(runs / figures.mixedSendSeconds).toFixed(0)} webhooks accepted/s, p50 / p99 ${figures.latencies.p50.toFixed(0)} / ${figures.latencies.p99.toFixed(0)} ms)` +
    `   CPU ${round.cpuSeconds.toFixed(1)} s` +
    `   ${round.failedRuns} runs failed, ${round.errorEvents} error events, ${round.sentryEvents} Sentry events` +
    (round.sentryEvents > 0
      ? ` in ${round.sentryIssues} issue${round.sentryIssues === 1 ? '' : 's'}`
      : '') +
    (others ? ` (and ${others})` : '')
  );
}

/** When the drain's runs finished: how long the workers took to finish a first run, then the pace. */
interface DrainShape {
  /** From spawning the workers to the first run finished (start-up, first claim, three steps). */
  firstAfterSeconds: number;
  /** Runs finished per second from the first tenth finished to the last. */
  steadyRate: number;
}

async function drainShape(
  pool: pg.Pool,
  runs: number,
  figures: EngineFigures,
): Promise<DrainShape> {
  // The drain's runs are the first `runs` accepted: the mixed phase sends only after they ended.
  const tenth = Math.max(1, Math.floor(runs / 10));
  const { rows } = await pool.query<{ span: number; tail: number }>(
    `with drained as (
       select finished_at, row_number() over (order by finished_at) as n
       from (select finished_at from meshhook.runs order by created_at limit $1) r
     )
     select extract(epoch from max(finished_at) - min(finished_at))::float8 as span,
            extract(epoch from max(finished_at) - max(finished_at) filter (where n = $2))::float8 as tail
     from drained`,
    [runs, tenth],
  );
  const { span, tail } = rows[0]!;
  return { firstAfterSeconds: figures.drainSeconds - span, steadyRate: (runs - tenth) / tail };
}

const SINK_EVENTS = 400;
const SINK_GAP_MS = 5;

/** Runs bench/_sentry-sink.ts against the receiver: the sink's CPU per event, alone. */
async function measureSink(receiver: SentryReceiver): Promise<SinkCost & { received: number }> {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL('./_sentry-sink.ts', import.meta.url)),
      receiver.dsn(),
      String(SINK_EVENTS),
      String(SINK_GAP_MS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let printed = '';
  child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bench/_sentry-sink.ts exited with ${code}`);
  const received = receiver
    .collect()
    .flatMap((r) => r.items)
    .filter((item) => item.type === 'event').length;
  return { ...(JSON.parse(printed) as SinkCost), received };
}

/**
 * Start-up with Sentry off and on: `meshhook web` from spawn to its first /readyz answer,
 * alternating off, on, on, off, … on one migrated database, `times` times each; medians in ms.
 */
async function measureStartup(
  receiver: SentryReceiver,
  times: number,
): Promise<{ off: number; on: number }> {
  const database = await benchDatabase();
  const took = { off: [] as number[], on: [] as number[] };
  try {
    const pool = createPool({ connectionString: database.url, max: 2 });
    await migrate(pool).finally(() => pool.end());
    for (let i = 0; i < times * 2; i++) {
      const sentry = i % 4 === 1 || i % 4 === 2;
      const port = await freePort();
      const started = performance.now();
      const web = spawnRole('web', {
        ...process.env,
        DATABASE_URL: database.url,
        PORT: String(port),
        MESHHOOK_LOG_LEVEL: 'warn',
        ...(sentry ? { SENTRY_DSN: receiver.dsn() } : {}),
      });
      try {
        await waitReady(`http://127.0.0.1:${port}`);
        (sentry ? took.on : took.off).push(performance.now() - started);
      } finally {
        await stopChildren([web]);
      }
    }
  } finally {
    await database.drop();
  }
  receiver.collect();
  return { off: median(took.off), on: median(took.on) };
}

/** CPU seconds (user + system) of this process's children that have exited, as the kernel counts them. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name: cutime and cstime are the 14th and 15th, in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / USER_HZ;
}

// USER_HZ is 100 on every Linux build that matters here.
const USER_HZ = 100;
