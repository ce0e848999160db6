// Capture throughput: errors drawn from the catalogue handed to ErrorCapture.capture as fast as
// it takes them (classified, fingerprinted, redacted, then written by record_errors in batches:
// issue, event and rollups), next to a plain insert of the same rows into a bare copy of
// error_events, alternating, on one database.
import type pg from 'pg';
import { describeError, type CapturedError } from '../src/core/error-events.ts';
import { createPool } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { ErrorCapture } from '../src/engine/error-capture.ts';
import { Notifier } from '../src/engine/notifier.ts';
import { createProcessLog } from '../src/engine/process-log.ts';
import { benchDatabase } from './_database.ts';
import { createFixture, drawErrors, ERROR_KINDS, type DrawnError } from './_errors-fixture.ts';

/** ErrorCapture drops what arrives past 10,000 pending errors: the loop stays under it. */
const MAX_PENDING = 9_000;
/** ErrorCapture's batches: at most 500 errors, two in flight. */
const BATCH = 500;
const IN_FLIGHT = 2;

/** What the capture part measured. */
export interface CaptureFigures {
  capture: number[];
  insert: number[];
  describe: number;
  ok: boolean;
}

/** Measures `rounds` rounds of `events` captures and plain inserts and prints them. */
export async function measureCapture(options: {
  events: number;
  rounds: number;
  out: (line: string) => void;
}): Promise<CaptureFigures> {
  const { events, rounds, out } = options;
  const database = await benchDatabase();
  const pool = createPool({ connectionString: database.url, max: 4 });
  try {
    await migrate(pool);
    const projects = await createFixture(pool);
    await pool.query(
      `create table public.bench_error_events_copy
         (like meshhook.error_events including defaults including constraints including indexes)`,
    );
    const workflows = projects.reduce((n, p) => n + p.workflows.length, 0);
    out(
      `capture: ${events.toLocaleString('en')} errors a round, ${rounds} rounds; ${projects.length} projects, ${workflows} workflows, ${ERROR_KINDS.length} kinds of error, ids varying in the messages`,
    );
    out(`  database: ${database.server}`);
    const notifier = new Notifier(pool);
    const log = createProcessLog({ level: 'warn' });
    const figures: CaptureFigures = { capture: [], insert: [], describe: 0, ok: true };
    let captured = 0;
    for (let round = 1; round <= rounds; round++) {
      const drawn = drawErrors(projects, events);
      // Alternating which goes first, so neither always meets the warmer server.
      let rows: CapturedError[] = [];
      let insertRate = 0;
      const capture = async () => {
        const result = await captureAll(pool, { notifier, log, drawn });
        rows = result.rows;
        if (result.dropped > 0 || result.stored !== events) {
          out(`  round ${round}: ${result.stored} stored, ${result.dropped} DROPPED`);
          figures.ok = false;
        }
        return events / result.seconds;
      };
      let captureRate: number;
      if (round % 2 === 1) {
        captureRate = await capture();
        insertRate = events / (await insertPlain(pool, rows));
      } else {
        // The plain insert needs rows: describe them first, untimed, with the same inputs.
        rows = drawn.map((d) => describeError(d.error, d.context));
        insertRate = events / (await insertPlain(pool, rows));
        captureRate = await capture();
      }
      captured += events;
      figures.capture.push(captureRate);
      figures.insert.push(insertRate);
      out(
        `  round ${round}  capture ${rate(captureRate)} errors/s   plain insert ${rate(insertRate)} rows/s   ratio ${(captureRate / insertRate).toFixed(2)}`,
      );
    }
    figures.describe = describeRate(drawErrors(projects, events));

    const stored = await storedCounts(pool);
    const medianCapture = median(figures.capture);
    const medianInsert = median(figures.insert);
    out(
      `  median    capture ${rate(medianCapture)} errors/s   plain insert ${rate(medianInsert)} rows/s   ratio capture ÷ insert ${(medianCapture / medianInsert).toFixed(2)}`,
    );
    out(
      `  describeError alone (classify, redact, fingerprint; this process, no database): ${rate(figures.describe)} errors/s`,
    );
    const right =
      stored.events === captured && stored.counted === captured && stored.copies === captured;
    out(
      `  stored: ${stored.events.toLocaleString('en')} events in ${stored.issues} issues (distinct fingerprints), counted ${stored.counted.toLocaleString('en')} in error_counts' all-time rows, ${stored.copies.toLocaleString('en')} plain copies: ${right ? 'as captured' : `WRONG, ${captured} captured`}`,
    );
    if (!right) figures.ok = false;
    return figures;
  } finally {
    await pool.end();
    await database.drop();
  }
}

