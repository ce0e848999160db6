import type { Queryable } from '../client.ts';
import { JOBS_CHANNEL } from './intake.ts';
import { appendRunLogs, type NewRunLog } from './run-logs.ts';

/** Notification channel announcing that a run reached a final status (payload: the run id). */
export const RUNS_CHANNEL = 'meshhook_runs';

/** A step's status and output as the planner sees them. */
export interface StepRow {
  status: string;
  output: unknown;
}

/**
 * Locks the run for the rest of the transaction and reads its steps. Completions of one run are
 * serialised here, so two parallel branches finishing together both see each other's result and
 * the join after them is scheduled exactly once.
 */
export async function lockRunState(
  db: Queryable,
  runId: string,
): Promise<{ status: string; steps: Map<string, StepRow> }> {
  const run = await db.query<{ status: string }>(
    `select status from runs where id = $1::uuid for update`,
    [runId],
  );
  const steps = await db.query<{ node_id: string; status: string; output: unknown }>(
    `select node_id, status, output from run_steps where run_id = $1::uuid`,
    [runId],
  );
  return {
    status: run.rows[0]?.status ?? 'canceled',
    steps: new Map(steps.rows.map((s) => [s.node_id, { status: s.status, output: s.output }])),
  };
}

/** An event to append to the run's history. */
export interface NewRunEvent {
  type: string;
  nodeId: string | null;
  payload: Record<string, unknown>;
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
  /** Successors to enqueue; a delay makes the step wait durably in the queue. */
  schedule: Array<{ nodeId: string; delayMs: number }>;
  skip: string[];
  /** Set when the run ends with this step. */
  finish?: { status: 'succeeded' | 'failed' | 'canceled'; error?: unknown };
}

/** Writes a settled step: its row, events, log lines, successors and the run's end. */
export async function writeStepSettlement(db: Queryable, s: StepSettlement): Promise<void> {
  const final = s.step.status !== 'queued';
  await db.query(
    `update run_steps
     set status = $3, attempts = $4, output = $5::jsonb, error = $6::jsonb,
         finished_at = case when $7 then now() end
     where run_id = $1::uuid and node_id = $2`,
    [
      s.runId,
      s.nodeId,
      s.step.status,
      s.attempt,
      s.step.output === undefined ? null : JSON.stringify(s.step.output),
      s.step.error === undefined ? null : JSON.stringify(s.step.error),
      final,
    ],
  );

  if (s.schedule.length > 0 || s.skip.length > 0) {
    const nodes = [...s.schedule.map((n) => n.nodeId), ...s.skip];
    const statuses = [
      ...s.schedule.map((n) => (n.delayMs > 0 ? 'waiting' : 'queued')),
      ...s.skip.map(() => 'skipped'),
    ];
    await db.query(
      `insert into run_steps (run_id, node_id, project_id, status, finished_at)
       select $1::uuid, n.node_id, $2::uuid, n.status,
              case when n.status = 'skipped' then now() end
       from unnest($3::text[], $4::text[]) as n(node_id, status)`,
      [s.runId, s.projectId, nodes, statuses],
    );
  }
  if (s.schedule.length > 0) {
    await db.query(
      `insert into step_jobs (project_id, run_id, node_id, run_at)
       select $1::uuid, $2::uuid, n.node_id, now() + make_interval(secs => n.delay_ms / 1000)
       from unnest($3::text[], $4::float8[]) as n(node_id, delay_ms);
       `,
      [s.projectId, s.runId, s.schedule.map((n) => n.nodeId), s.schedule.map((n) => n.delayMs)],
    );
    await db.query(`select pg_notify('${JOBS_CHANNEL}', '')`);
  }

  const events = [...s.events];
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
      events.push({ type: 'step_canceled', nodeId: row.node_id, payload: {} });
    }
    await db.query(
      `with finished as (
         update runs set status = $2, error = $3::jsonb, finished_at = now()
         where id = $1::uuid returning id
       )
       select pg_notify('${RUNS_CHANNEL}', id::text) from finished`,
      [
        s.runId,
        s.finish.status,
        s.finish.error === undefined ? null : JSON.stringify(s.finish.error),
      ],
    );
    events.push({
      type: `run_${s.finish.status}`,
      nodeId: null,
      payload: s.finish.error === undefined ? {} : { error: s.finish.error },
    });
  }

  await db.query(
    `insert into run_events (project_id, run_id, type, node_id, payload)
     select $1::uuid, $2::uuid, e.type, e.node_id, e.payload
     from unnest($3::text[], $4::text[], $5::jsonb[]) with ordinality as e(type, node_id, payload, n)
     order by e.n`,
    [
      s.projectId,
      s.runId,
      events.map((e) => e.type),
      events.map((e) => e.nodeId),
      events.map((e) => JSON.stringify(e.payload)),
    ],
  );
  await appendRunLogs(db, {
    projectId: s.projectId,
    runId: s.runId,
    workflowId: s.workflowId,
    lines: s.logs,
  });
}
