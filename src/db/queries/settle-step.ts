import type { Queryable } from '../client.ts';
import { appendRunLogs, type NewRunLog } from './run-logs.ts';

/** Notification channel announcing runs that reached a final status (payload: run ids). */
export const RUNS_CHANNEL = 'meshhook_runs';

/** A step's status and output as the planner sees them. */
export interface StepRow {
  status: string;
  output: unknown;
}

/**
 * Locks the run for the rest of the transaction and returns its status. Completions of one run
 * are serialised here, so two parallel branches finishing together see each other's result and
 * the join after them is scheduled exactly once.
 */
export async function lockRun(db: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ status: string }>(
    `select status from runs where id = $1::uuid for update`,
    [runId],
  );
  return rows[0]?.status;
}

/**
 * Takes the job out of the queue if this lease still holds it, and reads the run's steps. Must
 * follow lockRun as its own statement: a statement that waited for the lock reads with the
 * snapshot it started with and would miss the result it waited for.
 */
export async function takeJobAndReadSteps(
  db: Queryable,
  input: { runId: string; jobId: string; leaseId: string },
): Promise<{ held: boolean; steps: Map<string, StepRow> }> {
  const { rows } = await db.query<{ held: number; steps: Record<string, StepRow> }>(
    `with taken as (
       delete from step_jobs where id = $1 and lease_id = $2::uuid returning id
     )
     select (select count(*) from taken)::int as held,
            coalesce(jsonb_object_agg(node_id, jsonb_build_object('status', status, 'output', output)),
                     '{}'::jsonb) as steps
     from run_steps where run_id = $3::uuid`,
    [input.jobId, input.leaseId, input.runId],
  );
  const row = rows[0];
  return { held: row?.held === 1, steps: new Map(Object.entries(row?.steps ?? {})) };
}

/** An event to append to the run's history. */
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

/** Everything that changes when a step settles, written in the caller's transaction. */
export interface StepSettlement {
  projectId: string;
  runId: string;
  workflowId: string;
  nodeId: string;
  attempt: number;
  step: {
    status: 'succeeded' | 'failed' | 'queued' | 'canceled';
    output?: unknown;
    error?: unknown;
  };
  events: NewRunEvent[];
  logs: NewRunLog[];
  schedule: ScheduledStep[];
  skip: string[];
  /** Set when the run ends with this step. */
  finish?: { status: 'succeeded' | 'failed' | 'canceled'; error?: unknown };
}

/** What the settlement wrote that the caller announces or acts on after commit. */
export interface SettlementWritten {
  /** Job ids of the scheduled steps, by node id. */
  jobIds: Map<string, string>;
  lastLogId?: string;
}

// The step row, the new step rows, their jobs and the events go in one statement: with a
// transaction's begin, lock, read and commit that is five round trips per step whatever the
// number of successors.
const WRITE_STEP = `
  with step as (
    update run_steps
    set status = $3, attempts = $4, output = $5::jsonb, error = $6::jsonb,
        finished_at = case when $3 <> 'queued' then now() end
    where run_id = $1::uuid and node_id = $2
  ), new_steps as (
    insert into run_steps (run_id, node_id, project_id, status, attempts, started_at, finished_at)
    select $1::uuid, n.node_id, $7::uuid, n.status,
           case when n.status = 'running' then 1 else 0 end,
           case when n.status = 'running' then now() end,
           case when n.status = 'skipped' then now() end
    from unnest($8::text[], $9::text[]) as n(node_id, status)
  ), jobs as (
    insert into step_jobs (project_id, run_id, node_id, run_at, attempt, lease_id, locked_by)
    select $7::uuid, $1::uuid, j.node_id,
           now() + make_interval(secs => coalesce(j.lease_ms, j.delay_ms) / 1000),
           case when j.lease_id is null then 0 else 1 end, j.lease_id, j.locked_by
    from unnest($10::text[], $11::float8[], $12::uuid[], $13::text[], $14::float8[])
      as j(node_id, delay_ms, lease_id, locked_by, lease_ms)
    returning node_id, id
  ), events as (
    insert into run_events (project_id, run_id, type, node_id, payload)
    select $7::uuid, $1::uuid, e.type, e.node_id, e.payload
    from unnest($15::text[], $16::text[], $17::jsonb[]) with ordinality as e(type, node_id, payload, n)
    order by e.n
  )
  select node_id, id from jobs`;

/** Writes a settled step: its row, events, log lines, successors and the run's end. */
export async function writeStepSettlement(
  db: Queryable,
  s: StepSettlement,
): Promise<SettlementWritten> {
  const events = [...s.events];
  for (const next of s.schedule) {
    if (next.lease) {
      events.push({
        type: 'step_started',
        nodeId: next.nodeId,
        payload: { attempt: 1, recovered: false },
      });
    }
  }
  const finishEvents: NewRunEvent[] = [];
  if (s.finish) {
    // Jobs still waiting for a worker will never run; steps another worker holds settle on
    // their own and find the run final.
    const canceled = await db.query<{ node_id: string }>(
      `with dropped as (
         delete from step_jobs where run_id = $1::uuid and lease_id is null returning node_id
       )
       update run_steps set status = 'canceled', finished_at = now()
       where run_id = $1::uuid and node_id in (select node_id from dropped)
       returning node_id`,
      [s.runId],
    );
    for (const row of canceled.rows) {
      finishEvents.push({ type: 'step_canceled', nodeId: row.node_id, payload: {} });
    }
    await db.query(
      `update runs set status = $2, error = $3::jsonb, finished_at = now() where id = $1::uuid`,
      [s.runId, s.finish.status, json(s.finish.error)],
    );
    finishEvents.push({
      type: `run_${s.finish.status}`,
      nodeId: null,
      payload: s.finish.error === undefined ? {} : { error: s.finish.error },
    });
  }
  events.push(...finishEvents);

  const stepNodes = [...s.schedule.map((n) => n.nodeId), ...s.skip];
  const stepStatuses = [
    ...s.schedule.map((n) => (n.lease ? 'running' : n.delayMs > 0 ? 'waiting' : 'queued')),
    ...s.skip.map(() => 'skipped'),
  ];
  const { rows } = await db.query<{ node_id: string; id: string }>(WRITE_STEP, [
    s.runId,
    s.nodeId,
    s.step.status,
    s.attempt,
    json(s.step.output),
    json(s.step.error),
    s.projectId,
    stepNodes,
    stepStatuses,
    s.schedule.map((n) => n.nodeId),
    s.schedule.map((n) => n.delayMs),
    s.schedule.map((n) => n.lease?.leaseId ?? null),
    s.schedule.map((n) => n.lease?.workerId ?? null),
    s.schedule.map((n) => n.lease?.leaseMs ?? null),
    events.map((e) => e.type),
    events.map((e) => e.nodeId),
    events.map((e) => JSON.stringify(e.payload)),
  ]);
  const lastLogId = await appendRunLogs(db, {
    projectId: s.projectId,
    runId: s.runId,
    workflowId: s.workflowId,
    lines: s.logs,
  });
  return {
    jobIds: new Map(rows.map((r) => [r.node_id, r.id])),
    ...(lastLogId ? { lastLogId } : {}),
  };
}

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}