/** Captures every drawn error and waits for flush(); seconds from the first capture. */
async function captureAll(
  pool: pg.Pool,
  input: { notifier: Notifier; log: ReturnType<typeof createProcessLog>; drawn: DrawnError[] },
): Promise<{ seconds: number; rows: CapturedError[]; stored: number; dropped: number }> {
  const capture = new ErrorCapture({ pool, notifier: input.notifier, log: input.log });
  const rows: CapturedError[] = [];
  const started = performance.now();
  for (const { error, context } of input.drawn) {
    while (capture.counts.pending >= MAX_PENDING) await new Promise((r) => setTimeout(r, 1));
    rows.push(capture.capture(error, context)!);
  }
  await capture.flush(600_000);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rows, ...capture.counts };
}

const INSERT_PLAIN = `
  insert into public.bench_error_events_copy
    (error_id, ts, project_id, issue_id, source, error_type, severity, message, stack,
     workflow_id, run_id, node_id, user_id, metadata)
  select e.error_id, e.ts, e.project_id, md5(e.fingerprint)::uuid, e.source, e.error_type,
         e.severity, e.message, e.stack, e.workflow_id, e.run_id, e.node_id, e.user_id, e.metadata
  from unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::text[], $10::uuid[], $11::uuid[], $12::text[],
              $13::uuid[], $14::jsonb[])
    as e(error_id, ts, project_id, fingerprint, source, error_type, severity, message, stack,
         workflow_id, run_id, node_id, user_id, metadata)`;

/** The rows inserted as they are, in ErrorCapture's batch size and concurrency; seconds. */
async function insertPlain(pool: pg.Pool, rows: readonly CapturedError[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < rows.length) {
        const batch = rows.slice(next, next + BATCH);
        next += BATCH;
        await pool.query(INSERT_PLAIN, [
          batch.map((e) => e.id),
          batch.map((e) => e.ts),
          batch.map((e) => e.projectId),
          batch.map((e) => e.fingerprint),
          batch.map((e) => e.source),
          batch.map((e) => e.errorType),
          batch.map((e) => e.severity),
          batch.map((e) => e.message),
          batch.map((e) => e.stack),
          batch.map((e) => e.workflowId),
          batch.map((e) => e.runId),
          batch.map((e) => e.nodeId),
          batch.map((e) => e.userId),
          batch.map((e) => JSON.stringify(e.metadata)),
        ]);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/** describeError's rate over these inputs, alone in this process. */
function describeRate(drawn: readonly DrawnError[]): number {
  const started = performance.now();
  for (const { error, context } of drawn) describeError(error, context);
  return drawn.length / ((performance.now() - started) / 1000);
}

async function storedCounts(
  pool: pg.Pool,
): Promise<{ events: number; issues: number; counted: number; copies: number }> {
  const { rows } = await pool.query<{
    events: number;
    issues: number;
    counted: number;
    copies: number;
  }>(
    `select (select count(*)::int from meshhook.error_events) as events,
            (select count(*)::int from meshhook.error_issues) as issues,
            (select coalesce(sum(count), 0)::int from meshhook.error_counts where grain = 'all') as counted,
            (select count(*)::int from public.bench_error_events_copy) as copies`,
  );
  return rows[0]!;
}

/** The median of some values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const rate = (n: number) => n.toFixed(0).padStart(7);
