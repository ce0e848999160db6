// What capturing step failures costs the engine: the engine benchmark's drain and mixed phases
// with one run in ten failing at its transform, error capture off (MESHHOOK_ERROR_CAPTURE=off
// in the web and worker processes) and on, alternating (off, on, on, off, …) on a fresh database
// each round, so neither side gets the warmer machine throughout.
import type pg from 'pg';
import { runEnginePhases, type EngineFigures } from './_engine-phases.ts';
import {
  alternateRounds,
  describeFigures,
  ENGINE_LOAD,
  ENGINE_LOAD_WORDS,
  printPhaseRatios,
} from './_engine-rounds.ts';

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
    `engine with error capture off and on: ${runs} webhooks per phase, 3-step workflow, 1 run in ${FAIL_EVERY} failing at its transform (expression_error, no retry), ${ENGINE_LOAD_WORDS}, ${options.rounds} rounds each, alternating off on on off …, a fresh database each`,
  );
  const rounds = await alternateRounds({
    rounds: options.rounds,
    order: 'off-on-on-off',
    round: async (capture, pool, url): Promise<Round> => {
      const figures = await runEnginePhases(pool, url, {
        runs,
        ...ENGINE_LOAD,
        failEvery: FAIL_EVERY,
        env: { MESHHOOK_ERROR_CAPTURE: capture ? 'on' : 'off' },
      });
      return { capture, figures, stored: await storedErrors(pool) };
    },
    describe: (round) => describeRound(round, runs),
    out,
  });
  const { drainRatio, mixedRatio } = printPhaseRatios({
    rounds,
    isOn: (r) => r.capture,
    runs,
    target: TARGET,
    out,
  });

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
  return { drainRatio, mixedRatio, ok: wrong.length === 0 };
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
    `capture ${round.capture ? 'on ' : 'off'}   ${describeFigures(figures, runs)}` +
    `   ${stored.failedRuns} runs failed, ${stored.events} error events`
  );
}
