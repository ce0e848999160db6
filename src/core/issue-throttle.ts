// How many events of one issue go to Sentry. A failure that repeats in every run sends the same
// event again and again: one issue in Sentry, the same stack, the quota gone, and the CPU of
// the worker spent on building and posting them (measured: 1.2 to 2 ms each, which at 10% of
// runs failing cost the engine 4 to 6% of its throughput). So each issue (fingerprint) may send
// a burst of events and then a steady few a minute; the events held back are counted, and the
// next event of the issue says how many it stands for. MeshHook itself still stores every one.

/** What the throttle decided for one event. */
export type IssueAdmission = { send: true; suppressedBefore: number } | { send: false };

/** Fingerprints remembered at most; the least recently seen are forgotten first. */
const MAX_ISSUES = 10_000;

/**
 * A token bucket per fingerprint: `perMinute` events at once, then `perMinute` a minute.
 * `perMinute` 0 admits everything.
 *
 * @example
 * const throttle = createIssueThrottle({ perMinute: 10 });
 * const admitted = throttle.admit(error.fingerprint);
 * if (admitted.send) send(error, admitted.suppressedBefore);
 */
export function createIssueThrottle(options: { perMinute: number; now?: () => number }): {
  admit(fingerprint: string): IssueAdmission;
} {
  const { perMinute } = options;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number; suppressed: number }>();
  return {
    admit(fingerprint) {
      if (perMinute <= 0) return { send: true, suppressedBefore: 0 };
      const t = now();
      let bucket = buckets.get(fingerprint);
      if (bucket) {
        buckets.delete(fingerprint); // re-inserted below: the map stays in order of last use
        bucket.tokens = Math.min(perMinute, bucket.tokens + ((t - bucket.at) * perMinute) / 60_000);
        bucket.at = t;
      } else {
        bucket = { tokens: perMinute, at: t, suppressed: 0 };
        if (buckets.size >= MAX_ISSUES) buckets.delete(buckets.keys().next().value!);
      }
      buckets.set(fingerprint, bucket);
      if (bucket.tokens < 1) {
        bucket.suppressed++;
        return { send: false };
      }
      bucket.tokens--;
      const suppressedBefore = bucket.suppressed;
      bucket.suppressed = 0;
      return { send: true, suppressedBefore };
    },
  };
}
