// What counting run metrics costs the engine: the engine benchmark's drain and mixed phases with
// the counting functions replaced by ones that only finish runs (metrics off) and as migrated
// (on), alternating on a fresh database each round, so neither side gets the warmer machine
// throughout.
//
//   npm run bench -- metrics-engine                 (3 rounds each of 2000 runs per phase)
//   npm run bench -- metrics-engine --rounds 4 --engine-runs 3000
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { runEnginePhases, type EngineFigures } from './_engine-phases.ts';
import {
  alternateRounds,
  describeFigures,
  ENGINE_LOAD,
  ENGINE_LOAD_WORDS,
  printPhaseRatios,
} from './_engine-rounds.ts';

/** The target: throughput with metrics on at least this share of it with them off. */
const TARGET = 0.95;

/** One round's figures. */
interface Round {
  metrics: boolean;
  figures: EngineFigures;
  /** Finished runs counted in run_metrics' all-time totals, and steps in step_metrics. */
  counted: { runs: number; steps: number };
}

/** Command-line options of this benchmark, shared with `metrics`. */
export const ENGINE_OPTIONS = {
  rounds: { type: 'string', default: '3' },
  'engine-runs': { type: 'string', default: process.env.BENCH_RUNS ?? '2000' },
} as const;

/** Runs the benchmark and prints its figures. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: ENGINE_OPTIONS });
  await measureMetricsCost({
    rounds: Number(values.rounds),
    runs: Number(values['engine-runs']),
    out: console.log,
  });
}

/** Alternates metrics off and on for `rounds` rounds each and prints runs/s and the ratios. */
export async function measureMetricsCost(options: {
  rounds: number;
  runs: number;
  out: (line: string) => void;
}): Promise<{ drainRatio: number; mixedRatio: number }> {
  const { out, runs } = options;
  out(
    `engine with metrics off and on: ${runs} webhooks per phase, 3-step workflow, ${ENGINE_LOAD_WORDS}, ${options.rounds} rounds each, alternating, a fresh database each`,
  );
  const rounds = await alternateRounds({
    rounds: options.rounds,
    order: 'off-on',
    round: async (metrics, pool, url): Promise<Round> => {
      if (!metrics) await setCounting(pool, false);
      const figures = await runEnginePhases(pool, url, {
        runs,
        ...ENGINE_LOAD,
      });
      return { metrics, figures, counted: await countedRuns(pool) };
    },
    describe: (round) => describeRound(round, runs),
    out,
  });
  const { drainRatio, mixedRatio } = printPhaseRatios({
    rounds,
    isOn: (r) => r.metrics,
    runs,
    target: TARGET,
    out,
  });

  // With metrics on every run and step is counted once; with them off, none.
  const wrong = rounds.filter((r) =>
    r.metrics
      ? r.counted.runs !== runs * 2 || r.counted.steps !== runs * 2 * 3
      : r.counted.runs !== 0 || r.counted.steps !== 0,
  );
  const failed = rounds.reduce((n, r) => n + r.figures.failed, 0);
  out(
    `  runs not succeeded: ${failed}; rounds whose counts were wrong: ${wrong.length} of ${rounds.length}`,
  );
  if (failed > 0 || wrong.length > 0) process.exitCode = 1;
  return { drainRatio, mixedRatio };
}

/**
 * Metrics off: finish_runs only sets the final status, as the settlement statement did before
 * runs were counted, and count_steps does nothing. On: the migration's own functions, as a
 * fresh database has them.
 */
async function setCounting(pool: pg.Pool, on: boolean): Promise<void> {
  if (on) return;
  await pool.query(
    `create or replace function meshhook.finish_runs(
       ids uuid[], statuses text[], errors jsonb[], at timestamptz default now())
     returns setof uuid
     language sql volatile
     set search_path = meshhook, pg_temp
     as $$
       update runs r set status = f.status, error = f.error, finished_at = at
       from unnest(ids, statuses, errors) as f(id, status, error)
       where r.id = f.id and r.status in ('queued', 'running')
       returning r.id
     $$;
     create or replace function meshhook.count_steps(
       project_ids uuid[], workflow_ids uuid[], statuses text[], counts integer[])
     returns void
     language sql volatile
     as $$ select $$`,
  );
}

async function countedRuns(pool: pg.Pool): Promise<{ runs: number; steps: number }> {
  const { rows } = await pool.query<{ runs: number; steps: number }>(
    `select (select coalesce(sum(succeeded + failed + canceled), 0)::int from meshhook.run_metrics
             where grain = 'all') as runs,
            (select coalesce(sum(count), 0)::int from meshhook.step_metrics) as steps`,
  );
  return rows[0]!;
}

function describeRound(round: Round, runs: number): string {
  const { figures } = round;
  return (
    `metrics ${round.metrics ? 'on ' : 'off'}   ${describeFigures(figures, runs)}` +
    `   counted ${round.counted.runs} runs, ${round.counted.steps} steps`
  );
}
