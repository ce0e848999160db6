import type pg from 'pg';
import type { Queryable } from '../client.ts';
import { JOBS_CHANNEL } from './intake.ts';

/** A job a worker holds under a lease, with what it needs to execute the step. */
export interface ClaimedJob {
  id: string;
  projectId: string;
  runId: string;
  workflowId: string;
  versionId: string;
  nodeId: string;
  /** 1 on the first execution, counting every claim since. */
  attempt: number;
  /** Whether this claim took over an expired lease. */
  recovered: boolean;
  recoveries: number;
  leaseId: string;
  runStatus: string;
  trigger: { body: unknown; headers: Record<string, string>; query: Record<string, string> };
  /** Outputs of the run's succeeded steps, for expressions. */
  steps: Record<string, { output: unknown }>;
}

// Claims up to $1 due jobs and records their start in one statement: the claim, the step's
// running status, the run's start and the step_started events commit together, so a step whose
// side effects begin is always on record. run_at moves to the lease's end, which is how an
// expired lease becomes claimable again without a second condition.
const CLAIM = `
  with claimed as (
    update step_jobs j
    set attempt = j.attempt + 1,
        recovered = j.lease_id is not null,
        recoveries = j.recoveries + (j.lease_id is not null)::int,
        lease_id = gen_random_uuid(),
        locked_by = $2,
        run_at = now() + make_interval(secs => $3::float8 / 1000)
    where j.id in (
      select id from step_jobs where run_at <= now()
      order by run_at, id limit $1 for update skip locked
    )
    returning j.*
  ), steps as (
    update run_steps s
    set status = 'running', attempts = c.attempt, started_at = coalesce(s.started_at, now())
    from claimed c
    where s.run_id = c.run_id and s.node_id = c.node_id
  ), started as (
    update runs r set status = 'running', started_at = now()
    where r.id in (select run_id from claimed) and r.status = 'queued'
    returning r.id, r.project_id
  ), events as (
    insert into run_events (project_id, run_id, type, node_id, payload)
    select project_id, id, 'run_started', null, '{}'::jsonb from started
    union all
    select project_id, run_id, 'step_started', node_id,
           jsonb_build_object('attempt', attempt, 'recovered', recovered)
    from claimed
  )
  select c.id, c.project_id, c.run_id, r.workflow_id, r.version_id, c.node_id, c.attempt,
         c.recovered, c.recoveries, c.lease_id, r.status as run_status, r.trigger,
         coalesce((
           select jsonb_object_agg(s.node_id, jsonb_build_object('output', s.output))
           from run_steps s where s.run_id = c.run_id and s.status = 'succeeded'
         ), '{}'::jsonb) as steps
  from claimed c join runs r on r.id = c.run_id
  order by c.run_at, c.id`;

/** Claims due jobs for a worker under a lease of leaseMs. */
export async function claimStepJobs(
  db: pg.Pool,
  input: { workerId: string; limit: number; leaseMs: number },
): Promise<ClaimedJob[]> {
  const { rows } = await db.query<{
    id: string;
    project_id: string;
    run_id: string;
    workflow_id: string;
    version_id: string;
    node_id: string;
    attempt: number;
    recovered: boolean;
    recoveries: number;
    lease_id: string;
    run_status: string;
    trigger: ClaimedJob['trigger'];
    steps: ClaimedJob['steps'];
  }>(CLAIM, [input.limit, input.workerId, input.leaseMs]);
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    runId: r.run_id,
    workflowId: r.workflow_id,
    versionId: r.version_id,
    nodeId: r.node_id,
    attempt: r.attempt,
    recovered: r.recovered,
    recoveries: r.recoveries,
    leaseId: r.lease_id,
    runStatus: r.run_status,
    trigger: r.trigger,
    steps: r.steps,
  }));
}

/** Extends the leases still held; returns the lease ids that were lost to another worker. */
export async function renewLeases(
  db: pg.Pool,
  input: { leaseIds: string[]; leaseMs: number },
): Promise<string[]> {
  if (input.leaseIds.length === 0) return [];
  const { rows } = await db.query<{ lease_id: string }>(
    `update step_jobs set run_at = now() + make_interval(secs => $2::float8 / 1000)
     where lease_id = any($1::uuid[])
     returning lease_id`,
    [input.leaseIds, input.leaseMs],
  );
  const held = new Set(rows.map((r) => r.lease_id));
  return input.leaseIds.filter((id) => !held.has(id));
}

/** Gives a job back so another worker can take it at once (graceful shutdown). */
export async function releaseJob(
  db: pg.Pool,
  input: { id: string; leaseId: string },
): Promise<void> {
  await db.query(
    `with released as (
       update step_jobs set run_at = now(), lease_id = null, locked_by = null,
              attempt = greatest(attempt - 1, 0)
       where id = $1 and lease_id = $2::uuid returning id
     )
     select pg_notify('${JOBS_CHANNEL}', '') from released`,
    [input.id, input.leaseId],
  );
}

/** When the next job falls due (a retry, a delay or a lease expiry), if any. */
export async function nextDueAt(db: pg.Pool): Promise<Date | undefined> {
  const { rows } = await db.query<{ run_at: Date | null }>(
    `select min(run_at) as run_at from step_jobs`,
  );
  return rows[0]?.run_at ?? undefined;
}

/** Puts the job back for a retry at runAt, if this lease still holds it. */
export async function rescheduleLeasedJob(
  db: Queryable,
  input: { id: string; leaseId: string; delayMs: number },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update step_jobs
     set run_at = now() + make_interval(secs => $3::float8 / 1000), lease_id = null, locked_by = null
     where id = $1 and lease_id = $2::uuid`,
    [input.id, input.leaseId, input.delayMs],
  );
  return rowCount === 1;
}
