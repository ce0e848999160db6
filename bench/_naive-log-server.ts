// The log-stream benchmark's baseline: log streaming as the naive design does it, in the way of
// Supabase's Postgres Changes. A per-row trigger sends one NOTIFY per line inside the writing
// transaction; the server LISTENs on one connection and, for every notification, runs one
// authorised query per subscriber (withTenant under the subscriber's claims, the same RLS path
// as the API) and sends the line when the query returns it. Same SSE format as MeshHook's.
//
//   node bench/_naive-log-server.ts        (DATABASE_URL, PORT; started by bench/log-stream.ts)
import http from 'node:http';
import pg from 'pg';
import { LOG_LEVELS, type LogLevel } from '../src/core/definition.ts';
import { createPool, withTenant, type Claims } from '../src/db/client.ts';
import { authenticateApiKey } from '../src/db/queries/projects.ts';

const CHANNEL = 'bench_naive_logs';

/** Installs the per-line notify trigger on run_logs (for the baseline phase only). */
export async function installNaiveTrigger(pool: pg.Pool): Promise<void> {
  await pool.query(`
    create or replace function bench_naive_notify() returns trigger
    language plpgsql as $$
    begin
      perform pg_notify('${CHANNEL}', new.id::text);
      return null;
    end
    $$;
    create trigger bench_naive_notify after insert on run_logs
      for each row execute function bench_naive_notify();`);
}

/** Removes the trigger again. */
export async function dropNaiveTrigger(pool: pg.Pool): Promise<void> {
  await pool.query(`
    drop trigger if exists bench_naive_notify on run_logs;
    drop function if exists bench_naive_notify();`);
}

interface Subscriber {
  response: http.ServerResponse;
  claims: Claims;
  runId: string | null;
  workflowId: string | null;
  levels: LogLevel[] | null;
  q: string | null;
  /** Position in the notified ids of the next line to check. */
  cursor: number;
  running: boolean;
  closed: boolean;
}

async function serve(): Promise<void> {
  const connectionString = process.env.DATABASE_URL!;
  const pool = createPool({
    connectionString,
    max: Number(process.env.MESHHOOK_DB_POOL_SIZE ?? 10),
  });
  // Every id notified so far, in order; each subscriber walks it with its own cursor.
  const notified: string[] = [];
  const idle = new Set<Subscriber>();
  let queries = 0;

  const follow = async (s: Subscriber) => {
    s.running = true;
    idle.delete(s);
    try {
      while (!s.closed && s.cursor < notified.length) {
        const id = notified[s.cursor++]!;
        queries++;
        const row = await withTenant(pool, s.claims, async (db) => {
          const { rows } = await db.query<{
            id: string;
            run_id: string;
            workflow_id: string;
            node_id: string | null;
            ts: Date;
            level: LogLevel;
            message: string;
            fields: Record<string, unknown>;
          }>(
            `select id, run_id, workflow_id, node_id, ts, level, message, fields
             from run_logs
             where id = $1::bigint
               and ($2::uuid is null or run_id = $2::uuid)
               and ($3::uuid is null or workflow_id = $3::uuid)
               and ($4::text[] is null or level = any($4::text[]))
               and ($5::text is null or message ilike '%' || $5 || '%')`,
            [id, s.runId, s.workflowId, s.levels, s.q],
          );
          return rows[0];
        });
        if (row && !s.closed) {
          const data = JSON.stringify({
            id: row.id,
            run_id: row.run_id,
            workflow_id: row.workflow_id,
            node_id: row.node_id,
            ts: row.ts.toISOString(),
            level: row.level,
            message: row.message,
            fields: row.fields,
          });
          s.response.write(`event: log\nid: ${row.id}\ndata: ${data}\n\n`);
        }
      }
    } catch (error) {
      process.stderr.write(`naive log server: ${String(error)}\n`);
      s.closed = true;
      s.response.destroy();
    }
    s.running = false;
    if (!s.closed) idle.add(s);
  };

  const listener = new pg.Client({ connectionString, application_name: 'bench-naive-listener' });
  await listener.connect();
  listener.on('notification', (message) => {
    notified.push(message.payload ?? '');
    for (const s of idle) void follow(s);
  });
  await listener.query(`listen ${CHANNEL}`);

  const server = http.createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
      else response.destroy();
    });
  });

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/readyz') return void response.writeHead(200).end('ok');
    if (url.pathname === '/stats') {
      return void response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ notifications: notified.length, queries }));
    }
    const run = /^\/api\/runs\/([0-9a-f-]{36})\/logs\/stream$/.exec(url.pathname);
    if (!run && url.pathname !== '/api/logs/stream') return void response.writeHead(404).end();
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const key = match ? await authenticateApiKey(pool, match[1]!) : undefined;
    if (!key) return void response.writeHead(401).end();
    const level = url.searchParams.get('level');
    if (level !== null && !LOG_LEVELS.includes(level as LogLevel))
      return void response.writeHead(400).end();
    const q = url.searchParams.get('q');
    const s: Subscriber = {
      response,
      claims: { key_id: key.id, role: key.role },
      runId: run ? run[1]! : null,
      workflowId: url.searchParams.get('workflow'),
      levels: level ? LOG_LEVELS.slice(LOG_LEVELS.indexOf(level as LogLevel)) : null,
      q: q ? q.replace(/[\\%_]/g, (c) => `\\${c}`) : null,
      cursor: notified.length,
      running: false,
      closed: false,
    };
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
    });
    response.write('retry: 1000\n\n: connected\n\n');
    idle.add(s);
    response.on('close', () => {
      s.closed = true;
      idle.delete(s);
    });
  };

  server.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) await serve();
