// The one way pages talk to the server: fetch on /api with the session's CSRF token and the
// chosen project, and errors turned into words.

/** An error answer of the API: `{"error":{"code","message","details"}}`, or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** What the API needs to know about the browser's session on every request. */
const context: { csrfToken?: string; projectId?: string } = {};

/** Sets the CSRF token and project sent with later requests. */
export function setRequestContext(next: { csrfToken?: string; projectId?: string }): void {
  if ('csrfToken' in next) context.csrfToken = next.csrfToken;
  if ('projectId' in next) context.projectId = next.projectId;
}

const SAFE = new Set(['GET', 'HEAD']);

/**
 * Calls the API and answers the parsed JSON body; throws ApiError for any error answer.
 * @example const page = await api<Page<Workflow>>('/api/workflows', { query: { limit: 100 } });
 */
export async function api<T>(
  path: string,
  options: {
    method?: string;
    body?: unknown;
    query?: Record<string, string | number | undefined | null>;
    /** Leave out the project header (account-level endpoints). */
    noProject?: boolean;
  } = {},
): Promise<T> {
  const method = options.method ?? 'GET';
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== null && value !== '')
      url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE.has(method) && context.csrfToken) headers['x-csrf-token'] = context.csrfToken;
  if (!options.noProject && context.projectId) headers['meshhook-project'] = context.projectId;

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    throw new ApiError(
      0,
      'network',
      'MeshHook cannot be reached: check the connection and that the server is running.',
    );
  }
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const error = (
      body as {
        error?: { code?: string; message?: string; details?: Record<string, unknown> };
      } | null
    )?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `the server answered ${response.status} ${response.statusText}`.trim(),
      error?.details ?? {},
    );
  }
  return body as T;
}

/** A sentence for any error, fit to show on a page (never a stack trace). */
export function describeError(error: unknown, action?: string): string {
  const prefix = action ? `Could not ${action}: ` : '';
  if (!(error instanceof ApiError))
    return `${prefix}something unexpected went wrong. Reload the page and try again.`;
  switch (error.status) {
    case 0:
      return prefix + error.message;
    case 401:
      return `${prefix}you are signed out. Sign in again.`;
    case 403:
      return `${prefix}your role in this project does not allow it (${error.message}).`;
    case 404:
      if (error.message.startsWith('no route for'))
        return `${prefix}this MeshHook server does not offer it yet (${error.message}).`;
      return `${prefix}${error.message}.`;
    case 429:
      return `${prefix}too many attempts. Wait a minute and try again.`;
    case 500:
      return `${prefix}the server hit an internal error. The server log has the details.`;
    case 503:
      return `${prefix}the database is unavailable right now. Try again in a few seconds.`;
    default:
      return `${prefix}${error.message}.`;
  }
}
