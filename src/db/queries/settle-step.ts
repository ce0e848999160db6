import type { CapturedError } from '../../core/error-events.ts';
import type { Queryable } from '../client.ts';
import { errorRecordsJson } from './error-events.ts';
import type { NewRunLog } from './run-logs.ts';

/** Notification channel announcing runs that reached a final status (payload: run ids). */
export const RUNS_CHANNEL = 'meshhook_runs';

/** A step's status and output as the planner sees them. */
export interface StepRow {
  status: string;
  output: unknown;
}

/**
 * Locks the runs for the rest of the transaction and returns their statuses. Completions of one
 * run are serialised here, so two parallel branches finishing together see each other's result
 * and the join after them is scheduled exactly once. Locks are taken in id order, so two
 * workers settling overlapping batches cannot deadlock.
 */
export async function lockRuns(db: Queryable, runIds: string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; status: string }>(
    `select id, status from runs where id = any($1::uuid[]) order by id for update`,
    [runIds],
  );
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** A job to take out of the queue (done) or to put back for a retry, if its lease holds. */
export interface LeasedJob {
  id: string;
  leaseId: string;
  /** Set to reschedule the job for a retry after this delay instead of removing it. */
  retryInMs?: number;
}

// Removes finished jobs and reschedules retried ones, each only where its lease still holds,
// and reads the steps of the runs: one round trip. It must follow lockRuns as its own
// statement: a statement that waited for a lock reads with the snapshot it started with and
// would miss the result it waited for.
const TAKE_JOBS = `
  with done as (
    delete from step_jobs j
    using unnest($1::bigint[], $2::uuid[]) as t(id, lease_id)
    where j.id = t.id and j.lease_id = t.lease_id
    returning j.id
  ), retried as (
    update step_jobs j
    set run_at = now() + make_interval(secs => t.delay_ms / 1000), lease_id = null, locked_by = null
    from unnest($3::bigint[], $4::uuid[], $5::float8[]) as t(id, lease_id, delay_ms)
    where j.id = t.id and j.lease_id = t.lease_id
    returning j.id
  )
  select 'job' as kind, id::text as a, null as b, null as c, null::jsonb as output from done
  union all
  select 'job', id::text, null, null, null from retried
  union all
  select 'step', run_id::text, node_id, status, output from run_steps where run_id = any($6::uuid[])`;

/**
 * Takes done jobs out of the queue and reschedules retried ones where their leases still hold;
 * returns the ids it could act on and the steps of the given runs.
 */
export async function takeJobsAndReadSteps(
  db: Queryable,
  input: { jobs: LeasedJob[]; runIds: string[] },
): Promise<{ held: Set<string>; steps: Map<string, Map<string, StepRow>> }> {
  const done = input.jobs.filter((j) => j.retryInMs === undefined);
  const retried = input.jobs.filter((j) => j.retryInMs !== undefined);
  const { rows } = await db.query<{
    kind: 'job' | 'step';
    a: string;
    b: string | null;
    c: string | null;
    output: unknown;
  }>(TAKE_JOBS, [
    done.map((j) => j.id),
    done.map((j) => j.leaseId),
    retried.map((j) => j.id),
    retried.map((j) => j.leaseId),
    retried.map((j) => j.retryInMs),
    input.runIds,
  ]);
  const held = new Set<string>();
  const steps = new Map<string, Map<string, StepRow>>();
  for (const row of rows) {
    if (row.kind === 'job') {
      held.add(row.a);
      continue;
    }
    let run = steps.get(row.a);
    if (!run) steps.set(row.a, (run = new Map()));
    run.set(row.b!, { status: row.c!, output: row.output });
  }
  return { held, steps };
}

/** An event to append to a run's history. */
export interface NewRunEvent {
  type: string;
  nodeId: string | null;
  payload: Record<string, unknown>;
}

/** A successor to enqueue. */
export interface ScheduledStep {
  nodeId: string;
  /** A delay node waits durably in the queue: its job becomes due delayMs from now. */
  delayMs: number;
  /** Set to hand the job straight to the settling worker, already claimed under this lease. */
  lease?: { leaseId: string; workerId: string; leaseMs: number };
}

/** Everything that changes when one step settles. */
export interface StepSettlement {
  projectId: string;
  runId: string;
  workflowId: string;
  nodeId: string;
  attempt: number;
  step: {
    status: 'succeeded' | 'failed' | 'queued' | 'canceled';
    input?: unknown;
    output?: unknown;
    error?: unknown;
  };
  events: NewRunEvent[];
  logs: NewRunLog[];
  /** Error events to record with the step (a failed attempt, a failed run). */
  errors?: CapturedError[];
  schedule: ScheduledStep[];
  skip: string[];
  /** Set when the run ends with this step. */
  finish?: { status: 'succeeded' | 'failed' | 'canceled'; error?: unknown };
}

