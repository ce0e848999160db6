import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/core/error-events.ts';
import { retentionAt } from '../../src/core/metric-range.ts';
import { recordErrors } from '../../src/db/queries/error-events.ts';
import { maintainErrorEvents } from '../../src/db/queries/housekeeping.ts';
import { useMeshHook } from '../helpers/meshhook.ts';

// Web only: nothing sweeps but the test.
const mh = useMeshHook({ roles: { web: true, worker: false } });

const today = new Date('2026-03-10T06:00:00Z');
const at = (iso: string) => () => new Date(iso);

async function partitions(): Promise<string[]> {
  const { rows } = await mh.db.pool.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'meshhook.error_events'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

describe('error retention', () => {
  it('folds the shards of closed buckets into one row, keeping the counts', async () => {
    const { id: projectId } = await mh.project('folding');
    await mh.db.pool.query(
      `insert into meshhook.error_counts
         (project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count)
       select $1::uuid, 'hour', date_trunc('hour', now() - interval '3 hours'), 'worker', 'http_5xx',
              'high', null::uuid, s, s
       from unnest(array[0, 3, 5]) s
       union all
       select $1::uuid, 'minute', date_trunc('minute', now()) + interval '1 minute', 'worker',
              'http_5xx', 'high', null::uuid, s, 1
       from unnest(array[2, 7]) s`,
      [projectId],
    );
    const swept = await maintainErrorEvents(mh.db.pool, {
      retentionDays: 30,
      countsKept: retentionAt(Date.now(), { minuteDays: 2, hourDays: 90 }),
    });
    expect(swept.countsFolded).toBeGreaterThanOrEqual(2);
    const { rows } = await mh.db.pool.query(
      `select grain, shard, count from meshhook.error_counts where project_id = $1
       order by grain, shard`,
      [projectId],
    );
    // The closed hour is one row of 0 + 3 + 5; the minute still open keeps its shards.
    expect(rows).toEqual([
      { grain: 'hour', shard: 0, count: 8 },
      { grain: 'minute', shard: 2, count: 1 },
      { grain: 'minute', shard: 7, count: 1 },
    ]);
  });

  it('vacuums error_counts itself after a large fold', async () => {
    const { id: projectId } = await mh.project('large fold');
    await mh.db.pool.query(
      `insert into meshhook.error_counts
         (project_id, grain, bucket_start, source, error_type, severity, workflow_id, shard, count)
       select $1::uuid, 'hour', date_trunc('hour', now()) - make_interval(hours => h), 'worker',
              'http_5xx', 'high', null::uuid, s, 1
       from generate_series(2, 1001) h, generate_series(1, 11) s`,
      [projectId],
    );
    const swept = await maintainErrorEvents(mh.db.pool, {
      retentionDays: 30,
      countsKept: retentionAt(Date.now(), { minuteDays: 2, hourDays: 90 }),
    });
    expect(swept.countsFolded).toBeGreaterThanOrEqual(11_000);
    const { rows } = await mh.db.pool.query(
      `select last_vacuum is not null as vacuumed from pg_stat_user_tables
       where schemaname = 'meshhook' and relname = 'error_counts'`,
    );
    expect(rows).toEqual([{ vacuumed: true }]);
  });

  it('keeps daily partitions ahead, drops old ones and old minute and hour counts', async () => {
    const { id: projectId } = await mh.project('retention');
    const event = (iso: string, message: string) =>
      describeError(message, { source: 'system', projectId }, { now: at(iso) });
    await recordErrors(mh.db.pool, [
      event('2026-03-12T08:00:00Z', 'from the day after tomorrow'),
      event('2026-01-20T08:00:00Z', 'from long ago'),
    ]);
    const kept = retentionAt(today.getTime(), { minuteDays: 2, hourDays: 90 });

    const first = await maintainErrorEvents(mh.db.pool, {
      retentionDays: 30,
      countsKept: kept,
      today,
    });
    expect(first.created).toBe(9); // yesterday to a week ahead
    expect(await partitions()).toEqual(
      expect.arrayContaining(['error_events_20260309', 'error_events_20260317']),
    );
    const moved = await mh.db.pool.query(
      `select tableoid::regclass::text as part, message from meshhook.error_events
       where project_id = $1 order by ts`,
      [projectId],
    );
    // The old event is past the retention: deleted from the default partition.
    expect(moved.rows).toEqual([
      { part: 'error_events_20260312', message: 'from the day after tomorrow' },
    ]);
    // Its counts go by the metric retention: the minute row is gone, the day row stays.
    const counts = await mh.db.pool.query(
      `select grain, bucket_start, sum(count)::int as n from meshhook.error_counts
       where project_id = $1 and bucket_start < '2026-02-01' group by 1, 2 order by 1`,
      [projectId],
    );
    expect(counts.rows.map((r) => [r.grain, r.n])).toEqual([
      ['all', 2],
      ['day', 1],
      ['hour', 1],
    ]);
    expect(first.countsDeleted).toBe(1);
    // The issue stays with its count.
    const issues = await mh.db.pool.query(
      `select count::int from meshhook.error_issues where project_id = $1 order by count`,
      [projectId],
    );
    expect(issues.rows).toEqual([{ count: 1 }, { count: 1 }]);

    const later = await maintainErrorEvents(mh.db.pool, {
      retentionDays: 30,
      countsKept: retentionAt(Date.parse('2026-04-20T01:00:00Z'), { minuteDays: 2, hourDays: 90 }),
      today: new Date('2026-04-20T01:00:00Z'),
    });
    expect(later.dropped).toBeGreaterThanOrEqual(9);
    expect((await partitions()).filter((n) => n <= 'error_events_20260320')).toEqual([]);
    const left = await mh.db.pool.query(
      `select count(*)::int as n from meshhook.error_events where project_id = $1`,
      [projectId],
    );
    expect(left.rows[0].n).toBe(0);
  });
});
