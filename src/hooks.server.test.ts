import type { IncomingMessage } from 'node:http';
import type { RequestEvent } from '@sveltejs/kit';
import { describe, expect, it } from 'vitest';
import type { ErrorContext } from './core/error-events.ts';
import { attachErrorCapture } from './engine/web-app-errors.ts';
import { handleError } from './hooks.server.ts';

/** A request event as adapter-node builds it, carrying a capture that records its calls. */
function eventWithCapture(): { event: RequestEvent; captured: Array<[unknown, ErrorContext]> } {
  const captured: Array<[unknown, ErrorContext]> = [];
  const req = {} as IncomingMessage;
  attachErrorCapture(req, { capture: (error, context) => captured.push([error, context]) });
  const event = {
    request: new Request('http://127.0.0.1/invite/secret-token?next=/runs'),
    route: { id: '/invite/[token]' },
    platform: { req },
  } as unknown as RequestEvent;
  return { event, captured };
}

describe("the web app's server handleError", () => {
  it('captures an unexpected error as an API fault, naming the route and not the path', () => {
    const { event, captured } = eventWithCapture();
    const error = new Error('rendering the shell failed');
    void handleError({ kind: 'unknown', error, event });
    expect(captured).toEqual([
      [
        error,
        {
          source: 'api',
          metadata: { method: 'GET', route: '/invite/[token]', component: 'web_app' },
        },
      ],
    ]);
  });

  it('leaves expected errors alone: a 404, an error(…) thrown on purpose, a failed validation', () => {
    const { event, captured } = eventWithCapture();
    void handleError({ kind: 'framework', error: { status: 404, message: 'Not Found' }, event });
    void handleError({ kind: 'app', error: { status: 404, message: 'No such run' }, event });
    void handleError({
      kind: 'validation',
      error: { status: 400, message: 'Bad Request' },
      issues: [],
      event,
    });
    expect(captured).toEqual([]);
  });

  it('does nothing without a capture (vite dev), and survives one that throws', () => {
    const { event } = eventWithCapture();
    const bare = { ...event, platform: undefined } as unknown as RequestEvent;
    expect(() =>
      handleError({ kind: 'unknown', error: new Error('x'), event: bare }),
    ).not.toThrow();
    const req = {} as IncomingMessage;
    attachErrorCapture(req, {
      capture: () => {
        throw new Error('capture broke');
      },
    });
    const broken = { ...event, platform: { req } } as unknown as RequestEvent;
    expect(() =>
      handleError({ kind: 'unknown', error: new Error('x'), event: broken }),
    ).not.toThrow();
  });
});
