// The browser's own errors (uncaught exceptions, unhandled rejections, SvelteKit's client
// errors) sent to /api/error-events, so a page that breaks shows on the Errors page like a
// failed step does. Reporting must never make things worse: it cannot loop, repeat itself or
// flood the API, and it fails silently.

/** What a browser error is: thrown and uncaught, or a promise rejected with no handler. */
export type BrowserErrorType = 'browser_error' | 'unhandled_rejection';

/** The body of `POST /api/error-events` for a browser error. */
export interface ErrorReport {
  source: 'web';
  error_type: BrowserErrorType;
  severity: 'medium';
  message: string;
  stack?: string;
  workflow_id?: string;
  run_id?: string;
  metadata: { page: string; user_agent: string; workflow?: string };
}

/** An identical message is reported once within this long. */
export const DEDUPE_MS = 10_000;
/** At most this many reports a minute; the rest are dropped. */
export const MAX_PER_MINUTE = 10;
// A keepalive request's body counts against a 64 KiB quota shared by those in flight, and the
// API takes at most 64 KiB: a report stays well below both, even with its JSON escapes.
const MAX_MESSAGE = 2_000;
const MAX_STACK = 12_000;
const MAX_USER_AGENT = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Cuts text to `max` characters, saying so at the end. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The message and stack of anything thrown: an Error's own, a string as it is, an object's
 * `message`, else its JSON (or String) form.
 */
export function describeFailure(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) {
    const message = error.message || error.name || 'Error';
    return error.stack ? { message, stack: error.stack } : { message };
  }
  if (typeof error === 'string') return { message: error || 'Error' };
  if (error !== null && typeof error === 'object') {
    const { message, stack } = error as { message?: unknown; stack?: unknown };
    if (typeof message === 'string' && message)
      return typeof stack === 'string' ? { message, stack } : { message };
    try {
      const json = JSON.stringify(error);
      if (json && json !== '{}') return { message: json };
    } catch {
      // a cycle: fall through to its String form
    }
  }
  return { message: String(error) };
}

/**
 * Errors worth nothing to whoever reads them: a cross-origin script's "Script error." (the
 * browser hides everything else about it) and ResizeObserver's benign loop notice.
 */
export function isNoise(failure: { message: string; stack?: string }): boolean {
  if (failure.message === 'Script error.' && !failure.stack) return true;
  return failure.message.startsWith('ResizeObserver loop');
}

/**
 * What a page's path says about where the error happened: the run of `/runs/<id>`, the
 * workflow of `/workflows/<id>`; a workflow named by its slug goes into the metadata, since
 * the API's `workflow_id` takes ids only.
 */
