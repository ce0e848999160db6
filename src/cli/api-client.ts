import { err, ok, type Result } from '../core/result.ts';

/** Where the CLI reaches the API, and with which key. */
export interface ApiTarget {
  /** The base URL, without a trailing slash. */
  url: string;
  apiKey: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Reads `MESHHOOK_URL` (default http://127.0.0.1:8080) and `MESHHOOK_API_KEY` (required). */
export function readApiTarget(env: Record<string, string | undefined>): Result<ApiTarget, string> {
  const apiKey = env.MESHHOOK_API_KEY?.trim();
  if (!apiKey) {
    return err(
      'MESHHOOK_API_KEY is not set: this command reads the API with an API key (meshhook projects create prints one)',
    );
  }
  const raw = env.MESHHOOK_URL?.trim() || DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return err(`MESHHOOK_URL must be an http:// or https:// URL, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return err(`MESHHOOK_URL must be an http:// or https:// URL, not ${JSON.stringify(raw)}`);
  }
  // A path is kept: MeshHook may be served under a prefix behind a proxy.
  return ok({ url: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, apiKey });
}

/** The headers of an API request. */
export function apiHeaders(target: ApiTarget, extra: Record<string, string> = {}) {
  return { authorization: `Bearer ${target.apiKey}`, ...extra };
}

/** A refused request in words: the status and the message of the API's error body. */
export function describeRefusal(status: number, body: string): string {
  const message = readErrorMessage(body);
  return `MeshHook answered ${status}${message ? `: ${message}` : ''}`;
}

/** A failed request in words, with the network error under fetch's "fetch failed". */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function readErrorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } } | null;
    const message = parsed?.error?.message;
    return typeof message === 'string' && message !== '' ? message : undefined;
  } catch {
    return undefined;
  }
}
