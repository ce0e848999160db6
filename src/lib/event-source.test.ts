import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backoff, diagnoseRefusal } from './event-source.ts';

describe('Backoff', () => {
  it('doubles from one second up to thirty, and starts over on reset', () => {
    const backoff = new Backoff();
    const delays = Array.from({ length: 7 }, () => backoff.next());
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    backoff.reset();
    expect(backoff.next()).toBe(1_000);
  });
});

describe('diagnoseRefusal', () => {
  let server: Server;
  let base: string;
  const accepts: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      accepts.push(request.headers.accept);
      switch (request.url) {
        case '/forbidden':
          response.writeHead(403, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { code: 'forbidden', message: 'viewer role' } }));
          return;
        case '/gone':
          response.writeHead(404, { 'content-type': 'text/plain' });
          response.end('not json');
          return;
        case '/unavailable':
          response.writeHead(503, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ error: { code: 'unavailable', message: 'no pool' } }));
          return;
        default:
          // The stream opens: nothing to diagnose, and the diagnosis must not read it to the end.
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.write(': open\n\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers the reason in words for an error answer, asking for JSON', async () => {
    accepts.length = 0;
    expect(await diagnoseRefusal(`${base}/forbidden`, 'open the log stream')).toBe(
      'Could not open the log stream: your role in this project does not allow it (viewer role).',
    );
    expect(accepts).toEqual(['application/json']);
  });

  it('falls back to the status when the error answer has no error body', async () => {
    expect(await diagnoseRefusal(`${base}/gone`, 'follow finished runs live')).toBe(
      'Could not follow finished runs live: the server answered 404.',
    );
  });

  it('answers nothing for a server error, a stream that opens, or no server at all', async () => {
    expect(await diagnoseRefusal(`${base}/unavailable`, 'open the log stream')).toBeUndefined();
    expect(await diagnoseRefusal(`${base}/stream`, 'open the log stream')).toBeUndefined();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(
      await diagnoseRefusal(`http://127.0.0.1:${port}/`, 'open the log stream'),
    ).toBeUndefined();
  });
});
