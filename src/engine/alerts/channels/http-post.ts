// One HTTP POST of an alert and what its answer means for a retry. Shared by the webhook, Slack
// and SMS channels, which differ only in the URL, the headers and the body.

import { request } from 'undici';
import { parseRetryAfter } from '../../../core/retry.ts';
import type { SendResult } from './types.ts';

/** Default limit on one request, connection to last byte. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The User-Agent of every alert request. */
export const USER_AGENT = 'MeshHook-Alerts/1';

// Enough of an error answer to say why ("invalid_token", Twilio's message); the rest is drained
// unread.
const MAX_ANSWER_BYTES = 2048;
const MAX_ANSWER_CHARS = 200;

/** The value as an http(s) URL, or undefined: a channel's stored URL is checked before use. */
export function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  return /^https?:$/.test(new URL(value).protocol) ? value : undefined;
}

/** What to send and how long to wait. */
export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  timeoutMs: number;
  now: () => Date;
}

/**
 * POSTs once and classifies the answer: 2xx sent; 408, 429, 5xx, network errors and timeouts
 * retryable (after their Retry-After, in seconds or a date, at most 1 h); other statuses
 * permanent (a revoked Slack hook answers 403, 404 or 410; 3xx is not followed, as a POST
 * redirected elsewhere is a misconfigured channel). Error texts are raw: the caller scrubs them.
 */
export async function postOnce(options: PostOptions): Promise<SendResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  let status: number;
  let retryAfter: string | undefined;
  let answer: string;
  try {
    const response = await request(options.url, {
      method: 'POST',
      headers: { 'user-agent': USER_AGENT, ...options.headers },
      body: options.body,
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    status = response.statusCode;
    const header = response.headers['retry-after'];
    retryAfter = Array.isArray(header) ? header[0] : header;
    answer = await readAnswer(response.body);
  } catch (error) {
    return { ok: false, permanent: false, error: networkError(error, options, timeout) };
  }
  if (status >= 200 && status < 300) return { ok: true, statusCode: status };
  const retryable = status === 408 || status === 429 || status >= 500;
  const reason = reasonOf(answer);
  const result: SendResult = {
    ok: false,
    permanent: !retryable,
    statusCode: status,
    error: reason === '' ? `HTTP ${status}` : `HTTP ${status}: ${reason}`,
  };
  if (retryable) {
    const retryAfterMs = parseRetryAfter(retryAfter, options.now());
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
  }
  return result;
}

async function readAnswer(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    // Keep reading past the limit without keeping: a drained body lets the connection be reused.
    if (size >= MAX_ANSWER_BYTES) continue;
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

// A JSON error (Twilio's {code, message}, {"error": "..."}) is read for its message; anything
// else is shown as it came, on one line.
function reasonOf(answer: string): string {
  let reason = answer;
  try {
    const json: unknown = JSON.parse(answer);
    if (typeof json === 'object' && json !== null) {
      const { message, error } = json as { message?: unknown; error?: unknown };
      if (typeof message === 'string') reason = message;
      else if (typeof error === 'string') reason = error;
    }
  } catch {
    // Not JSON: the text itself.
  }
  const line = reason.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ANSWER_CHARS ? `${line.slice(0, MAX_ANSWER_CHARS - 1)}…` : line;
}

function networkError(error: unknown, options: PostOptions, timeout: AbortSignal): string {
  if (options.signal.aborted) return 'cancelled before an answer came';
  if (timeout.aborted || isTimeout(error)) return `timed out after ${options.timeoutMs} ms`;
  const code = codeOf(error);
  if (code !== undefined) return `request failed: ${code}`;
  return `request failed: ${error instanceof Error ? error.message : String(error)}`;
}

function isTimeout(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

// undici puts the system error's code (ECONNREFUSED, ENOTFOUND) on the error or on its cause.
function codeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
