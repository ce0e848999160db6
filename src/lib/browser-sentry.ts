// The pages' own reporting to Sentry, besides MeshHook's (error-reporter.ts, which stays as it
// is: an error goes to both). Whether the pages report, and where, is the server's to say at run
// time through GET /api/client-config, since one build serves every deployment; the SDK is
// loaded only when they do, by a dynamic import of browser-sentry-sdk.ts, so a page without
// Sentry costs that one small request and nothing more. Errors raised before the SDK is ready
// (while the page first loads) are held, a few, and sent once it is.

import type { BrowserEventContext } from './sentry-context.ts';

/** Where the pages send their errors: `sentry` of `GET /api/client-config`. */
export interface ClientSentryConfig {
  dsn: string;
  environment: string;
  release: string;
  sample_rate: number;
}

/** The answer of `GET /api/client-config`. */
export interface ClientConfig {
  sentry: ClientSentryConfig | null;
}

/** The SDK once set up: what browser-sentry-sdk.ts gives. */
export interface BrowserSentry {
  /** Sends an error as unhandled; `mechanism` says what caught it. */
  capture(error: unknown, mechanism: string): void;
}

/** Whether the pages report to Sentry: not yet known, on, or off. */
export type BrowserSentryState = 'pending' | 'on' | 'off';

/** What the reporting needs from its surroundings, injectable for tests. */
export interface BrowserSentryOptions {
  /** The page's context when an event is sent. */
  context: () => BrowserEventContext;
  /** Reads the pages' configuration. */
  fetchConfig?: () => Promise<ClientConfig>;
  /** Loads and sets up the SDK. */
  load?: (config: ClientSentryConfig, context: () => BrowserEventContext) => Promise<BrowserSentry>;
  /** Where uncaught errors are heard before the SDK is ready. */
  target?: EventTarget;
  /** Told once whether the pages report. */
  onState?: (state: 'on' | 'off') => void;
}

/** The pages' Sentry reporting; see createBrowserSentry. */
export interface BrowserSentryReporter {
  /** Reads the configuration and, when it names a DSN, loads the SDK; resolves to the outcome. */
  start(): Promise<'on' | 'off'>;
  /** Sends an error caught elsewhere (SvelteKit's handleError); held while the SDK loads. */
  capture(error: unknown, mechanism: string): void;
  readonly state: BrowserSentryState;
}

/** At most this many errors wait for the SDK; the rest of a storm at start-up is dropped. */
export const MAX_HELD = 10;

async function fetchClientConfig(): Promise<ClientConfig> {
  const response = await fetch('/api/client-config', {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
  });
  if (!response.ok) throw new Error(`client config: ${response.status}`);
  return (await response.json()) as ClientConfig;
}

async function loadSdk(
  config: ClientSentryConfig,
  context: () => BrowserEventContext,
): Promise<BrowserSentry> {
  const { initBrowserSentry } = await import('./browser-sentry-sdk.ts');
  return initBrowserSentry(config, context);
}

/**
 * The reporting of one page. Like the error reporter, it never makes things worse: a failed
 * request, a chunk that does not load or an SDK that throws turns it off, silently.
 */
export function createBrowserSentry(options: BrowserSentryOptions): BrowserSentryReporter {
  const fetchConfig = options.fetchConfig ?? fetchClientConfig;
  const load = options.load ?? loadSdk;
  let state: BrowserSentryState = 'pending';
  let sdk: BrowserSentry | undefined;
  const held: Array<[unknown, string]> = [];
  const hold = (error: unknown, mechanism: string) => {
    if (held.length < MAX_HELD) held.push([error, mechanism]);
  };
  // The SDK's own handlers take over once it is set up; until then these keep what they hear.
  const onError = (event: Event) => {
    const { error, message } = event as ErrorEvent;
    if (error === undefined && !message) return;
    hold(error ?? message, 'auto.browser.global_handlers.onerror');
  };
  const onRejection = (event: Event) => {
    hold(
      (event as PromiseRejectionEvent).reason,
      'auto.browser.global_handlers.onunhandledrejection',
    );
  };
  const target = options.target;
  target?.addEventListener('error', onError);
  target?.addEventListener('unhandledrejection', onRejection);
  let started: Promise<'on' | 'off'> | undefined;

  const settle = (outcome: 'on' | 'off') => {
    target?.removeEventListener('error', onError);
    target?.removeEventListener('unhandledrejection', onRejection);
    state = outcome;
    const waiting = held.splice(0);
    try {
      if (sdk) for (const [error, mechanism] of waiting) sdk.capture(error, mechanism);
    } catch {
      // the SDK drops what it cannot send; nothing more to do here
    }
    options.onState?.(outcome);
    return outcome;
  };

  const run = async (): Promise<'on' | 'off'> => {
    try {
      const config = await fetchConfig();
      if (!config.sentry) return settle('off');
      sdk = await load(config.sentry, options.context);
      return settle('on');
    } catch {
      sdk = undefined;
      return settle('off');
    }
  };

  return {
    start() {
      started ??= run();
      return started;
    },
    capture(error, mechanism) {
      try {
        if (state === 'pending') hold(error, mechanism);
        else sdk?.capture(error, mechanism);
      } catch {
        // reporting failed: nothing more to do
      }
    },
    get state() {
      return state;
    },
  };
}

let active: BrowserSentryReporter | undefined;

/**
 * Starts the page's Sentry reporting, once; `document.documentElement.dataset.sentry` then says
 * `on` or `off` (the browser tests wait for it).
 * @example startBrowserSentry(() => ({ href: location.href, projectId: session.projectId }));
 */
export function startBrowserSentry(context: () => BrowserEventContext): void {
  if (active) return;
  active = createBrowserSentry({
    context,
    target: window,
    onState: (state) => {
      document.documentElement.dataset.sentry = state;
    },
  });
  void active.start();
}

/** Sends an error caught by SvelteKit to Sentry, when the pages report there. */
export function captureBrowserError(
  error: unknown,
  mechanism = 'auto.function.sveltekit.handle_error',
): void {
  active?.capture(error, mechanism);
}
