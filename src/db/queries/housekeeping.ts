import { retentionAt, type Retention } from '../../core/metric-range.ts';
import type { Queryable } from '../client.ts';
import { compactRunMetrics } from './run-metrics.ts';

// One process at a time does the sweeping; the others skip their turn.
const HOUSEKEEPING_LOCK = 7_400_511_271;

/** What a sweep removed. */
export interface Swept {
  sessions: number;
  throttles: number;
  idempotencyKeys: number;
  /** Daily run-log partitions created ahead and dropped past the retention. */
  logPartitionsCreated: number;
  logPartitionsDropped: number;
  /** Daily error-event partitions created ahead and dropped past the retention. */
  errorPartitionsCreated: number;
  errorPartitionsDropped: number;
  /** Error-count rows folded from shards into one, and minute or hour rows past retention. */
  errorCountsFolded: number;
  errorCountsDeleted: number;
  /** Daily alert-log partitions created ahead and dropped past the retention. */
  alertLogPartitionsCreated: number;
  alertLogPartitionsDropped: number;
  /** Run-metric rows folded from shards into one, and minute or hour rows past retention. */
  metricRowsFolded: number;
  metricRowsDeleted: number;
}

/** Rows folded at once past which the sweep vacuums error_counts itself. */
const LARGE_FOLD = 10_000;

/** Days of run-log partitions kept ready ahead of today (UTC). */
const LOG_PARTITIONS_AHEAD = 7;

/**
 * Deletes what has expired: sessions, sign-in throttle windows, idempotency keys older than
 * their 24 hours, and run-log partitions older than the retention (whole partitions, so no
 * row-by-row delete and no bloat); creates the partitions of the days ahead. Returns undefined
 * when another process holds the sweep. `db` must be one connection (not a pool): the advisory
 * lock belongs to the session that takes it.
 */
export async function sweepExpired(
  db: Queryable,
  options: {
    logRetentionDays: number;
    errorRetentionDays?: number;
    alertLogRetentionDays?: number;
    metricsRetention?: { minuteDays: number; hourDays: number };
  },
): Promise<Swept | undefined> {
  const { rows } = await db.query<{ locked: boolean }>(
    `select pg_try_advisory_lock($1) as locked`,
    [HOUSEKEEPING_LOCK],
  );
  if (!rows[0]?.locked) return undefined;
  try {
    const result = await db.query<{ sessions: number; throttles: number; keys: number }>(
      `with s as (delete from sessions where expires_at < now() returning 1),
            t as (delete from login_throttle where window_start < now() - interval '1 day' returning 1),
            k as (delete from webhook_idempotency where created_at < now() - interval '24 hours' returning 1)
       select (select count(*) from s)::int as sessions, (select count(*) from t)::int as throttles,
              (select count(*) from k)::int as keys`,
    );
    const row = result.rows[0]!;
    const logs = await maintainLogPartitions(db, { retentionDays: options.logRetentionDays });
    const kept = retentionAt(
      Date.now(),
      options.metricsRetention ?? { minuteDays: 2, hourDays: 90 },
    );
    const metrics = await compactRunMetrics(db, kept);
    const errors = await maintainErrorEvents(db, {
      retentionDays: options.errorRetentionDays ?? 30,
      countsKept: kept,
    });
    const alerts = await maintainAlertLogs(db, {
      retentionDays: options.alertLogRetentionDays ?? 30,
    });
    return {
      sessions: row.sessions,
      throttles: row.throttles,
      idempotencyKeys: row.keys,
      logPartitionsCreated: logs.created,
      logPartitionsDropped: logs.dropped,
      metricRowsFolded: metrics.folded,
      metricRowsDeleted: metrics.deleted,
      errorPartitionsCreated: errors.created,
      errorPartitionsDropped: errors.dropped,
      errorCountsFolded: errors.countsFolded,
      errorCountsDeleted: errors.countsDeleted,
      alertLogPartitionsCreated: alerts.created,
      alertLogPartitionsDropped: alerts.dropped,
    };
  } finally {
    await db.query(`select pg_advisory_unlock($1)`, [HOUSEKEEPING_LOCK]);
  }
}

/**
 * Keeps run_logs' daily partitions from yesterday to a week ahead and drops those wholly
 * older than `retentionDays` (a line is kept at least that long, at most a day longer).
 */
