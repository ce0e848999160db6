// What capturing step failures costs the engine: the engine benchmark's drain and mixed phases
// with one run in ten failing at its transform, error capture off (MESHHOOK_ERROR_CAPTURE=off
// in the web and worker processes) and on, alternating (off, on, on, off, …) on a fresh database
// each round, so neither side gets the warmer machine throughout.
import type pg from 'pg';
import { createPool } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { benchDatabase } from './_database.ts';
import { runEnginePhases, type EngineFigures } from './_engine-phases.ts';
import { median } from './_errors-capture.ts';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const WORKER_CONCURRENCY = process.env.BENCH_WORKER_CONCURRENCY ?? '32';
/** One webhook in FAIL_EVERY makes its run fail. */
const FAIL_EVERY = 10;
/** The target: throughput with capture on at least this share of it with capture off. */
const TARGET = 0.95;

/** One round's figures. */
interface Round {
  capture: boolean;
  figures: EngineFigures;
  stored: Stored;
}

/** What error_events holds after a round, beside the failed runs. */
interface Stored {
  failedRuns: number;
  events: number;
  /** Events of failed runs, and failed runs with exactly one event. */
  ofFailedRuns: number;
  failedRunsWithOne: number;
  /** Events as a failing transform leaves them: worker, expression_error, high. */
  asExpected: number;
}

/** Alternates capture off and on for `rounds` rounds each; prints runs/s and the ratios. */
export async function measureCaptureCost(options: {
  rounds: number;
  runs: number;
  out: (line: string) => void;
}): Promise<{ drainRatio: number; mixedRatio: number; ok: boolean }> {
  const { out, runs } = options;
  out(
    `engine with error capture off and on: ${runs} webhooks per phase, 3-step workflow, 1 run in ${FAIL_EVERY} failing at its transform (expression_error, no retry), ${WORKERS} workers × ${WORKER_CONCURRENCY}, HTTP concurrency ${CONCURRENCY}, ${options.rounds} rounds each, alternating off on on off …, a fresh database each`,
  );
  const rounds: Round[] = [];
  let server = '';
  for (let i = 0; i < options.rounds * 2; i++) {
    // Off, on, on, off, off, on, …: each pair starts with the side the last one ended with,
    // so a machine that speeds up or slows down over the run favours neither side.
    const capture = i % 4 === 1 || i % 4 === 2;
    const database = await benchDatabase();
    server = database.server;
    try {
      const pool = createPool({ connectionString: database.url, max: CONCURRENCY });
      try {
        await migrate(pool);
        const figures = await runEnginePhases(pool, database.url, {
          runs,
          concurrency: CONCURRENCY,
          workers: WORKERS,
          workerConcurrency: WORKER_CONCURRENCY,
          failEvery: FAIL_EVERY,
          env: { MESHHOOK_ERROR_CAPTURE: capture ? 'on' : 'off' },
        });
        const round = { capture, figures, stored: await storedErrors(pool) };
        rounds.push(round);
        out(`  round ${i + 1}  ${describeRound(round, runs)}`);
      } finally {
        await pool.end();
      }
    } finally {
      await database.drop();
    }
  }
  out(`  database: ${server}`);

  const side = (capture: boolean) => rounds.filter((r) => r.capture === capture);
  const drain = (r: Round) => runs / r.figures.drainSeconds;
  const mixed = (r: Round) => runs / r.figures.mixedSeconds;
  const drainOff = median(side(false).map(drain));
  const drainOn = median(side(true).map(drain));
  const mixedOff = median(side(false).map(mixed));
  const mixedOn = median(side(true).map(mixed));
  const verdict = (ratio: number) =>
    `${ratio.toFixed(3)}  target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'MISSED'}`;
  out(
    `  median drain runs/s   off ${drainOff.toFixed(0).padStart(5)}   on ${drainOn.toFixed(0).padStart(5)}   on/off ${verdict(drainOn / drainOff)}`,
  );
  out(
    `  median mixed runs/s   off ${mixedOff.toFixed(0).padStart(5)}   on ${mixedOn.toFixed(0).padStart(5)}   on/off ${verdict(mixedOn / mixedOff)}`,
  );

  // Every failing run failed, and nothing else did; with capture on each failed run left
  // exactly one event and there are no others; with it off, none.
  const wrong = rounds.filter(({ capture, figures, stored }) => {
    const failedAsMeant =
      figures.failed === figures.failing && stored.failedRuns === figures.failing;
    const events = capture
      ? stored.events === stored.failedRuns &&
        stored.ofFailedRuns === stored.failedRuns &&
        stored.failedRunsWithOne === stored.failedRuns &&
        stored.asExpected === stored.events
      : stored.events === 0;
    return !failedAsMeant || !events;
  });
  out(
    `  rounds whose failures or error events were wrong: ${wrong.length} of ${rounds.length} (each round: ${rounds[0]?.figures.failing ?? 0} runs meant to fail; with capture on, one event per failed run (worker, expression_error, high, node shape) and no other; off, none)`,
  );
  return { drainRatio: drainOn / drainOff, mixedRatio: mixedOn / mixedOff, ok: wrong.length === 0 };
}

async function storedErrors(pool: pg.Pool): Promise<Stored> {
  const { rows } = await pool.query<Stored>(
    `with per_run as (
       select r.id, count(e.error_id)::int as events
       from meshhook.runs r left join meshhook.error_events e on e.run_id = r.id
       where r.status = 'failed'
       group by r.id
     )
     select (select count(*)::int from per_run) as "failedRuns",
            (select count(*)::int from meshhook.error_events) as events,
            (select coalesce(sum(events), 0)::int from per_run) as "ofFailedRuns",
            (select count(*)::int from per_run where events = 1) as "failedRunsWithOne",
            (select count(*)::int from meshhook.error_events
             where source = 'worker' and error_type = 'expression_error' and severity = 'high'
               and node_id = 'shape') as "asExpected"`,
  );
  return rows[0]!;
}

function describeRound(round: Round, runs: number): string {
  const { figures, stored } = round;
  return (
    `capture ${round.capture ? 'on ' : 'off'}   drain ${(runs / figures.drainSeconds).toFixed(0).padStart(5)} runs/s` +
    `   mixed ${(runs / figures.mixedSeconds).toFixed(0).padStart(5)} runs/s` +
    `   mixed p50 / p99 ${figures.latencies.p50.toFixed(0)} / ${figures.latencies.p99.toFixed(0)} ms` +
    `   ${stored.failedRuns} runs failed, ${stored.events} error events`
  );
}
