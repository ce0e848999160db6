// Log writers: each appends batches of lines across its own runs, one transaction and one
// statement per batch (appendRunLogBatch), then announces the batch after commit, as the
// engine's settlements do.
import type pg from 'pg';
import { withTransaction } from '../src/db/client.ts';
import { appendRunLogBatch, type NewRunLog } from '../src/db/queries/run-logs.ts';
import type { Notifier } from '../src/engine/notifier.ts';
import type { BenchRun } from './_log-fixture.ts';
import { makeLine } from './_log-fixture.ts';
import { clock } from './_process-stats.ts';

/** One run's share of a committed batch: its lines up to lastId committed at `at` (clock()). */
export interface Commit {
  runId: string;
  lastId: string;
  at: number;
}

/** What the writers did. */
export interface WriteResult {
  lines: number;
  batches: number;
  seconds: number;
  commits: Commit[];
  /** How long each batch's transaction took, begin to commit, in ms. */
  transactionMs: number[];
}

// A run gets a few lines per batch, as a step writes a few lines when it settles, and a batch
// spans many runs, as a settlement batch does. The batch is one statement: statements, not
// lines, are what costs PostgreSQL most (with one appendRunLogs statement per run, 200-line
// batches over 8 runs took 89–108 µs of its CPU per line, 100-line batches over 20 runs
// 155–190 µs).
const LINES_PER_RUN = 2;
const MAX_RUNS = 100;
// Paced writers wait until this much of their rate has accumulated, so a batch holds ~10 ms of
// lines rather than whatever arrived during one round trip.
const PACE_MS = 10;

/**
 * Runs `writers` loops for `seconds`, at `linesPerSecond` in total or unpaced when it is null.
 * Each writer owns the runs whose index is its own modulo `writers`, so a run's batches commit
 * one after another and a line's batch is the first of its run whose lastId is at least its id.
 */
export async function runWriters(options: {
  pool: pg.Pool;
  projectId: string;
  runs: BenchRun[];
  writers: number;
  linesPerSecond: number | null;
  seconds: number;
  /** Lines per batch when unpaced, and the most a paced batch takes. */
  maxBatch: number;
  notifier?: Notifier;
}): Promise<WriteResult> {
  const { writers, linesPerSecond, maxBatch } = options;
  const commits: Commit[] = [];
  const transactionMs: number[] = [];
  let lines = 0;
  let batches = 0;
  const started = clock();
  const deadline = started + options.seconds * 1000;

  const writer = async (w: number) => {
    const own = options.runs.filter((_, i) => i % writers === w);
    const rate = linesPerSecond === null ? null : linesPerSecond / writers;
    let written = 0;
    for (;;) {
      const now = clock();
      if (now >= deadline) return;
      let size = maxBatch;
      if (rate !== null) {
        const due = Math.floor((rate * (now - started)) / 1000) - written;
        if (due < Math.max(1, (rate * PACE_MS) / 1000)) {
          await sleep(PACE_MS / 2);
          continue;
        }
        size = Math.min(due, maxBatch);
      }
      const batch = makeBatch(own, size);
      const begun = clock();
      const lastIds = await withTransaction(options.pool, (db) =>
        appendRunLogBatch(
          db,
          [...batch].flatMap(([run, runLines]) =>
            runLines.map((line) => ({
              ...line,
              projectId: options.projectId,
              runId: run.id,
              workflowId: run.workflowId,
            })),
          ),
        ),
      );
      const ends = [...lastIds].map(([runId, lastId]) => ({ runId, lastId }));
      const at = clock();
      transactionMs.push(at - begun);
      for (const end of ends) {
        commits.push({ ...end, at });
        options.notifier?.logs({ projectId: options.projectId, ...end });
      }
      written += size;
      lines += size;
      batches++;
    }
  };

  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  const seconds = (clock() - started) / 1000;
  await options.notifier?.flush();
  return { lines, batches, seconds, commits, transactionMs };
}

/** `size` lines over random runs, LINES_PER_RUN each, over at most MAX_RUNS runs. */
function makeBatch(runs: BenchRun[], size: number): Map<BenchRun, NewRunLog[]> {
  const batch = new Map<BenchRun, NewRunLog[]>();
  const now = new Date();
  const runCount = Math.min(MAX_RUNS, Math.max(1, Math.ceil(size / LINES_PER_RUN)));
  const chosen = Array.from(
    { length: runCount },
    () => runs[Math.floor(Math.random() * runs.length)]!,
  );
  for (let i = 0; i < size; i++) {
    const run = chosen[i % runCount]!;
    let lines = batch.get(run);
    if (!lines) batch.set(run, (lines = []));
    lines.push(makeLine(now));
  }
  return batch;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
