// Engine throughput: N webhooks through a three-step workflow with two worker processes, next
// to a baseline of N bare single-row inserts at the same concurrency on the same server.
//
//   npm run bench -- engine            (BENCH_RUNS=2000 BENCH_CONCURRENCY=32 by default)
import { createPool } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { benchDatabase } from './_database.ts';
import { measureInserts, runEnginePhases } from './_engine-phases.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const WORKER_CONCURRENCY = process.env.BENCH_WORKER_CONCURRENCY ?? '32';

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const database = await benchDatabase();
  try {
    const pool = createPool({ connectionString: database.url, max: CONCURRENCY });
    await migrate(pool);

    const baseline = await measureInserts(pool, { count: RUNS, concurrency: CONCURRENCY });
    // Webhooks are accepted with the workers stopped first, measuring intake alone; then the
    // workers start and drain the queue, measuring execution alone; then both together.
    const figures = await runEnginePhases(pool, database.url, {
      runs: RUNS,
      concurrency: CONCURRENCY,
      workers: WORKERS,
      workerConcurrency: WORKER_CONCURRENCY,
    });
    await pool.end();

    const { intakeSeconds, drainSeconds, mixedSendSeconds, mixedSeconds, latencies } = figures;
    const runsPerSecond = RUNS / mixedSeconds;
    const fig = (n: number) => n.toFixed(0).padStart(7);
    console.log(
      `engine benchmark: ${RUNS} webhooks, 3-step workflow, ${WORKERS} workers × ${WORKER_CONCURRENCY}, HTTP concurrency ${CONCURRENCY}`,
    );
    console.log(`database: ${database.server}`);
    console.log(`baseline  bare inserts/s                 ${fig(baseline)}`);
    console.log(
      `intake    webhooks accepted/s (no work)  ${fig(RUNS / intakeSeconds)}   ratio to baseline ${(RUNS / intakeSeconds / baseline).toFixed(2)}`,
    );
    console.log(
      `drain     runs completed/s (queue only)  ${fig(RUNS / drainSeconds)}   ratio to baseline ${(RUNS / drainSeconds / baseline).toFixed(2)}`,
    );
    console.log(`mixed     webhooks accepted/s            ${fig(RUNS / mixedSendSeconds)}`);
    console.log(
      `mixed     runs completed/s               ${fig(runsPerSecond)}   ratio to baseline ${(runsPerSecond / baseline).toFixed(2)}`,
    );
    console.log(
      `mixed     webhook→completion p50 / p99   ${latencies.p50.toFixed(0)} ms / ${latencies.p99.toFixed(0)} ms`,
    );
    console.log(`runs not succeeded: ${figures.failed}`);
    if (figures.failed > 0) process.exitCode = 1;
  } finally {
    await database.drop();
  }
}
