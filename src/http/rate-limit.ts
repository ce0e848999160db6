/**
 * Token buckets per caller, in process memory: each caller may spend `burst` requests at once,
 * and earns them back at `perSecond`. Kept in memory because the limit guards this process's
 * work (parsing, one transaction per request); with several web processes a caller may spend
 * a burst at each, which the limit tolerates.
 */

/** What taking a token answers: allowed, or how long until a token is there again. */
export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

/** Callers tracked at most; past it, the buckets that are full again are forgotten. */
const MAX_TRACKED = 10_000;

/**
 * A token bucket for each key.
 * @example
 * const limit = new TokenBuckets({ burst: 30, perSecond: 2 });
 * if (!limit.take(`key:${keyId}`).ok) throw new AppError('rate_limited', '…');
 */
export class TokenBuckets {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { burst: number; perSecond: number; now?: () => number }) {
    this.#burst = options.burst;
    this.#perMs = options.perSecond / 1_000;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one token from the key's bucket, if there is one. */
  take(key: string): TakeResult {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (!this.#buckets.has(key)) {
      if (this.#buckets.size >= MAX_TRACKED) this.#forgetFull(now);
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / this.#perMs) };
  }

  // A full bucket is what a new one would be, so forgetting it changes nothing.
  #forgetFull(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }
}
