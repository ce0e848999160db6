// A stand-in for Sentry's ingestion: it speaks enough of the envelope protocol for the SDKs (the
// Node one in these tests, the browser one from a page) and keeps every byte it got, so a test
// can assert what left MeshHook, and what never did.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One item of an envelope: its header and its payload (parsed when it is JSON). */
export interface EnvelopeItem {
  header: { type?: string; length?: number; [key: string]: unknown };
  payload: any;
  raw: Buffer;
}

/** A parsed envelope: its header and items. */
export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

/** One request the receiver got. */
export interface SentryRequest {
  method: string;
  /** Path and query string, as sent. */
  url: string;
  /** The project id in `/api/<project>/envelope/`. */
  project: string | undefined;
  headers: IncomingHttpHeaders;
  /** The body exactly as received (gzipped when content-encoding says so). */
  raw: Buffer;
  /** The body decompressed. */
  body: Buffer;
  /** The envelope, when the body parsed as one. */
  envelope?: Envelope;
}

/** How the receiver answers envelopes. */
export type SentryReceiverMode =
  /** 200 `{"id":…}`, as Sentry does. */
  | 'ok'
  /** 429 with Retry-After (seconds, `retryAfter`), as Sentry does over quota. */
  | 'rate-limited'
  /** Reads the request, then closes the connection without an answer. */
  | 'hang-up';

/** A loopback Sentry-protocol receiver. */
export interface SentryReceiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** A DSN pointing here: `http://<key>@127.0.0.1:<port>/<project>`. */
  dsn(options?: { key?: string; project?: string }): string;
  requests: SentryRequest[];
  /** Every envelope item received, in order, optionally of one type (`event`, `session`, …). */
  items(type?: string): EnvelopeItem[];
  /** The payloads of the `event` items: the error events. */
  events(): any[];
  /** Every byte received, decompressed, as text: request lines, headers and bodies. */
  text(): string;
  /** How envelopes are answered from now on. */
  respond(mode: SentryReceiverMode, options?: { retryAfter?: number }): void;
  /** Stops listening (connections are refused) until `up()`, on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Parses a newline-delimited envelope; item payloads are `length` bytes when the header says. */
export function parseEnvelope(body: Buffer): Envelope {
  let at = 0;
  const line = (): Buffer => {
    const end = body.indexOf(0x0a, at);
    const slice = body.subarray(at, end === -1 ? body.length : end);
    at = end === -1 ? body.length : end + 1;
    return slice;
  };
  const header = JSON.parse(line().toString('utf8')) as Record<string, unknown>;
  const items: EnvelopeItem[] = [];
  while (at < body.length) {
    const headerLine = line();
    if (headerLine.length === 0) continue;
    const itemHeader = JSON.parse(headerLine.toString('utf8')) as EnvelopeItem['header'];
    let raw: Buffer;
    if (typeof itemHeader.length === 'number') {
      raw = body.subarray(at, at + itemHeader.length);
      at += itemHeader.length;
      if (body[at] === 0x0a) at += 1;
    } else {
      raw = line();
    }
    let payload: unknown = raw;
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      // An attachment or another binary item: kept raw.
    }
    items.push({ header: itemHeader, payload, raw });
  }
  return { header, items };
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type, content-encoding, x-sentry-auth',
  'access-control-expose-headers': 'retry-after, x-sentry-rate-limits',
  'access-control-max-age': '600',
};

/** Starts a receiver on a free loopback port, answering `ok`. */
export async function startSentryReceiver(): Promise<SentryReceiver> {
  const requests: SentryRequest[] = [];
  let mode: SentryReceiverMode = 'ok';
  let retryAfter = 60;
  const sockets = new Set<Socket>();

  const answer = (response: ServerResponse, status: number, headers: Record<string, string>) => {
    const body = status === 200 ? JSON.stringify({ id: null }) : '';
    response.writeHead(status, { ...CORS, 'content-type': 'application/json', ...headers });
    response.end(body);
  };

  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body = raw;
      if (req.headers['content-encoding'] === 'gzip') {
        try {
          body = gunzipSync(raw);
        } catch {
          body = raw;
        }
      }
      const url = req.url ?? '/';
      const match = /^\/api\/([^/]+)\/envelope\/?(?:\?|$)/.exec(url);
      const request: SentryRequest = {
        method: req.method ?? 'GET',
        url,
        project: match?.[1],
        headers: req.headers,
        raw,
        body,
      };
      try {
        if (match && req.method === 'POST') request.envelope = parseEnvelope(body);
      } catch {
        // Kept unparsed: the bytes still count.
      }
      requests.push(request);
      if (!match || req.method !== 'POST') {
        answer(res, 404, {});
        return;
      }
      if (mode === 'hang-up') {
        req.socket.destroy();
        return;
      }
      if (mode === 'rate-limited') {
        answer(res, 429, { 'retry-after': String(retryAfter) });
        return;
      }
      answer(res, 200, {});
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });

  await listen(0);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const items = (type?: string) =>
    requests
      .flatMap((r) => r.envelope?.items ?? [])
      .filter((item) => type === undefined || item.header.type === type);
  return {
    url,
    dsn: ({ key = 'publickey', project = '42' } = {}) =>
      `http://${key}@127.0.0.1:${port}/${project}`,
    requests,
    items,
    events: () => items('event').map((item) => item.payload),
    text: () =>
      requests
        .map((r) => {
          const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${String(v)}`);
          return [`${r.method} ${r.url}`, ...headers, '', r.body.toString('utf8')].join('\n');
        })
        .join('\n'),
    respond(next, options = {}) {
      mode = next;
      if (options.retryAfter !== undefined) retryAfter = options.retryAfter;
    },
    down: stop,
    up: () => listen(port),
    close: stop,
  };
}
