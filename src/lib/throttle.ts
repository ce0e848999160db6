// Rate limits for work triggered by bursts of events (a refetch per finished run, say).

/** A throttled function; `cancel()` drops a call waiting for the end of its window. */
export interface Throttled {
  (): void;
  cancel(): void;
}

/**
 * Calls `fn` at most once per `ms`: at once when the last call is older than that, else once
 * at the end of the window, so the last of a burst of calls is always followed by a call.
 * @example const refetch = throttle(() => void load(), 500);
 */
export function throttle(fn: () => void, ms: number): Throttled {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const throttled = () => {
    if (timer !== undefined) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) call();
    else timer = setTimeout(call, wait);
  };
  throttled.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return throttled;
}
