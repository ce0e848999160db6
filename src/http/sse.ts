import type { ServerResponse } from 'node:http';
import type { RunLog } from '../db/queries/run-logs.ts';
import type { LogSink, OutgoingLine, StreamEnd, StreamHandle } from '../engine/log-hub.ts';

/** A log line as the API and the streams show it. */
export function logJson(l: RunLog) {
  return {
    id: l.id,
    run_id: l.runId,
    workflow_id: l.workflowId,
    node_id: l.nodeId,
    ts: l.ts.toISOString(),
    level: l.level,
    message: l.message,
    fields: l.fields,
  };
}

/** One Server-Sent Event; `data` is sent as one line of JSON. */
export function sseEvent(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}

/** A log line as its stream event, `event: log` with the log id as the event id. */
export function encodeLogEvent(log: RunLog): Uint8Array {
  // Buffer.from takes small strings from a shared pool: cheaper than TextEncoder per line.
  return Buffer.from(sseEvent('log', logJson(log), log.id));
}

function closingEvent(reason: StreamEnd): string {
  switch (reason.kind) {
    case 'finished':
      return sseEvent('end', { run_id: reason.runId, status: reason.status });
    case 'lagged':
      return sseEvent('lagged', {
        last_id: reason.lastId,
        message: 'the client read too slowly; reconnect with Last-Event-ID to resume',
      });
    case 'revoked':
      return sseEvent('error', {
        code: 'access_revoked',
        message: 'access to this project was revoked',
      });
    case 'interrupted':
      return ''; // the client reconnects and resumes
  }
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * Serves a log stream on Node's response directly. The response's own write buffer is the
 * stream's buffer: the hub ends a live stream whose client left `bufferBytes` unread with
 * `event: lagged`, and backlog pages wait until half of it is free.
 *
 * Why not a web ReadableStream: every chunk of one costs a read promise and a trip through the
 * adapter's pump before it reaches the socket, and a log stream is mostly small chunks (one
 * per stream per batch, often one line). Writing to the response directly doubled the
 * deliveries one web process sustains (npm run bench -- log-stream, docs/benchmarks.md).
 */
export function serveLogStream(options: {
  response: ServerResponse;
  bufferBytes: number;
  open(sink: LogSink): Promise<StreamHandle>;
}): void {
  const { response, bufferBytes } = options;
  let handle: StreamHandle | undefined;
  let closed = false;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const resolve of waiting) resolve();
    waiting.clear();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    handle?.close();
    wake();
  };
  const sink: LogSink = {
    room: () => (closed ? 0 : bufferBytes - response.writableLength),
    write(lines: readonly OutgoingLine[]) {
      if (closed) return;
      response.write(
        lines.length === 1 ? lines[0]!.bytes : Buffer.concat(lines.map((l) => l.bytes)),
      );
    },
    heartbeat() {
      if (!closed) response.write(': heartbeat\n\n');
    },
    drained() {
      if (closed || response.writableLength < bufferBytes / 2) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiting.add(resolve);
        response.once('drain', wake);
      });
    },
    end(reason) {
      if (closed) return;
      response.end(closingEvent(reason));
      close();
    },
  };
  response.writeHead(200, SSE_HEADERS);
  response.write('retry: 1000\n: connected\n\n');
  response.on('close', close);
  options.open(sink).then(
    (opened) => {
      handle = opened;
      if (closed) opened.close();
    },
    () => {
      if (!closed) response.end();
      close();
    },
  );
}
