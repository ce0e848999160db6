import type { ErrorCapture } from './error-capture.ts';
import type { ProcessLog } from './process-log.ts';

/** The process events the handlers attach to (the process itself, or a stand-in in tests). */
export interface ProcessEvents {
  on(event: 'uncaughtException', listener: (error: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  off(event: 'uncaughtException', listener: (error: Error) => void): unknown;
  off(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
}

/** How long a dying process waits for its last error to be stored and sent to the sinks (Sentry). */
const FLUSH_BEFORE_EXIT_MS = 2_000;

/**
 * Captures what escapes every handler, before the process decides what to do with it:
 * - an unhandled rejection is captured and logged, and the process keeps serving, since every
 *   piece of work it holds is leased and would only be retaken late if it died;
 * - an uncaught exception is captured and logged, stored and sent on to the capture's sinks
 *   (waiting at most 2 s for both), and then the process exits with code 1, as Node would: its
 *   state can no longer be trusted.
 * These handlers decide for every role; Sentry's own process handlers are not installed (see
 * engine/sentry.ts), so the SDK neither exits the process nor reports an error twice.
 * Returns the function that removes the handlers.
 */
export function captureProcessErrors(options: {
  errors: ErrorCapture;
  log: ProcessLog;
  target?: ProcessEvents;
  exit?: (code: number) => void;
}): () => void {
  const { errors, log } = options;
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const describe = (error: unknown) =>
    error instanceof Error ? (error.stack ?? error.message) : String(error);

  const onRejection = (reason: unknown) => {
    log.error('unhandled promise rejection', { error: describe(reason) });
    errors.capture(reason, { source: 'system', errorType: 'unhandled_rejection' });
  };
  let dying = false;
  const onException = (error: Error) => {
    log.error('uncaught exception: exiting', { error: describe(error) });
    if (dying) return; // a second one while the first is stored: the exit is on its way
    dying = true;
    errors.capture(error, { source: 'system', errorType: 'uncaught_exception' });
    void errors.flush(FLUSH_BEFORE_EXIT_MS).finally(() => exit(1));
  };
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
}
