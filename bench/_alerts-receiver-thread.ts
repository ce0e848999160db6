// The alerts benchmark's webhook receiver, in a thread of its own so that the benchmark's main
// thread (pushing webhooks, polling the database, the baseline's client) never delays a receipt:
// a loopback node:http server that answers 200 at once and stamps each request as its headers
// arrive, on the wall clock the database's timestamps are on.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';

/** What the receiver thread is asked to do. */
export type ReceiverCommand = { type: 'count' } | { type: 'collect' } | { type: 'close' };

/** One request received: its path, MeshHook-Delivery and MeshHook-Attempt headers, and when. */
export interface Receipt {
  path: string;
  /** The delivery id, '' when the request carried none (the baseline's). */
  delivery: string;
  attempt: number;
  /** Date.now() when the request's headers arrived. */
  at: number;
  bytes: number;
}

/** What the thread answers: `listening` once, then one answer per command, echoing its seq. */
export type ReceiverAnswer =
  | { type: 'listening'; port: number }
  | { type: 'count'; seq: number; count: number }
  | { type: 'collect'; seq: number; receipts: Receipt[] }
  | { type: 'close'; seq: number };

const port = parentPort!;
let received: Receipt[] = [];
let count = 0;

const server = createServer((req, res) => {
  const at = Date.now();
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const delivery = req.headers['meshhook-delivery'];
    received.push({
      path: req.url ?? '/',
      delivery: typeof delivery === 'string' ? delivery : '',
      attempt: Number(req.headers['meshhook-attempt'] ?? 0),
      at,
      bytes,
    });
    count++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});
// The dispatchers keep connections alive; so must the receiver, or each delivery would pay a
// TCP handshake that no real receiver behind a keep-alive proxy charges.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  port.postMessage({
    type: 'listening',
    port: (server.address() as AddressInfo).port,
  } satisfies ReceiverAnswer);
});

port.on('message', (request: ReceiverCommand & { seq: number }) => {
  switch (request.type) {
    case 'count':
      port.postMessage({ type: 'count', seq: request.seq, count } satisfies ReceiverAnswer);
      return;
    case 'collect': {
      const receipts = received;
      received = [];
      port.postMessage({ type: 'collect', seq: request.seq, receipts } satisfies ReceiverAnswer);
      return;
    }
    case 'close':
      server.closeAllConnections();
      server.close(() => {
        port.postMessage({ type: 'close', seq: request.seq } satisfies ReceiverAnswer);
        port.close();
      });
      return;
  }
});
