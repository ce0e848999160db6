// How the web app's server hooks (src/hooks.server.ts) reach the process's error capture. Those
// hooks run inside the built web app (build/, bundled by Vite), which carries its own copy of
// every module it imports: a variable set here by src/server.ts would not be the one the
// bundled copy reads. So the capture travels with each request instead: the server attaches it
// to the Node request under a Symbol.for key, the same symbol in every copy of this module, and
// adapter-node hands that request to the hooks as `event.platform.req`. Being per request, it
// also stays right when one process runs two servers (the tests do).

import type { ErrorContext } from '../core/error-events.ts';

/** What the hooks need of the error capture (ErrorCapture is one). */
export interface WebAppErrorCapture {
  capture(error: unknown, context: ErrorContext): unknown;
}

const CAPTURE = Symbol.for('meshhook.web-app.error-capture');

type Carrier = { [CAPTURE]?: WebAppErrorCapture };

/**
 * Makes `capture` the one the web app's hooks use for this request.
 *
 * @example
 * attachErrorCapture(req, running.errors); webApp(req, res, next);
 */
export function attachErrorCapture(request: object, capture: WebAppErrorCapture): void {
  (request as Carrier)[CAPTURE] = capture;
}

/** The capture attached to a request, if any (none under `vite dev`, say). */
export function errorCaptureOf(request: unknown): WebAppErrorCapture | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  return (request as Carrier)[CAPTURE];
}