export async function maintainLogPartitions(
  db: Queryable,
  options: { retentionDays: number; today?: Date },
): Promise<{ created: number; dropped: number }> {
  const { rows } = await db.query<{ created: number; dropped: number }>(
    `with today as (select (coalesce($1::timestamptz, now()) at time zone 'UTC')::date as d)
     select meshhook.ensure_daily_partitions('run_logs', d - 1, d + $2::int) as created,
            meshhook.drop_daily_partitions('run_logs', d - $3::int) as dropped
     from today`,
    [options.today ?? null, LOG_PARTITIONS_AHEAD, options.retentionDays],
  );
  return rows[0]!;
}

/**
 * Keeps error_events' daily partitions from yesterday to a week ahead, drops those wholly older
 * than `retentionDays`, folds the shards of closed buckets of error_counts into shard 0 and
 * deletes minute and hour error counts past the metric retention (day and all-time counts are
 * kept for good, like the run metrics'). Folding matters for reads: measured on 5 million
 * events over 90 days, a 30-day error-metrics answer summed 174,288 unfolded rows in 267 ms
 * (p95), and 17,386 folded ones in 22 ms once the fold's dead rows were vacuumed.
 */
export async function maintainErrorEvents(
  db: Queryable,
  options: { retentionDays: number; countsKept: Retention; today?: Date },
): Promise<{ created: number; dropped: number; countsDeleted: number; countsFolded: number }> {
  const folded = await db.query<{ n: number }>(
    `with moved as (
       delete from error_counts c
       where c.shard <> 0 and c.grain <> 'all'
         and c.bucket_start + ('1 ' || c.grain)::interval < now() - interval '5 minutes'
       returning c.*
     ), merged as (
       insert into error_counts as c
         (project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count)
       select project_id, grain, bucket_start, source, error_type, severity, workflow_id, 0,
              sum(count)
       from moved
       group by project_id, grain, bucket_start, source, error_type, severity, workflow_id
       order by 1, 2, 3, 4, 5, 6, 7
       on conflict ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), grain,
                    bucket_start, source, error_type, severity,
                    (coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid)), shard)
       do update set count = c.count + excluded.count
     )
     select count(*)::int as n from moved`,
  );
  // A large fold (the first after an upgrade, or after a flood) leaves as many dead rows as it
  // moved, which reads scan until a vacuum: measured on 5 million events, a 30-day answer took
  // 121 ms right after folding and 22 ms once vacuumed. Autovacuum gets there in time where it
  // is on; this does not wait for it. (The sweep runs outside a transaction, as vacuum needs.)
  if (folded.rows[0]!.n >= LARGE_FOLD) await db.query(`vacuum (analyze) error_counts`);
  const { rows } = await db.query<{ created: number; dropped: number; counts_deleted: number }>(
    `with today as (select (coalesce($1::timestamptz, now()) at time zone 'UTC')::date as d),
          deleted as (
            delete from error_counts
            where (grain = 'minute' and bucket_start < $4::timestamptz)
               or (grain = 'hour' and bucket_start < $5::timestamptz)
            returning 1)
     select meshhook.ensure_daily_partitions('error_events', d - 1, d + $2::int) as created,
            meshhook.drop_daily_partitions('error_events', d - $3::int) as dropped,
            (select count(*) from deleted)::int as counts_deleted
     from today`,
    [
      options.today ?? null,
      LOG_PARTITIONS_AHEAD,
      options.retentionDays,
      new Date(options.countsKept.minuteSince),
      new Date(options.countsKept.hourSince),
    ],
  );
  const row = rows[0]!;
  return {
    created: row.created,
    dropped: row.dropped,
    countsDeleted: row.counts_deleted,
    countsFolded: folded.rows[0]!.n,
  };
}

/**
 * Keeps alert_logs' daily partitions from yesterday to a week ahead and drops those wholly
 * older than `retentionDays`, with the attempts of the deliveries they held.
 */
export async function maintainAlertLogs(
  db: Queryable,
  options: { retentionDays: number; today?: Date },
): Promise<{ created: number; dropped: number }> {
  const { rows } = await db.query<{ created: number; dropped: number }>(
    `with today as (select (coalesce($1::timestamptz, now()) at time zone 'UTC')::date as d),
          attempts as (
            delete from alert_attempts
            where at < (select d - $3::int from today)::timestamp at time zone 'UTC')
     select meshhook.ensure_daily_partitions('alert_logs', d - 1, d + $2::int, 'created_at') as created,
            meshhook.drop_daily_partitions('alert_logs', d - $3::int, 'created_at') as dropped
     from today`,
    [options.today ?? null, LOG_PARTITIONS_AHEAD, options.retentionDays],
  );
  return rows[0]!;
}