/** What the write produced that the caller acts on or announces after commit. */
export interface SettlementsWritten {
  /** Ids of the new jobs, by `${runId}/${nodeId}`. */
  jobIds: Map<string, string>;
  /** The last log id written per run. */
  lastLogIds: Map<string, string>;
}

// Writes every settlement of a batch in one statement: step rows, new step rows and their jobs,
// events, log lines, and for runs that end, their remaining queued jobs canceled and the run
// row finished. Batches hold at most one settlement per run, so no row is written twice.
const WRITE_SETTLEMENTS = `
  with step as (
    update run_steps s
    set status = t.status, attempts = t.attempts, output = t.output, error = t.error,
        input = coalesce(t.input, s.input),
        finished_at = case when t.status <> 'queued' then now() end
    from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::jsonb[], $34::jsonb[])
      as t(run_id, node_id, status, attempts, output, error, input)
    where s.run_id = t.run_id and s.node_id = t.node_id
  ), new_steps as (
    insert into run_steps (run_id, node_id, project_id, status, attempts, started_at, finished_at)
    select n.run_id, n.node_id, n.project_id, n.status,
           case when n.status = 'running' then 1 else 0 end,
           case when n.status = 'running' then now() end,
           case when n.status = 'skipped' then now() end
    from unnest($7::uuid[], $8::text[], $9::uuid[], $10::text[]) as n(run_id, node_id, project_id, status)
  ), jobs as (
    insert into step_jobs (project_id, run_id, node_id, run_at, attempt, lease_id, locked_by)
    select j.project_id, j.run_id, j.node_id,
           now() + make_interval(secs => coalesce(j.lease_ms, j.delay_ms) / 1000),
           case when j.lease_id is null then 0 else 1 end, j.lease_id, j.locked_by
    from unnest($11::uuid[], $12::text[], $13::uuid[], $14::float8[], $15::uuid[], $16::text[], $17::float8[])
      as j(run_id, node_id, project_id, delay_ms, lease_id, locked_by, lease_ms)
    returning run_id, node_id, id
  ), dropped as (
    delete from step_jobs where run_id = any($18::uuid[]) and lease_id is null
    returning project_id, run_id, node_id
  ), canceled as (
    update run_steps s set status = 'canceled', finished_at = now()
    from dropped d where s.run_id = d.run_id and s.node_id = d.node_id
  ), finished as (
    -- Sets the final status where the run is not final yet, and counts those runs.
    select meshhook.finish_runs($18::uuid[], $19::text[], $20::jsonb[]) as id
  ), step_counts as (
    select meshhook.count_steps(array_agg(project_id), array_agg(workflow_id),
                                array_agg(status), array_agg(n))
    from (
      select project_id, workflow_id, status, count(*)::int as n from (
        select * from unnest($35::uuid[], $36::uuid[], $37::text[]) as t(project_id, workflow_id, status)
        union all
        select d.project_id, f.workflow_id, 'canceled'
        from dropped d join unnest($18::uuid[], $38::uuid[]) as f(id, workflow_id) on f.id = d.run_id
      ) outcomes
      group by 1, 2, 3
    ) counted
    having count(*) > 0
  ), events as (
    insert into run_events (project_id, run_id, type, node_id, payload)
    select project_id, run_id, type, node_id, payload from (
      select e.project_id, e.run_id, e.type, e.node_id, e.payload, e.n
      from unnest($21::uuid[], $22::uuid[], $23::text[], $24::text[], $25::jsonb[])
        with ordinality as e(project_id, run_id, type, node_id, payload, n)
      where e.type not like 'run\\_%'
      union all
      select project_id, run_id, 'step_canceled', node_id, '{}'::jsonb, 1e9 from dropped
      union all
      select e.project_id, e.run_id, e.type, e.node_id, e.payload, 2e9 + e.n
      from unnest($21::uuid[], $22::uuid[], $23::text[], $24::text[], $25::jsonb[])
        with ordinality as e(project_id, run_id, type, node_id, payload, n)
      where e.type like 'run\\_%'
    ) all_events
    order by n
  ), logs as (
    insert into run_logs (project_id, run_id, workflow_id, node_id, ts, level, message, fields)
    select l.project_id, l.run_id, l.workflow_id, l.node_id, l.ts, l.level, l.message, l.fields
    from unnest($26::uuid[], $27::uuid[], $28::uuid[], $29::text[], $30::timestamptz[], $31::text[],
                $32::text[], $33::jsonb[])
      as l(project_id, run_id, workflow_id, node_id, ts, level, message, fields)
    returning run_id, id
  ), errors as (
    select meshhook.record_errors($39::jsonb) as n
  )
  select 'job' as kind, run_id, node_id, id::text from jobs
  union all
  select 'log', run_id, null, max(id)::text from logs group by run_id
  union all
  -- Referenced so that they run: a query in WITH runs only when it is read.
  select 'finished', id, null, null from finished
  union all
  select 'counted', null, null, null from step_counts
  union all
  select 'errors', null, null, null from errors`;

