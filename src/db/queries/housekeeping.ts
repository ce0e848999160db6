import type { Queryable } from '../client.ts';

// One process at a time does the sweeping; the others skip their turn.
const HOUSEKEEPING_LOCK = 7_400_511_271;

/** What a sweep removed. */
export interface Swept {
  sessions: number;
  throttles: number;
  idempotencyKeys: number;
}

/**
 * Deletes what has expired: sessions, sign-in throttle windows and idempotency keys older than
 * their 24 hours. Returns undefined when another process holds the sweep. `db` must be one
 * connection (not a pool): the advisory lock belongs to the session that takes it.
 */
export async function sweepExpired(db: Queryable): Promise<Swept | undefined> {
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
    return { sessions: row.sessions, throttles: row.throttles, idempotencyKeys: row.keys };
  } finally {
    await db.query(`select pg_advisory_unlock($1)`, [HOUSEKEEPING_LOCK]);
  }
}
