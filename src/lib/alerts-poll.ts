// Refetching on a timer, for the Alerts pages: the alerts API has no stream to follow.

/** A running poll: `stop()` ends it, `now()` refetches at once and restarts the wait. */
export interface Poll {
  stop(): void;
  now(): void;
}

/**
 * Calls `load` at once, then `ms` after each call has settled, so a slow answer never overlaps
 * the next request and a failed one does not stop the polling.
 * @example const poll = startPoll(() => load(), 3_000); onDestroy(() => poll.stop());
 */
export function startPoll(load: () => Promise<unknown>, ms: number): Poll {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running = false;
  let again = false;

  const run = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    if (running) {
      // now() during a call: one more call right after it, not two at once.
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } catch {
      // load reports its own errors; the next call may do better
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      void run();
      return;
    }
    timer = setTimeout(() => void run(), ms);
  };

  void run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    now() {
      void run();
    },
  };
}
