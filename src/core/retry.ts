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

/**
 * Reads a Retry-After header (seconds or an HTTP date) as milliseconds from now, or undefined
 * when it is absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}
