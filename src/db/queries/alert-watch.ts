import type { Queryable } from '../client.ts';

/** The watchdog's limits, in milliseconds. */
export interface WatchLimits {
  /** Jobs waiting this long with no live worker raise worker_missing. */
  workerMissingAfterMs: number;
  /** A worker counts as live when it announced itself this recently. */
  workerSeenWithinMs: number;
  /** A ready job this old while workers are live raises queue_stalled. */
  queueAgeMs: number;
  /** A run still going this long after it started raises run_timed_out. */
  runTimeoutMs: number;
}

const ms = (n: number) => n / 1000;

// Each check raises a condition once (an alert_watch row) and puts it in the outbox, and
// forgets it when it ends, so it can be raised again the next time. Several processes may run
// the checks at once: the primary key of alert_watch lets one of them raise it.
/**
 * A check on the step jobs waiting longer than $1 seconds, per project, given the workers seen
 * within the last $2 seconds: raised while `raiseWhen` holds, cleared once no job waits that
 * long (or `alsoClearWhen` holds). The two waiting-job checks differ only in these parts, all
 * of them constants of this file, never input.
 */
function waitingJobsCheck(check: {
  kind: 'worker_missing' | 'queue_stalled';
  raiseWhen: string;
  alsoClearWhen?: string;
  /** A format() string given the number of jobs and the oldest one's run_at. */
  message: string;
}): string {
  const alsoClear = check.alsoClearWhen ? ` or ${check.alsoClearWhen}` : '';
  return `
  with waiting as (
    select project_id, min(run_at) as oldest, count(*)::int as jobs
    from step_jobs where run_at <= now() - make_interval(secs => $1)
    group by project_id
  ), seen as (
    select count(*)::int as live from workers where last_seen_at > now() - make_interval(secs => $2)
  ), cleared as (
    delete from alert_watch a
    where a.kind = '${check.kind}'
      and (not exists (select from waiting w where w.project_id = a.project_id)${alsoClear})
  ), raised as (
    insert into alert_watch (project_id, kind)
    select w.project_id, '${check.kind}' from waiting w, seen where ${check.raiseWhen}
    on conflict do nothing
    returning project_id
  )
  insert into alert_outbox (project_id, type, details)
  select r.project_id, '${check.kind}',
         jsonb_build_object('error', jsonb_build_object('type', '${check.kind}',
           'message', format('${check.message}', w.jobs, w.oldest)),
           'jobs', w.jobs, 'waiting_since', w.oldest)
  from raised r join waiting w using (project_id)
  where meshhook.alerting(r.project_id)
  returning project_id`;
}

// Jobs wait and no worker is live. A live worker ends it even while jobs still wait: from then
// on they are queue_stalled's.
const WORKER_MISSING = waitingJobsCheck({
  kind: 'worker_missing',
  raiseWhen: 'seen.live = 0',
  alsoClearWhen: '(select live from seen) > 0',
  message: 'no live worker while %s step jobs wait (the oldest since %s)',
});

// Jobs wait although workers are live.
const QUEUE_STALLED = waitingJobsCheck({
  kind: 'queue_stalled',
  raiseWhen: 'seen.live > 0',
  message: '%s step jobs have waited for a worker since %s',
});

const RUN_TIMED_OUT = `
  with late as (
    select id, project_id, workflow_id, started_at from runs
    where status = 'running' and started_at < now() - make_interval(secs => $1)
    limit 1000
  ), cleared as (
    delete from alert_watch a
    where a.kind = 'run_timed_out'
      and not exists (select from runs r where r.id::text = a.subject and r.status = 'running')
  ), raised as (
    insert into alert_watch (project_id, kind, subject)
    select project_id, 'run_timed_out', id::text from late
    on conflict do nothing
    returning subject
  )
  insert into alert_outbox (project_id, type, workflow_id, run_id, details)
  select l.project_id, 'run_timed_out', l.workflow_id, l.id,
         jsonb_build_object('error', jsonb_build_object('type', 'run_timed_out',
           'message', format('run still going %s after it started', date_trunc('second', now() - l.started_at))))
  from raised r join late l on l.id::text = r.subject
  where meshhook.alerting(l.project_id)
  returning project_id`;

/** Runs the watchdog's checks once; returns how many alerts each raised. */
export async function watch(
  db: Queryable,
  limits: WatchLimits,
): Promise<{ workerMissing: number; queueStalled: number; runTimedOut: number }> {
  const missing = await db.query(WORKER_MISSING, [
    ms(limits.workerMissingAfterMs),
    ms(limits.workerSeenWithinMs),
  ]);
  const stalled = await db.query(QUEUE_STALLED, [
    ms(limits.queueAgeMs),
    ms(limits.workerSeenWithinMs),
  ]);
  const late = await db.query(RUN_TIMED_OUT, [ms(limits.runTimeoutMs)]);
  return {
    workerMissing: missing.rowCount ?? 0,
    queueStalled: stalled.rowCount ?? 0,
    runTimedOut: late.rowCount ?? 0,
  };
}
