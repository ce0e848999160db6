import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { LOG_LEVELS } from '../../core/definition.ts';
import { withTenant } from '../../db/client.ts';
import { findRunStatus } from '../../db/queries/runs.ts';
import { listRunLogs, LOGS_CHANNEL, type RunLog } from '../../db/queries/run-logs.ts';
import { RUNS_CHANNEL } from '../../db/queries/settle-step.ts';
import { AppError, notFound } from '../app-error.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { readQuery, uuidParam } from '../validate.ts';

const logId = z.string().regex(/^\d{1,19}$/, 'a log id is a non-negative integer');

const listSchema = z.object({
  level: z.enum(LOG_LEVELS).optional(),
  q: z.string().min(1).max(200).optional(),
  after: logId.optional(),
  cursor: logId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const streamSchema = z.object({
  level: z.enum(LOG_LEVELS).optional(),
  q: z.string().min(1).max(200).optional(),
  after: logId.optional(),
});

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
const PAGE = 500;

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

/** /api/runs/:id/logs and its live stream. */
export function runLogRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/:id/logs', async (c) => {
    const runId = uuidParam(c, 'id', 'run');
    const query = readQuery(c, listSchema);
    const rows = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      if (!(await findRunStatus(db, runId))) return undefined;
      return listRunLogs(db, {
        runId,
        limit: query.limit + 1,
        ...(query.level ? { level: query.level } : {}),
        ...(query.q ? { q: query.q } : {}),
        ...((query.cursor ?? query.after) ? { afterId: query.cursor ?? query.after } : {}),
      });
    });
    if (!rows) throw notFound('run');
    const items = rows.slice(0, query.limit);
    return c.json({
      items: items.map(logJson),
      next_cursor: rows.length > query.limit ? items.at(-1)!.id : null,
    });
  });

  app.get('/:id/logs/stream', async (c) => {
    const runId = uuidParam(c, 'id', 'run');
    const query = readQuery(c, streamSchema);
    const lastEventId = c.req.header('last-event-id');
    if (lastEventId !== undefined && !logId.safeParse(lastEventId).success) {
      throw new AppError('bad_request', 'Last-Event-ID must be a log id', {
        last_event_id: lastEventId,
      });
    }
    const claims = c.get('caller').claims;
    const visible = await withTenant(deps.pool, claims, (db) => findRunStatus(db, runId));
    if (!visible) throw notFound('run');
    return streamRunLogs(c, deps, {
      runId,
      claims,
      afterId: lastEventId ?? query.after ?? '0',
      ...(query.level ? { level: query.level } : {}),
      ...(query.q ? { q: query.q } : {}),
    });
  });

  return app;
}

/**
 * Server-Sent Events of one run: what exists after afterId, then new lines as their batches are
 * announced, in id order; ends with `event: end` once the run is final and every line was sent.
 * Each read runs under the caller's claims, so RLS decides what the stream may show.
 */
function streamRunLogs(
  c: Context<AppEnv>,
  deps: HttpDeps,
  options: {
    runId: string;
    claims: AppEnv['Variables']['caller']['claims'];
    afterId: string;
    level?: RunLog['level'];
    q?: string;
  },
): Response {
  const encoder = new TextEncoder();
  let lastId = options.afterId;
  let closed = false;
  let reading: Promise<void> | undefined;
  let pending = false;
  const cleanups: Array<() => void> = [];

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text));
      };
      const close = () => {
        if (closed) return;
        closed = true;
        for (const cleanup of cleanups) cleanup();
        try {
          controller.close();
        } catch {
          // already closed by the client going away
        }
      };

      // Reads until caught up. The run's status is read before its lines: a run's final status
      // commits with its last lines, so lines read after seeing "final" are all there is.
      const readAll = async (): Promise<void> => {
        for (;;) {
          const { status, lines } = await withTenant(deps.pool, options.claims, async (db) => {
            const run = await findRunStatus(db, options.runId);
            const rows = await listRunLogs(db, {
              runId: options.runId,
              afterId: lastId,
              limit: PAGE,
              ...(options.level ? { level: options.level } : {}),
              ...(options.q ? { q: options.q } : {}),
            });
            return { status: run?.status, lines: rows };
          });
          if (closed) return;
          if (status === undefined) {
            send(`event: error\ndata: ${JSON.stringify({ code: 'not_found' })}\n\n`);
            return close();
          }
          for (const line of lines) {
            send(`event: log\nid: ${line.id}\ndata: ${JSON.stringify(logJson(line))}\n\n`);
            lastId = line.id;
          }
          if (lines.length === PAGE) continue;
          if (FINAL.has(status)) {
            send(`event: end\ndata: ${JSON.stringify({ run_id: options.runId, status })}\n\n`);
            return close();
          }
          return;
        }
      };

      // Coalesces notifications: one read at a time, and one more if any arrived meanwhile.
      const refresh = () => {
        if (closed) return;
        if (reading) {
          pending = true;
          return;
        }
        reading = readAll()
          .catch((error: unknown) => {
            deps.log.warn('log stream read failed', {
              run_id: options.runId,
              error: String(error),
            });
            close();
          })
          .finally(() => {
            reading = undefined;
            if (pending) {
              pending = false;
              refresh();
            }
          });
      };

      cleanups.push(
        deps.listener.on(LOGS_CHANNEL, (payload) => {
          if (payload.includes(options.runId)) refresh();
        }),
        // A run can end without a new line; its end is announced on its own channel.
        deps.listener.on(RUNS_CHANNEL, (payload) => {
          if (payload === options.runId) refresh();
        }),
        deps.listener.onConnect(refresh),
      );
      // The heartbeat keeps proxies from closing an idle stream, and re-reads as a safety net:
      // announcements are sent after commit and die with a process that crashes in between.
      const heartbeat = setInterval(() => {
        send(': heartbeat\n\n');
        refresh();
      }, deps.sseHeartbeatMs ?? 15_000);
      cleanups.push(() => clearInterval(heartbeat));
      c.req.raw.signal.addEventListener('abort', close, { once: true });
      send(': connected\n\n');
      refresh();
    },
    cancel() {
      closed = true;
      for (const cleanup of cleanups) cleanup();
    },
  });

  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}
