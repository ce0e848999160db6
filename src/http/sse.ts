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

/** The closing event of a stream whose caller lost access. */
export const ACCESS_REVOKED_EVENT = sseEvent('error', {
  code: 'access_revoked',
  message: 'access to this project was revoked',
});

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
      return ACCESS_REVOKED_EVENT;
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

/** The raw side of an SSE response: bytes out, with the client's buffer in view. */
export interface SseResponse {
  /** Bytes the client's buffer can still take (0 or less: full). */
  room(): number;
  write(bytes: Uint8Array | string): void;
  heartbeat(): void;
  /** Resolves once the client's buffer has drained below half of it. */
  drained(): Promise<void>;
  /** Writes the closing bytes, if any, and closes. */
  end(closing: string): void;
}

/**
 * Serves a stream of Server-Sent Events on Node's response directly. The response's own write
 * buffer is the stream's buffer: `room` is what is left of `bufferBytes`, and `drained` waits
 * until half of it is free.
 *
 * Why not a web ReadableStream: every chunk of one costs a read promise and a trip through the
 * adapter's pump before it reaches the socket, and a log stream is mostly small chunks (one
 * per stream per batch, often one line). Writing to the response directly doubled the
 * deliveries one web process sustains (npm run bench -- log-stream, docs/benchmarks.md).
 */
export function serveSse<H extends { close(): void }>(options: {
  response: ServerResponse;
  bufferBytes: number;
  open(sse: SseResponse): Promise<H> | H;
}): void {
  const { response, bufferBytes } = options;
  let handle: H | undefined;
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
  const sse: SseResponse = {
    room: () => (closed ? 0 : bufferBytes - response.writableLength),
    write(bytes) {
      if (!closed) response.write(bytes);
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
    end(closing) {
      if (closed) return;
      response.end(closing);
      close();
    },
  };
  response.writeHead(200, SSE_HEADERS);
  response.write('retry: 1000\n: connected\n\n');
  response.on('close', close);
  Promise.resolve()
    .then(() => options.open(sse))
    .then(
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

/** Serves a log stream: the hub's lines, and its closing event. */
export function serveLogStream(options: {
  response: ServerResponse;
  bufferBytes: number;
  open(sink: LogSink): Promise<StreamHandle>;
}): void {
  serveSse({
    response: options.response,
    bufferBytes: options.bufferBytes,
    open: (sse) =>
      options.open({
        room: sse.room,
        write: (lines: readonly OutgoingLine[]) =>
          sse.write(
            lines.length === 1 ? lines[0]!.bytes : Buffer.concat(lines.map((l) => l.bytes)),
          ),
        heartbeat: sse.heartbeat,
        drained: sse.drained,
        end: (reason) => sse.end(closingEvent(reason)),
      }),
  });
}
