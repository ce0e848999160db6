import { z } from 'zod';
import {
  ceilTo,
  checkGrain,
  chooseGrain,
  GRAIN_MS,
  parseDuration,
  retentionAt,
  type Grain,
  type Retention,
} from '../core/metric-range.ts';
import { AppError } from './app-error.ts';
import type { HttpDeps } from './context.ts';

/**
 * Time ranges of the metric reads (runs and errors alike): the query parameters that name one,
 * the checks that refuse what no rollup can answer, and the grain a read uses.
 */

const DAY_MS = GRAIN_MS.day;
/** The longest range one request may ask about. */
export const MAX_RANGE_MS = 3_660 * DAY_MS;
/** Ranges end at most this far ahead of now (clocks differ a little). */
export const FUTURE_SLACK_MS = DAY_MS;
/** The earliest instant a range may start at. */
export const EARLIEST = Date.UTC(2000, 0, 1);

/** An ISO 8601 date-time with an offset, as epoch ms. */
export const instant = z.iso
  .datetime({ offset: true, message: 'an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' })
  .transform((s) => Date.parse(s));

/** The query parameters naming a range: `from`/`to`, or `range` back from `to` (or now). */
export const rangeQuery = {
  from: instant.optional(),
  to: instant.optional(),
  range: z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'a duration such as 1h, 24h, 7d or 90d')
    .optional(),
};

/** A range as asked: [from, to) in epoch ms. */
export interface AskedRange {
  from: number;
  to: number;
}

/** The asked range: `from`/`to`, or `range` back from `to` (or now); the last 24 h by default. */
export function askedRange(
  query: { from?: number; to?: number; range?: string },
  now: number,
): AskedRange {
  if (query.range !== undefined && query.from !== undefined) {
    throw new AppError('invalid_range', 'give either range or from, not both', {
      range: query.range,
    });
  }
  const to = query.to ?? now;
  const length = query.range !== undefined ? parseDuration(query.range)! : DAY_MS;
  const from = query.from ?? to - length;
  const details = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  if (from >= to) throw new AppError('invalid_range', 'from must be before to', details);
  if (to - from > MAX_RANGE_MS) {
    throw new AppError('invalid_range', 'a range spans at most 3660 days', details);
  }
  if (from < EARLIEST)
    throw new AppError('invalid_range', 'ranges start in 2000 or later', details);
  if (to > now + FUTURE_SLACK_MS) {
    throw new AppError('invalid_range', 'a range ends at most a day from now', details);
  }
  return { from, to };
}

/** The grain a bucket read uses: the one asked for, if it can answer, else the chosen one. */
export function bucketGrain(
  asked: Grain | undefined,
  range: AskedRange,
  retention: Retention,
  target?: number,
): Grain {
  if (asked) {
    const problem = checkGrain(asked, range.from, range.to, retention);
    if (problem?.kind === 'unavailable') {
      throw new AppError(
        'invalid_range',
        `${asked} buckets are kept from ${new Date(problem.since).toISOString()} on`,
        { bucket: asked, kept_since: new Date(problem.since).toISOString() },
      );
    }
    if (problem?.kind === 'too_many') {
      throw new AppError(
        'invalid_range',
        `the range holds ${problem.buckets} ${asked} buckets; choose a coarser bucket or a shorter range`,
        { bucket: asked, buckets: problem.buckets },
      );
    }
    return asked;
  }
  const grain = chooseGrain(range.from, range.to, retention, target);
  if (!grain) throw new AppError('invalid_range', 'the range holds too many buckets');
  return grain;
}

/** An instant (epoch ms or Date) as an ISO 8601 UTC string; null stays null. */
export const iso = (t: number | Date | null): string | null =>
  t === null ? null : new Date(t).toISOString();

/** What a read of `grain` buckets counts: the buckets starting in the range, end to end. */
export function countedRange(grain: Grain, range: AskedRange): { from: string; to: string } {
  return { from: iso(ceilTo(grain, range.from))!, to: iso(ceilTo(grain, range.to))! };
}

/** The clock of the HTTP layer, in epoch ms (injectable through deps.now). */
export const nowOf = (deps: Pick<HttpDeps, 'now'>): number =>
  deps.now ? deps.now().getTime() : Date.now();

/** Which minute and hour buckets still exist at `now`, by the process's retention settings. */
export function retentionOf(deps: Pick<HttpDeps, 'metricsRetention'>, now: number): Retention {
  return retentionAt(now, {
    minuteDays: deps.metricsRetention?.minuteDays ?? 2,
    hourDays: deps.metricsRetention?.hourDays ?? 90,
  });
}
