import { describe, expect, it } from 'vitest';
import {
  createBrowserSentry,
  MAX_HELD,
  type BrowserSentry,
  type ClientConfig,
  type ClientSentryConfig,
} from './browser-sentry.ts';

const SENTRY: ClientSentryConfig = {
  dsn: 'https://key@sentry.example.com/7',
  environment: 'test',
  release: 'meshhook@1.0.0',
  sample_rate: 1,
};

/** A reporting whose configuration, SDK and window are the test's. */
function harness(config: ClientConfig | Error) {
  const target = new EventTarget();
  const captured: Array<[unknown, string]> = [];
  const loads: ClientSentryConfig[] = [];
  const states: string[] = [];
  const sdk: BrowserSentry = { capture: (error, mechanism) => captured.push([error, mechanism]) };
  const reporter = createBrowserSentry({
    context: () => ({ href: 'https://meshhook.example.com/runs' }),
    fetchConfig: async () => {
      if (config instanceof Error) throw config;
      return config;
    },
    load: async (sentry) => {
      loads.push(sentry);
      return sdk;
    },
    target,
    onState: (state) => states.push(state),
  });
  return { target, captured, loads, states, reporter };
}

function uncaught(target: EventTarget, error: Error): void {
  const event = new Event('error') as Event & { error: Error; message: string };
  Object.assign(event, { error, message: error.message });
  target.dispatchEvent(event);
}

describe('createBrowserSentry', () => {
  it('loads the SDK only when the server names a DSN, and sends what came before it', async () => {
    const { target, captured, loads, states, reporter } = harness({ sentry: SENTRY });
    const early = new Error('thrown while the page loads');
    uncaught(target, early);
    reporter.capture('caught by SvelteKit', 'sveltekit.handle_error');
    expect(reporter.state).toBe('pending');
    expect(await reporter.start()).toBe('on');
    expect(loads).toEqual([SENTRY]);
    expect(states).toEqual(['on']);
    expect(captured).toEqual([
      [early, 'auto.browser.global_handlers.onerror'],
      ['caught by SvelteKit', 'sveltekit.handle_error'],
    ]);
    // From now on the SDK's own handlers hear the window; these no longer do.
    uncaught(target, new Error('later'));
    reporter.capture('later, caught', 'sveltekit.handle_error');
    expect(captured.slice(2)).toEqual([['later, caught', 'sveltekit.handle_error']]);
    expect(await reporter.start()).toBe('on');
    expect(loads).toHaveLength(1);
  });

  it('loads nothing without a DSN, and drops what it held', async () => {
    const { target, captured, loads, states, reporter } = harness({ sentry: null });
    uncaught(target, new Error('boom'));
    expect(await reporter.start()).toBe('off');
    reporter.capture('after', 'sveltekit.handle_error');
    expect(loads).toEqual([]);
    expect(captured).toEqual([]);
    expect(states).toEqual(['off']);
    expect(reporter.state).toBe('off');
  });

  it('turns off, silently, when the configuration cannot be read', async () => {
    const { loads, reporter } = harness(new Error('503'));
    expect(await reporter.start()).toBe('off');
    expect(loads).toEqual([]);
  });

  it(`holds at most ${MAX_HELD} errors for the SDK`, async () => {
    const { target, captured, reporter } = harness({ sentry: SENTRY });
    for (let i = 0; i < MAX_HELD + 5; i++) uncaught(target, new Error(`e${i}`));
    target.dispatchEvent(
      Object.assign(new Event('unhandledrejection'), { reason: 'rejected' }) as Event,
    );
    await reporter.start();
    expect(captured).toHaveLength(MAX_HELD);
    expect((captured[0]![0] as Error).message).toBe('e0');
  });
});
