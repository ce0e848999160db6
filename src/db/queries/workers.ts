import type { Queryable } from '../client.ts';

/** Announces a live worker, or that it is still alive (every few seconds). */
export async function announceWorker(
  db: Queryable,
  worker: { id: string; hostname: string; pid: number; concurrency: number },
): Promise<void> {
  await db.query(
    `insert into workers (id, hostname, pid, concurrency) values ($1, $2, $3, $4)
     on conflict (id) do update set last_seen_at = now(), concurrency = excluded.concurrency`,
    [worker.id, worker.hostname, worker.pid, worker.concurrency],
  );
}

/** Removes a worker that stops, so the watchdog does not wait for it to go quiet. */
export async function retireWorker(db: Queryable, id: string): Promise<void> {
  await db.query(`delete from workers where id = $1`, [id]);
}

/** Workers seen within `withinMs`, newest first. */
export async function liveWorkers(
  db: Queryable,
  withinMs: number,
): Promise<Array<{ id: string; hostname: string; pid: number; lastSeenAt: Date }>> {
  const { rows } = await db.query<{
    id: string;
    hostname: string;
    pid: number;
    last_seen_at: Date;
  }>(
    `select id, hostname, pid, last_seen_at from workers
     where last_seen_at > now() - make_interval(secs => $1::float8 / 1000)
     order by last_seen_at desc`,
    [withinMs],
  );
  return rows.map((r) => ({
    id: r.id,
    hostname: r.hostname,
    pid: r.pid,
    lastSeenAt: r.last_seen_at,
  }));
}
