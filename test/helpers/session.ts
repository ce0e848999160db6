import type { ApiResponse } from './meshhook.ts';

/** A browser-like client: keeps the session cookie and sends the CSRF token and project. */
export interface SessionClient {
  /** The Set-Cookie headers of the last sign-in or sign-up. */
  setCookie: string[];
  csrf?: string;
  project?: string;
  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  /** Signs in (or up, or accepts an invitation) and loads the CSRF token and first project. */
  enter(path: string, body: unknown): Promise<ApiResponse>;
}

/** A client of the MeshHook at url with no session yet. */
export function sessionClient(url: string): SessionClient {
  let cookie = '';
  const client: SessionClient = {
    setCookie: [],
    async request(method, path, body, headers = {}) {
      const response = await fetch(url + path, {
        method,
        headers: {
          ...(cookie ? { cookie } : {}),
          ...(client.csrf && method !== 'GET' ? { 'x-csrf-token': client.csrf } : {}),
          ...(client.project ? { 'meshhook-project': client.project } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const set = response.headers.getSetCookie();
      if (set.length > 0) {
        client.setCookie = set;
        cookie = set.map((c) => c.split(';')[0]).join('; ');
      }
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : null,
        headers: response.headers,
      };
    },
    async enter(path, body) {
      const response = await client.request('POST', path, body);
      if (response.status < 300) {
        const me = await client.request('GET', '/api/auth/me');
        client.csrf = me.body.csrf_token;
        client.project ??= me.body.projects[0]?.id;
      }
      return response;
    },
  };
  return client;
}
