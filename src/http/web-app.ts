import { access } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { attachErrorCapture, type WebAppErrorCapture } from '../engine/web-app-errors.ts';

/** A connect-style request handler: adapter-node's `handler`, which calls next() when it has no page. */
export type WebAppHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** A plain Node.js request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Where `vite build` writes the web app (adapter-node's output). */
export const WEB_APP_HANDLER = fileURLToPath(new URL('../../build/handler.js', import.meta.url));

/** Paths served by the API app; everything else belongs to the web app. */
const API_PREFIXES = ['/api', '/hooks', '/healthz', '/readyz', '/metrics'];

/** True when the request path is one the API app answers (`/api`, `/api/…`, `/api?…`). */
export function isApiPath(url: string | undefined): boolean {
  const path = url ?? '/';
  return API_PREFIXES.some(
    (prefix) =>
      path.startsWith(prefix) &&
      (path.length === prefix.length || '/?'.includes(path[prefix.length]!)),
  );
}

/**
 * Loads the built web app, or answers undefined when it was not built (`npm run build`), so
 * the API still serves on its own. Loading runs the app's one-time initialisation.
 */
export async function loadWebApp(
  handlerPath: string = WEB_APP_HANDLER,
): Promise<WebAppHandler | undefined> {
  try {
    await access(handlerPath);
  } catch {
    return undefined;
  }
  const module = (await import(pathToFileURL(handlerPath).href)) as { handler: WebAppHandler };
  return module.handler;
}

/**
 * One listener for the whole port: API paths go to the API app, the rest to the web app, and
 * what the web app does not serve (or everything, when it is not built) gets the API's 404.
 * The web app's requests carry `errors`, the capture its server hooks report to.
 */
export function routeRequests(options: {
  api: RequestListener;
  webApp: WebAppHandler | undefined;
  errors?: WebAppErrorCapture;
}): RequestListener {
  const { api, webApp, errors } = options;
  return (req, res) => {
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    if (!webApp || isApiPath(req.url)) return api(req, res);
    if (errors) attachErrorCapture(req, errors);
    webApp(req, res, () => api(req, res));
  };
}

/**
 * Sent with every answer: no framing by other sites (clickjacking on the pages that publish and
 * manage keys), no content sniffing, and no full URLs (webhook tokens) in Referer headers.
 */
const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "frame-ancestors 'none'"],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'same-origin'],
];
