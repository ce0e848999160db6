/**
 * Delay before retry number `attempt` (1 = the first retry): exponential from base with full
 * jitter in its upper half, so retries of many runs spread out instead of arriving together.
 * random is injectable for tests.
 */
export function backoffDelay(options: {
  attempt: number;
  baseMs: number;
  maxMs?: number;
  random?: () => number;
}): number {
  const { attempt, baseMs, maxMs = 300_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// RFC 9110's HTTP-date forms (IMF-fixdate and the obsolete RFC 850 form). Date.parse alone is
// lenient enough to read "1.5" as a date in 2001, which would turn a junk header into a wait of
// months.
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const HTTP_DATE = new RegExp(
  `^((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} ${MONTH} \\d{4}|` +
    `(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MONTH}-\\d{2}) \\d{2}:\\d{2}:\\d{2} GMT$`,
);

/** The longest wait a Retry-After header can impose; a server asking for more gets this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Reads a Retry-After header (delay-seconds or an HTTP-date) as milliseconds from now, capped
 * at MAX_RETRY_AFTER_MS, or undefined when it is absent or not in either form.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}
