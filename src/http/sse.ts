import type { RunLog } from '../db/queries/run-logs.ts';
import type { LogSink, OutgoingLine, StreamEnd, StreamHandle } from '../engine/log-hub.ts';

const encoder = new TextEncoder();

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
  return encoder.encode(sseEvent('log', logJson(log), log.id));
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

/**
 * An SSE response fed by a log stream. The response's queue is the stream's buffer: it holds
 * about `bufferBytes` the client has not read yet (the hub ends a live stream whose buffer is
 * full with `event: lagged`), and backlog pages wait until half of it is free.
 */
export function logStreamResponse(options: {
  bufferBytes: number;
  signal: AbortSignal;
  open(sink: LogSink): Promise<StreamHandle>;
}): Response {
  const { bufferBytes } = options;
  let handle: StreamHandle | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  const roomy = (controller: ReadableStreamDefaultController<Uint8Array>) =>
    (controller.desiredSize ?? 0) >= bufferBytes / 2;

  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const enqueue = (text: string) => {
          if (!closed && text) controller.enqueue(encoder.encode(text));
        };
        const close = () => {
          if (closed) return;
          closed = true;
          handle?.close();
          wake?.();
          try {
            controller.close();
          } catch {
            // the client went away first
          }
        };
        const sink: LogSink = {
          room: () => (closed ? 0 : Math.max(0, controller.desiredSize ?? 0)),
          write(lines: readonly OutgoingLine[]) {
            if (closed) return;
            controller.enqueue(
              lines.length === 1 ? lines[0]!.bytes : Buffer.concat(lines.map((l) => l.bytes)),
            );
          },
          heartbeat: () => enqueue(': heartbeat\n\n'),
          drained: () =>
            closed || roomy(controller)
              ? Promise.resolve()
              : new Promise<void>((resolve) => (wake = resolve)),
          end(reason) {
            enqueue(closingEvent(reason));
            close();
          },
        };
        enqueue('retry: 1000\n: connected\n\n');
        options.signal.addEventListener('abort', close, { once: true });
        options.open(sink).then(
          (opened) => {
            handle = opened;
            if (closed) opened.close();
          },
          () => close(),
        );
      },
      pull(controller) {
        if (wake && roomy(controller)) {
          const resolve = wake;
          wake = undefined;
          resolve();
        }
      },
      cancel() {
        closed = true;
        handle?.close();
        wake?.();
      },
    },
    { highWaterMark: bufferBytes, size: (chunk) => chunk.byteLength },
  );

  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}