export function pageContext(pathname: string): {
  run_id?: string;
  workflow_id?: string;
  workflow?: string;
} {
  const [section, id] = pathname.split('/').filter(Boolean);
  if (!id) return {};
  const decoded = safeDecode(id);
  if (section === 'runs' && UUID.test(decoded)) return { run_id: decoded.toLowerCase() };
  if (section === 'workflows' && decoded !== 'new')
    return UUID.test(decoded) ? { workflow_id: decoded.toLowerCase() } : { workflow: decoded };
  return {};
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The report of an error on a page. Only the path names the page: its query string may hold
 * a token (an invitation's, say).
 */
export function buildReport(options: {
  type: BrowserErrorType;
  failure: { message: string; stack?: string };
  pathname: string;
  userAgent: string;
}): ErrorReport {
  const { workflow, ...ids } = pageContext(options.pathname);
  return {
    source: 'web',
    error_type: options.type,
    severity: 'medium',
    message: cut(options.failure.message, MAX_MESSAGE),
    ...(options.failure.stack ? { stack: cut(options.failure.stack, MAX_STACK) } : {}),
    ...ids,
    metadata: {
      page: cut(options.pathname, MAX_MESSAGE),
      user_agent: cut(options.userAgent, MAX_USER_AGENT),
      ...(workflow ? { workflow } : {}),
    },
  };
}

/**
 * Decides which reports go out: an identical one (same type and message) within DEDUPE_MS of
 * the last that went is dropped, and so is any beyond MAX_PER_MINUTE in the last minute.
 */
export class ReportGate {
  readonly #dedupeMs: number;
  readonly #perMinute: number;
  readonly #lastSent = new Map<string, number>();
  #sent: number[] = [];

  constructor(options: { dedupeMs?: number; perMinute?: number } = {}) {
    this.#dedupeMs = options.dedupeMs ?? DEDUPE_MS;
    this.#perMinute = options.perMinute ?? MAX_PER_MINUTE;
  }

  /** Whether the report with this key may go out at `now` (epoch ms); counts it when so. */
  admit(key: string, now: number): boolean {
    const last = this.#lastSent.get(key);
    if (last !== undefined && now - last < this.#dedupeMs) return false;
    this.#sent = this.#sent.filter((t) => now - t < 60_000);
    if (this.#sent.length >= this.#perMinute) return false;
    this.#sent.push(now);
    this.#lastSent.set(key, now);
    // Keys older than the window decide nothing: forget them, so a page open for days stays small.
    for (const [k, t] of this.#lastSent) if (now - t >= this.#dedupeMs) this.#lastSent.delete(k);
    return true;
  }
}

/** What a reporter needs from its surroundings, injectable for tests. */
export interface ReporterOptions {
  /** Sends one report; a rejection or a throw is swallowed. */
  send: (report: ErrorReport) => Promise<unknown> | void;
  now?: () => number;
  pathname: () => string;
  userAgent: () => string;
}

/** Reports errors through `send`, gated, and never itself throws or reports its own failures. */
export interface Reporter {
  report(error: unknown, type?: BrowserErrorType): void;
}

/**
 * A reporter: each error is described, filtered (noise, duplicates, the per-minute cap) and
 * sent. An error raised while reporting (by `send`, or by anything it calls that reports in
 * turn) is dropped, never reported, so a broken API or a failing fetch cannot loop.
 */
export function createReporter(options: ReporterOptions): Reporter {
  const gate = new ReportGate();
  const now = options.now ?? Date.now;
  let reporting = false;
  return {
    report(error, type = 'browser_error') {
      if (reporting) return;
      reporting = true;
      try {
        const failure = describeFailure(error);
        if (isNoise(failure)) return;
        if (!gate.admit(`${type}\n${failure.message}`, now())) return;
        const report = buildReport({
          type,
          failure,
          pathname: options.pathname(),
          userAgent: options.userAgent(),
        });
        const sent = options.send(report);
        if (sent) sent.then(undefined, () => {});
      } catch {
        // reporting failed: nothing more to do, and nothing to report
      } finally {
        reporting = false;
      }
    },
  };
}

/** The request context a report needs: the session's CSRF token and the current project. */
export type ReportContext = () => { csrfToken?: string; projectId?: string };

/**
 * Sends a report to the API with the session's cookie and CSRF token, `keepalive` so it
 * survives the page being left; the answer is not read.
 */
function sendReport(report: ErrorReport, context: ReportContext): Promise<unknown> | void {
  const { csrfToken, projectId } = context();
  // Errors belong to a project: without one (no membership yet) there is nowhere to put them.
  if (!projectId) return;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/json',
    'meshhook-project': projectId,
  };
  if (csrfToken) headers['x-csrf-token'] = csrfToken;
  return fetch('/api/error-events', {
    method: 'POST',
    headers,
    body: JSON.stringify(report),
    credentials: 'same-origin',
    keepalive: true,
  });
}

let active: Reporter | undefined;

/**
 * Reports the window's uncaught errors and unhandled rejections from now on, as the signed-in
 * user; answers the function that stops it. Installing again while installed changes nothing.
 * @example $effect(() => (session.status === 'signed_in' ? installErrorReporter(ctx) : undefined));
 */
export function installErrorReporter(context: ReportContext): () => void {
  if (active) return () => {};
  const reporter = createReporter({
    send: (report) => sendReport(report, context),
    pathname: () => window.location.pathname,
    userAgent: () => navigator.userAgent,
  });
  const onError = (event: ErrorEvent) => {
    // ErrorEvent.error is the thrown value; without it (a string thrown from another realm,
    // say) the message is all there is.
    reporter.report(event.error ?? event.message, 'browser_error');
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    reporter.report(event.reason, 'unhandled_rejection');
  };
  window.addEventListener('error', onError);
  window.addEventListener('unhandledrejection', onRejection);
  active = reporter;
  return () => {
    window.removeEventListener('error', onError);
    window.removeEventListener('unhandledrejection', onRejection);
    if (active === reporter) active = undefined;
  };
}

/**
 * Reports an error caught elsewhere (SvelteKit's handleError) through the installed reporter;
 * nothing while none is installed (signed out).
 */
export function reportError(error: unknown, type: BrowserErrorType = 'browser_error'): void {
  active?.report(error, type);
}
