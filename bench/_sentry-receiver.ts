// The sentry benchmark's stand-in for Sentry's ingestion: a loopback node:http server that
// accepts `POST /api/<project>/envelope/` and answers 200 at once, as Sentry does. It only keeps
// the bodies while a round runs; they are unzipped and parsed after it, so the benchmark's
// process does as little as it can while it is being measured.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One item of an envelope: its header, and its payload when it is JSON. */
export interface EnvelopeItem {
  type: string;
  payload: unknown;
}

/** One request received: its path, and the items of its envelope (none when it held none). */
export interface SentryReceipt {
  url: string;
  /** Whether the path was `/api/<project>/envelope/` and the method POST. */
  envelope: boolean;
  items: EnvelopeItem[];
}

interface Raw {
  url: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const ENVELOPE_PATH = /^\/api\/[^/]+\/envelope\/?(?:\?|$)/;

/** A loopback Sentry-protocol receiver that answers every envelope 200. */
export class SentryReceiver {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #raw: Raw[] = [];
  #port = 0;

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = req.url ?? '/';
        this.#raw.push({
          url,
          method: req.method ?? 'GET',
          headers: req.headers,
          body: Buffer.concat(chunks),
        });
        const ok = req.method === 'POST' && ENVELOPE_PATH.test(url);
        res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
        res.end(ok ? '{"id":null}' : '');
      });
    });
    // The SDK's transport keeps its connection alive; so does Sentry's ingestion.
    this.#server.keepAliveTimeout = 60_000;
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening on a free loopback port. */
  static async start(): Promise<SentryReceiver> {
    const receiver = new SentryReceiver();
    await new Promise<void>((resolve, reject) => {
      receiver.#server.once('error', reject);
      receiver.#server.listen(0, '127.0.0.1', () => resolve());
    });
    receiver.#port = (receiver.#server.address() as AddressInfo).port;
    return receiver;
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** A DSN pointing here: `http://<key>@127.0.0.1:<port>/<project>`. */
  dsn(project = '1'): string {
    return `http://benchkey@127.0.0.1:${this.#port}/${project}`;
  }

  /** The requests received since the previous collect, parsed, in arrival order. */
  collect(): SentryReceipt[] {
    const raw = this.#raw;
    this.#raw = [];
    return raw.map((r) => {
      const envelope = r.method === 'POST' && ENVELOPE_PATH.test(r.url);
      const body = r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body;
      return { url: r.url, envelope, items: envelope ? parseEnvelope(body) : [] };
    });
  }

  /** Stops listening and closes the connections still open. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The items of a newline-delimited envelope: a header line, then per item a header line and a
 * payload of `length` bytes when the header gives one, else up to the next newline.
 */
function parseEnvelope(body: Buffer): EnvelopeItem[] {
  let at = 0;
  const line = (): Buffer => {
    const end = body.indexOf(0x0a, at);
    const slice = body.subarray(at, end === -1 ? body.length : end);
    at = end === -1 ? body.length : end + 1;
    return slice;
  };
  line(); // the envelope's header: event id, DSN, SDK
  const items: EnvelopeItem[] = [];
  while (at < body.length) {
    const headerLine = line();
    if (headerLine.length === 0) continue;
    const header = JSON.parse(headerLine.toString('utf8')) as { type?: string; length?: number };
    let payload: Buffer;
    if (typeof header.length === 'number') {
      payload = body.subarray(at, at + header.length);
      at += header.length;
      if (body[at] === 0x0a) at += 1;
    } else {
      payload = line();
    }
    let parsed: unknown = payload;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      // An attachment or another binary item: kept as bytes.
    }
    items.push({ type: header.type ?? '', payload: parsed });
  }
  return items;
}
