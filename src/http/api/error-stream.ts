import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { nodeResponseOf, streamAccessOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { ACCESS_REVOKED_EVENT, serveSse, sseEvent } from '../sse.ts';

/**
 * GET /api/errors/stream: `event: errors` whenever errors of the project were captured (at most
 * one per 250 ms), for the errors pages to refetch on; ends with access_revoked when the
 * caller's access changes.
 */
export function errorStreamRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  app.get('/stream', (c) => {
    const access = streamAccessOf(c, deps);
    serveSse({
      response: nodeResponseOf(c),
      bufferBytes: 64 * 1024,
      open: (sse) =>
        deps.eventHub.open(
          access,
          {
            room: sse.room,
            send: ({ type, ...data }) => sse.write(sseEvent(type, data)),
            heartbeat: sse.heartbeat,
            end: (reason) => sse.end(reason.kind === 'revoked' ? ACCESS_REVOKED_EVENT : ''),
          },
          ['errors'],
        ),
    });
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