/** Writes a batch of settlements (at most one per run) in one statement. */
export async function writeSettlements(
  db: Queryable,
  batch: StepSettlement[],
): Promise<SettlementsWritten> {
  const steps = columns(batch, (s) => [
    [
      s.runId,
      s.nodeId,
      s.step.status,
      s.attempt,
      json(s.step.output),
      json(s.step.error),
      json(s.step.input),
    ],
  ]);
  const stepColumns = padded(steps, 7);
  const newSteps = columns(batch, (s) => [
    ...s.schedule.map((n) => [
      s.runId,
      n.nodeId,
      s.projectId,
      n.lease ? 'running' : n.delayMs > 0 ? 'waiting' : 'queued',
    ]),
    ...s.skip.map((nodeId) => [s.runId, nodeId, s.projectId, 'skipped']),
  ]);
  const jobs = columns(batch, (s) =>
    s.schedule.map((n) => [
      s.runId,
      n.nodeId,
      s.projectId,
      n.delayMs,
      n.lease?.leaseId ?? null,
      n.lease?.workerId ?? null,
      n.lease?.leaseMs ?? null,
    ]),
  );
  const finished = columns(batch, (s) =>
    s.finish ? [[s.runId, s.finish.status, json(s.finish.error), s.workflowId]] : [],
  );
  // Step outcomes for the counters: a step put back in the queue was retried.
  const outcomes = columns(batch, (s) => [
    [s.projectId, s.workflowId, s.step.status === 'queued' ? 'retried' : s.step.status],
  ]);
  const finishedColumns = padded(finished, 4);
  const events = columns(batch, (s) => {
    const started = s.schedule
      .filter((n) => n.lease)
      .map((n): NewRunEvent => ({
        type: 'step_started',
        nodeId: n.nodeId,
        payload: { attempt: 1, recovered: false },
      }));
    const finish: NewRunEvent[] = s.finish
      ? [
          {
            type: `run_${s.finish.status}`,
            nodeId: null,
            payload: s.finish.error === undefined ? {} : { error: s.finish.error },
          },
        ]
      : [];
    return [...s.events, ...started, ...finish].map((e) => [
      s.projectId,
      s.runId,
      e.type,
      e.nodeId,
      JSON.stringify(e.payload),
    ]);
  });
  const logs = columns(batch, (s) =>
    s.logs.map((l) => [
      s.projectId,
      s.runId,
      s.workflowId,
      l.nodeId,
      l.ts,
      l.level,
      l.message,
      JSON.stringify(l.fields),
    ]),
  );

  const { rows } = await db.query<{
    kind: 'job' | 'log' | 'finished' | 'counted' | 'errors';
    run_id: string;
    node_id: string | null;
    id: string;
  }>(WRITE_SETTLEMENTS, [
    ...padded(steps, 6),
    ...padded(newSteps, 4),
    ...padded(jobs, 7),
    ...finishedColumns.slice(0, 3),
    ...padded(events, 5),
    ...padded(logs, 8),
    // Columns that came later than the others, hence their places at the end: the step's
    // input ($34), the step outcomes ($35–$37), the finished runs' workflows ($38) and the
    // error events ($39).
    stepColumns[6]!,
    ...padded(outcomes, 3),
    finishedColumns[3]!,
    errorRecordsJson(batch.flatMap((s) => s.errors ?? [])),
  ]);
  const written: SettlementsWritten = { jobIds: new Map(), lastLogIds: new Map() };
  for (const row of rows) {
    if (row.kind === 'job') written.jobIds.set(`${row.run_id}/${row.node_id}`, row.id);
    else if (row.kind === 'log') written.lastLogIds.set(row.run_id, row.id);
  }
  return written;
}

/** Turns rows produced per settlement into one array per column, for unnest. */
function columns(batch: StepSettlement[], rowsOf: (s: StepSettlement) => unknown[][]): unknown[][] {
  const out: unknown[][] = [];
  for (const settlement of batch) {
    for (const row of rowsOf(settlement)) {
      row.forEach((value, i) => (out[i] ??= []).push(value));
    }
  }
  return out;
}

/** The column arrays, with empty arrays for a batch that produced no rows. */
function padded(cols: unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => cols[i] ?? []);
}

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}
