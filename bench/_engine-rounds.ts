// The frame of the benchmarks that weigh a feature's cost to the engine (errors --part engine,
// metrics-engine, sentry): rounds with the feature off and on, alternating, each on a fresh
// migrated database, and the median runs/s of each side's drain and mixed phases.
import type pg from 'pg';
import { createPool } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { benchDatabase } from './_database.ts';
import type { EngineFigures } from './_engine-phases.ts';
import { median } from './_errors-capture.ts';

/** The load of every round: HTTP concurrency, worker processes and each one's concurrency. */
export const ENGINE_LOAD = {
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 32),
  workers: Number(process.env.BENCH_WORKERS ?? 2),
  workerConcurrency: process.env.BENCH_WORKER_CONCURRENCY ?? '32',
};

/** ENGINE_LOAD in words, for a benchmark's first line. */
export const ENGINE_LOAD_WORDS = `${ENGINE_LOAD.workers} workers × ${ENGINE_LOAD.workerConcurrency}, HTTP concurrency ${ENGINE_LOAD.concurrency}`;

/**
 * Runs `rounds` rounds of each side, printing a line per round and the database after them.
 * `order` `off-on-on-off` starts each pair with the side the last one ended with, so a machine
 * that speeds up or slows down over the run favours neither side; `off-on` simply alternates.
 */
export async function alternateRounds<R>(options: {
  rounds: number;
  order: 'off-on' | 'off-on-on-off';
  /** One round on a migrated database, `url` being the database's for the processes it spawns. */
  round: (on: boolean, pool: pg.Pool, url: string) => Promise<R>;
  describe: (round: R) => string;
  out: (line: string) => void;
}): Promise<R[]> {
  const rounds: R[] = [];
  let server = '';
  for (let i = 0; i < options.rounds * 2; i++) {
    const on = options.order === 'off-on' ? i % 2 === 1 : i % 4 === 1 || i % 4 === 2;
    const database = await benchDatabase();
    server = database.server;
    try {
      const pool = createPool({ connectionString: database.url, max: ENGINE_LOAD.concurrency });
      try {
        await migrate(pool);
        const round = await options.round(on, pool, database.url);
        rounds.push(round);
        options.out(`  round ${i + 1}  ${options.describe(round)}`);
      } finally {
        await pool.end();
      }
    } finally {
      await database.drop();
    }
  }
  options.out(`  database: ${server}`);
  return rounds;
}

/**
 * Prints the median drain and mixed runs/s of each side and on ÷ off against `target`; returns
 * the two ratios and whether both met it.
 */
export function printPhaseRatios<R extends { figures: EngineFigures }>(options: {
  rounds: readonly R[];
  isOn: (round: R) => boolean;
  runs: number;
  target: number;
  out: (line: string) => void;
}): { drainRatio: number; mixedRatio: number; met: boolean } {
  const { rounds, isOn, runs, target } = options;
  const side = (on: boolean) => rounds.filter((r) => isOn(r) === on);
  const ratio = (name: string, seconds: (figures: EngineFigures) => number) => {
    const rate = (r: R) => runs / seconds(r.figures);
    const off = median(side(false).map(rate));
    const on = median(side(true).map(rate));
    const onOff = on / off;
    options.out(
      `  median ${name} runs/s   off ${off.toFixed(0).padStart(5)}   on ${on.toFixed(0).padStart(5)}   on/off ${onOff.toFixed(3)}  target ≥ ${target}: ${onOff >= target ? 'met' : 'MISSED'}`,
    );
    return onOff;
  };
  const drainRatio = ratio('drain', (f) => f.drainSeconds);
  const mixedRatio = ratio('mixed', (f) => f.mixedSeconds);
  return { drainRatio, mixedRatio, met: drainRatio >= target && mixedRatio >= target };
}

/** A round's phases in a line: drain and mixed runs/s and the mixed phase's p50 and p99. */
export function describeFigures(figures: EngineFigures, runs: number): string {
  return (
    `drain ${(runs / figures.drainSeconds).toFixed(0).padStart(5)} runs/s` +
    `   mixed ${(runs / figures.mixedSeconds).toFixed(0).padStart(5)} runs/s` +
    `   mixed p50 / p99 ${figures.latencies.p50.toFixed(0)} / ${figures.latencies.p99.toFixed(0)} ms`
  );
}
