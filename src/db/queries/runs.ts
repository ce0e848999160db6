import type { Queryable } from '../client.ts';

/** A run with its steps, as the API shows it. */
export interface RunDetail {
  id: string;
  projectId: string;
  workflowId: string;
  version: number;
  status: string;
  trigger: unknown;
  error: unknown;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  steps: Array<{
    nodeId: string;
    status: string;
    attempts: number;
    startedAt: Date | null;
    finishedAt: Date | null;
    input: unknown;
    output: unknown;
    error: unknown;
  }>;
}

/** A run in a list; `position` is its place in the list, exact to the microsecond. */
export type RunSummary = Omit<RunDetail, 'steps' | 'trigger'> & { position?: RunCursor };

interface RunRow {
  id: string;
  project_id: string;
  workflow_id: string;
  version: number;
  status: string;
  trigger?: unknown;
  error: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  position?: string;
}

const toSummary = (r: RunRow): RunSummary => ({
  id: r.id,
  projectId: r.project_id,
  workflowId: r.workflow_id,
  version: r.version,
  status: r.status,
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  ...(r.position ? { position: { createdAt: r.position, id: r.id } } : {}),
});

/** A run and its steps in the order they started; undefined when not visible. */
export async function findRun(db: Queryable, id: string): Promise<RunDetail | undefined> {
  const { rows } = await db.query<RunRow>(
    `select id, project_id, workflow_id, version, status, trigger, error, created_at, started_at,
            finished_at
     from runs where id = $1::uuid`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const steps = await db.query<{
    node_id: string;
    status: string;
    attempts: number;
    started_at: Date | null;
    finished_at: Date | null;
    input: unknown;
    output: unknown;
    error: unknown;
  }>(
    `select node_id, status, attempts, started_at, finished_at, input, output, error
     from run_steps where run_id = $1::uuid
     order by coalesce(started_at, created_at), created_at, node_id`,
    [id],
  );
  return {
    ...toSummary(row),
    trigger: row.trigger,
    steps: steps.rows.map((s) => ({
      nodeId: s.node_id,
      status: s.status,
      attempts: s.attempts,
      startedAt: s.started_at,
      finishedAt: s.finished_at,
      input: s.input,
      output: s.output,
      error: s.error,
    })),
  };
}

/** Position in the newest-first run list. */
export interface RunCursor {
  createdAt: string;
  id: string;
}

/** Runs visible to the caller, newest first, after the cursor. */
export async function listRuns(
  db: Queryable,
  input: { workflowId?: string; status?: string; limit: number; after?: RunCursor },
): Promise<RunSummary[]> {
  const { rows } = await db.query<RunRow>(
    // A JavaScript Date keeps milliseconds; the cursor must keep microseconds or rows created in
    // the same millisecond as a page's last one would be skipped.
    `select id, project_id, workflow_id, version, status, error, created_at, started_at, finished_at,
            to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position
     from runs
     where ($1::uuid is null or workflow_id = $1::uuid)
       and ($2::text is null or status = $2)
       and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::uuid))
     order by created_at desc, id desc
     limit $5`,
    [
      input.workflowId ?? null,
      input.status ?? null,
      input.after?.createdAt ?? null,
      input.after?.id ?? null,
      input.limit,
    ],
  );
  return rows.map(toSummary);
}

/** A recorded run event. */
export interface RunEvent {
  id: string;
  type: string;
  nodeId: string | null;
  ts: Date;
  payload: unknown;
}

/** A run's event history, oldest first. */
export async function listRunEvents(db: Queryable, runId: string): Promise<RunEvent[]> {
  const { rows } = await db.query<{
    id: string;
    type: string;
    node_id: string | null;
    ts: Date;
    payload: unknown;
  }>(`select id, type, node_id, ts, payload from run_events where run_id = $1::uuid order by id`, [
    runId,
  ]);
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    nodeId: r.node_id,
    ts: r.ts,
    payload: r.payload,
  }));
}

/** A run's status, for streams that end with the run. */
export async function findRunStatus(
  db: Queryable,
  runId: string,
): Promise<{ status: string; workflowId: string } | undefined> {
  const { rows } = await db.query<{ status: string; workflow_id: string }>(
    `select status, workflow_id from runs where id = $1::uuid`,
    [runId],
  );
  return rows[0] && { status: rows[0].status, workflowId: rows[0].workflow_id };
}

/** Which of the given runs are final, with their project, workflow and status. */
export async function readFinishedRuns(
  db: Queryable,
  runIds: string[],
): Promise<
  Array<{
    id: string;
    projectId: string;
    workflowId: string;
    status: 'succeeded' | 'failed' | 'canceled';
  }>
> {
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    workflow_id: string;
    status: 'succeeded' | 'failed' | 'canceled';
  }>(
    `select id, project_id, workflow_id, status from runs
     where id = any($1::uuid[]) and status in ('succeeded', 'failed', 'canceled')`,
    [runIds],
  );
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    workflowId: r.workflow_id,
    status: r.status,
  }));
}
