// What MeshHook adds to each browser event before the scrubber sees it: where it happened (the
// page's path, the project, the run or workflow it shows) and who was signed in (their id, and
// nothing else of them); and what it takes out of breadcrumbs (query strings and hashes, which
// may hold tokens). Pure, and loaded with the SDK only (browser-sentry-sdk.ts).

import { REDACTED } from '../core/redact.ts';
import { pageContext } from './error-reporter.ts';

/** Where an event happened and who was signed in, as the page knows it when the event is sent. */
export interface BrowserEventContext {
  /** The page's address (window.location.href); only its origin and path are kept. */
  href: string;
  /** The project the pages act in, when someone is signed in. */
  projectId?: string | undefined;
  /** The signed-in user's id. */
  userId?: string | undefined;
  /** SvelteKit's route id (`/runs/[id]`): the page's kind, free of ids and tokens. */
  route?: string | null | undefined;
}

/** The fields of a Sentry event this sets (the SDK's Event has them all). */
export interface PageContextFields {
  tags?: Record<string, unknown>;
  request?: unknown;
  user?: unknown;
  transaction?: string;
}

// An invitation's page is `/invite/<token>`: its path is its credential, as a webhook's is.
const INVITE = /^((?:[a-z][a-z0-9+.-]*:\/\/[^/?#]*)?\/invite\/)[^/?#]+/i;

/**
 * A URL or path without its query string and hash, an invitation's token masked: what events
 * and breadcrumbs may say of an address.
 *
 * @example
 * strippedUrl('/invite/abc?next=/runs#x'); // '/invite/[REDACTED]'
 */
export function strippedUrl(url: string): string {
  const cut = url.search(/[?#]/);
  return (cut === -1 ? url : url.slice(0, cut)).replace(INVITE, `$1${REDACTED}`);
}

/** The page's path as events name it: see strippedUrl. */
export function pagePath(href: string): string {
  let pathname: string;
  try {
    pathname = new URL(href).pathname;
  } catch {
    pathname = href;
  }
  return strippedUrl(pathname);
}

/**
 * The tags of an event raised on a page: `source: web`, the project, and the run or workflow the
 * page shows (`workflow_id` for an id in the path, `workflow` for a slug).
 */
export function pageTags(context: BrowserEventContext): Record<string, string> {
  const { run_id, workflow_id, workflow } = pageContext(pagePath(context.href));
  return {
    source: 'web',
    ...(context.projectId ? { project_id: context.projectId } : {}),
    ...(run_id ? { run_id } : {}),
    ...(workflow_id ? { workflow_id } : {}),
    ...(workflow ? { workflow } : {}),
  };
}

/**
 * The event with the page's context: its tags, the page's origin and path as the request (no
 * query string, no headers, no cookies), the route as the transaction, and the user's id alone.
 */
export function withPageContext<T extends PageContextFields>(
  event: T,
  context: BrowserEventContext,
): T {
  let origin = '';
  try {
    origin = new URL(context.href).origin;
  } catch {
    // a bare path: the path alone names the page
  }
  const { user: _user, ...rest } = event;
  return {
    ...rest,
    tags: { ...event.tags, ...pageTags(context) },
    request: { url: `${origin}${pagePath(context.href)}` },
    ...(context.route ? { transaction: context.route } : {}),
    ...(context.userId ? { user: { id: context.userId } } : {}),
  } as T;
}

/** A breadcrumb whose addresses (a fetch's `url`, a navigation's `from` and `to`) are stripped. */
export function withStrippedUrls<T extends { data?: Record<string, unknown> }>(breadcrumb: T): T {
  if (!breadcrumb.data) return breadcrumb;
  const data = { ...breadcrumb.data };
  for (const key of ['url', 'from', 'to']) {
    const value = data[key];
    if (typeof value === 'string') data[key] = strippedUrl(value);
  }
  return { ...breadcrumb, data };
}
