/**
 * Time ranges over the run-metric rollups. Buckets are UTC-aligned minutes, hours and days; a
 * bucket belongs to a range when it starts inside it, so a read of one grain counts whole
 * buckets, from the first starting at or after `from` to the last starting before `to`.
 * Minute rows are kept for a while, hour rows longer and day rows for good; a range is read
 * in the finest grain that is kept for all of it and holds it in few enough buckets.
 */

export const GRAINS = ['minute', 'hour', 'day'] as const;
export type Grain = (typeof GRAINS)[number];

export const GRAIN_MS: Record<Grain, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** The first instant of the bucket holding `t` (epoch ms; UTC days have no leap seconds). */
export function floorTo(grain: Grain, t: number): number {
  return Math.floor(t / GRAIN_MS[grain]) * GRAIN_MS[grain];
}

/** The first bucket start at or after `t`. */
export function ceilTo(grain: Grain, t: number): number {
  return Math.ceil(t / GRAIN_MS[grain]) * GRAIN_MS[grain];
}

/**
 * From when each grain's rows still exist. Both instants are aligned (minutes on an hour, hours
 * on a day) and move forward as time passes; the sweep only deletes rows older than them.
 */
export interface Retention {
  minuteSince: number;
  hourSince: number;
}

/** The retention boundaries at `now` for rows kept `minuteDays` and `hourDays`. */
export function retentionAt(
  now: number,
  options: { minuteDays: number; hourDays: number },
): Retention {
  return {
    minuteSince: ceilTo('hour', now - options.minuteDays * GRAIN_MS.day),
    hourSince: ceilTo('day', now - options.hourDays * GRAIN_MS.day),
  };
}

/**
 * The most buckets a read chooses by itself: 1 h by the minute, 24 h and 7 d by the hour, 30 d
 * and longer by the day, so a 30-day summary of 200 workflows sums some 6,000 rows.
 */
export const DEFAULT_BUCKETS = 200;

/** The most buckets one answer holds. */
export const MAX_BUCKETS = 1_500;

/** Why a grain cannot answer a range. */
export type GrainProblem =
  | { kind: 'unavailable'; grain: Grain; since: number }
  | { kind: 'too_many'; grain: Grain; buckets: number };

/** The number of `grain` buckets starting in [from, to). */
export function bucketCount(grain: Grain, from: number, to: number): number {
  return Math.max(0, (ceilTo(grain, to) - ceilTo(grain, from)) / GRAIN_MS[grain]);
}

/** Whether `grain` can answer [from, to): its rows exist from `from` on, in few enough buckets. */
export function checkGrain(
  grain: Grain,
  from: number,
  to: number,
  retention: Retention,
  maxBuckets = MAX_BUCKETS,
): GrainProblem | undefined {
  const since =
    grain === 'minute' ? retention.minuteSince : grain === 'hour' ? retention.hourSince : -Infinity;
  if (ceilTo(grain, from) < since) return { kind: 'unavailable', grain, since };
  const buckets = bucketCount(grain, from, to);
  if (buckets > maxBuckets) return { kind: 'too_many', grain, buckets };
  return undefined;
}

/**
 * The grain to chart [from, to) with when none was asked for: the finest whose rows cover the
 * range in at most `target` buckets, else the coarsest that answers at all.
 */
export function chooseGrain(
  from: number,
  to: number,
  retention: Retention,
  target = DEFAULT_BUCKETS,
): Grain | undefined {
  for (const grain of GRAINS) {
    if (!checkGrain(grain, from, to, retention, target)) return grain;
  }
  return checkGrain('day', from, to, retention) ? undefined : 'day';
}

/** The starts of the `grain` buckets starting in [from, to). */
export function bucketStarts(grain: Grain, from: number, to: number): number[] {
  const starts: number[] = [];
  for (let t = ceilTo(grain, from); t < to; t += GRAIN_MS[grain]) starts.push(t);
  return starts;
}

/** Parses a duration such as `90s`, `15m`, `24h` or `7d` to ms. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  if (!match) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    match[2] as 's' | 'm' | 'h' | 'd'
  ];
  return Number(match[1]) * unit;
}
