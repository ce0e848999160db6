import { retentionAt } from '../../core/metric-range.ts';
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
  /** Run-metric rows folded from shards into one, and minute or hour rows past retention. */
  metricRowsFolded: number;
  metricRowsDeleted: number;
}

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
    const metrics = await compactRunMetrics(
      db,
      retentionAt(Date.now(), options.metricsRetention ?? { minuteDays: 2, hourDays: 90 }),
    );
    return {
      sessions: row.sessions,
      throttles: row.throttles,
      idempotencyKeys: row.keys,
      logPartitionsCreated: logs.created,
      logPartitionsDropped: logs.dropped,
      metricRowsFolded: metrics.folded,
      metricRowsDeleted: metrics.deleted,
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
     select meshhook.ensure_run_log_partitions(d - 1, d + $2::int) as created,
            meshhook.drop_run_log_partitions(d - $3::int) as dropped
     from today`,
    [options.today ?? null, LOG_PARTITIONS_AHEAD, options.retentionDays],
  );
  return rows[0]!;
}
