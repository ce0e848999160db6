import { request, errors as undiciErrors } from 'undici';
import type { NodeConfig } from '../../core/definition.ts';
import { parseRetryAfter } from '../../core/retry.ts';
import type { StepInput, StepOutcome } from './types.ts';

const DEFAULT_TIMEOUT_MS = 10_000;
/** Response bodies above this are cut: a step output is stored, and logs and UIs show it. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

type HttpCallNode = Extract<StepInput['node'], { type: 'http_call' }>;

/**
 * Sends the request; network errors, timeouts, 5xx and 429 are retryable (429 and 503 honour
 * Retry-After), other 4xx fail the step at once.
 */
export async function executeHttpCall(input: StepInput<HttpCallNode>): Promise<StepOutcome> {
  const config = input.config as NodeConfig<'http_call'>;
  const timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  const url = String(config.url);
  if (!isHttpUrl(url)) {
    return {
      kind: 'failed',
      error: {
        type: 'invalid_config',
        message: `http_call url must be an http(s) URL, got "${url}"`,
      },
      retryable: false,
    };
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers ?? {})) {
    // A header whose template rendered to nothing is left out rather than sent as "null".
    if (v === null || v === undefined || v === '') continue;
    headers[k.toLowerCase()] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  let body: string | undefined;
  if (config.body !== undefined && config.method !== 'GET' && config.method !== 'HEAD') {
    if (typeof config.body === 'string') {
      body = config.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      body = JSON.stringify(config.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  headers['user-agent'] ??= 'MeshHook';

  const started = performance.now();
  let status: number;
  let responseHeaders: Record<string, string>;
  let responseBody: unknown;
  try {
    const signal = AbortSignal.any([input.signal, AbortSignal.timeout(timeoutMs)]);
    const response = await request(url, {
      method: config.method,
      headers,
      body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    responseHeaders = flattenHeaders(response.headers);
    responseBody = await readBody(response.body, responseHeaders['content-type']);
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    const timedOut = isTimeout(error) && !input.signal.aborted;
    const message = timedOut
      ? `${config.method} ${url} timed out after ${timeoutMs} ms`
      : `${config.method} ${url} failed: ${describe(error)}`;
    input.log.warn(message, { attempt: input.attempt, duration_ms: ms });
    return {
      kind: 'failed',
      error: { type: timedOut ? 'http_timeout' : 'network', message },
      retryable: !input.signal.aborted,
    };
  }

  const ms = Math.round(performance.now() - started);
  const output = { status, headers: responseHeaders, body: responseBody };
  if (status < 400) {
    input.log.info(`${config.method} ${url} → ${status}`, { status, duration_ms: ms });
    return { kind: 'succeeded', output };
  }
  const retryable = status >= 500 || status === 429;
  const message = `${config.method} ${url} answered ${status}`;
  input.log.warn(message, { status, duration_ms: ms, attempt: input.attempt });
  const retryAfterMs =
    status === 429 || status === 503
      ? parseRetryAfter(responseHeaders['retry-after'], input.now())
      : undefined;
  return {
    kind: 'failed',
    error: { type: status >= 500 ? 'http_5xx' : 'http_4xx', message, details: { status } },
    retryable,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

async function readBody(
  body: AsyncIterable<Uint8Array>,
  contentType: string | undefined,
): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    if (size + chunk.byteLength > MAX_RESPONSE_BYTES) {
      truncated = true;
      continue; // drain the rest so the connection can be reused
    }
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (truncated) return text;
  if (contentType && /[/+]json\b/i.test(contentType) && text.length > 0) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code ?? (error.cause as { code?: unknown })?.code;
  return typeof code === 'string' ? `${code} ${error.message}` : error.message;
}
