import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { hashPassword } from '../../src/core/password.ts';
import { maintainLogPartitions } from '../../src/db/queries/housekeeping.ts';
import { addMember, insertUser } from '../../src/db/queries/accounts.ts';
import { silentLog } from '../../src/engine/process-log.ts';
import { startProcess } from '../../src/server.ts';
import { createRuns, logWriter, type RunRef } from '../helpers/log-lines.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { sessionClient } from '../helpers/session.ts';
import { openSse, type SseReader } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

// Web only: runs stay as created, and the lines are written here, as the engine writes them.
const BUFFER_BYTES = 64 * 1024;
const mh = useMeshHook({
  roles: { web: true, worker: false },
  env: { MESHHOOK_LOG_STREAM_BUFFER_BYTES: String(BUFFER_BYTES), MESHHOOK_SSE_HEARTBEAT_MS: '200' },
});

interface Project {
  id: string;
  key: string;
  workflows: Array<{ id: string; slug: string }>;
  runs: RunRef[];
}
let a: Project;
let b: Project;
let writer: ReturnType<typeof logWriter>;

async function setUpProject(name: string): Promise<Project> {
  const { id, key } = await mh.project(name);
  const workflows = [];
  const runs: RunRef[] = [];
  for (const slug of ['orders', 'refunds']) {
    const definition = chain({ id: 'say', type: 'log', config: { level: 'info', message: 'x' } });
    const published = await mh.publish(key, slug, definition);
    workflows.push({ id: published.id, slug });
    runs.push(
      ...(await createRuns(mh.db.pool, { projectId: id, workflowId: published.id, count: 2 })),
    );
  }
  return { id, key, workflows, runs };
}

beforeAll(async () => {
  writer = logWriter(mh.db.pool);
  a = await setUpProject('alpha');
  b = await setUpProject('beta');
});

const bearer = (p: Project) => ({ authorization: `Bearer ${p.key}` });
const logsOf = (stream: SseReader) => stream.events.filter((e) => e.event === 'log');
const idsOf = (stream: SseReader) => logsOf(stream).map((e) => e.id!);

/** Every stored line of a project, oldest first, read straight from the table. */
async function storedLines(projectId: string) {
  const { rows } = await mh.db.pool.query(
    `select l.id::text as id, run_id, workflow_id, level, message from meshhook.run_logs l
     where project_id = $1 order by l.id`,
    [projectId],
  );
  return rows as Array<{
    id: string;
    run_id: string;
    workflow_id: string;
    level: string;
    message: string;
  }>;
}

/** A mix of levels and messages for one run; every fifth line mentions a needle. */
function mixedLines(tag: string, count: number) {
  const levels = ['debug', 'info', 'info', 'warn', 'error'] as const;
  return Array.from({ length: count }, (_, i) => ({
    level: levels[i % levels.length]!,
    message: i % 5 === 2 ? `${tag} line ${i} found the NeEdLe` : `${tag} line ${i}`,
  }));
}

describe('GET /api/logs/stream', () => {
  it('sends the tail, then live lines in id order, each filter exact, while writers race', async () => {
    await writer.write(a.runs[0]!, mixedLines('before', 5));
    const [orders] = a.workflows;
    const url = (query: string) => `${mh.url}/api/logs/stream?${query}`;
    const streams = {
      all: await openSse(url(''), bearer(a)),
      warn: await openSse(url('level=warn'), bearer(a)),
      needle: await openSse(url('q=needle'), bearer(a)),
      orders: await openSse(url(`workflow=${orders!.slug}`), bearer(a)),
      run: await openSse(url(`run=${a.runs[3]!.runId}&level=info`), bearer(a)),
      combined: await openSse(url(`workflow=${orders!.id}&level=warn&q=LINE 3`), bearer(a)),
    };
    for (const stream of Object.values(streams)) expect(stream.status).toBe(200);
    await waitFor(() => streams.all.events.filter((e) => e.event === 'log').length === 5);

    // Four writers at once, each over its own run, several batches each.
    await Promise.all(
      a.runs.map(async (run, i) => {
        for (let batch = 0; batch < 4; batch++) {
          await writer.write(run, mixedLines(`w${i}b${batch}`, 7));
        }
      }),
    );
    const stored = await storedLines(a.id);
    expect(stored).toHaveLength(5 + 4 * 4 * 7);
    const rank = { debug: 0, info: 1, warn: 2, error: 3 } as Record<string, number>;
    const expected = {
      all: stored,
      warn: stored.filter((l) => rank[l.level]! >= 2),
      needle: stored.filter((l) => l.message.toLowerCase().includes('needle')),
      orders: stored.filter((l) => l.workflow_id === orders!.id),
      run: stored.filter((l) => l.run_id === a.runs[3]!.runId && l.level !== 'debug'),
      combined: stored.filter(
        (l) => l.workflow_id === orders!.id && rank[l.level]! >= 2 && l.message.includes('line 3'),
      ),
    };
    for (const [name, stream] of Object.entries(streams)) {
      const want = expected[name as keyof typeof expected].map((l) => l.id);
      expect(want.length, name).toBeGreaterThan(0);
      await waitFor(() => logsOf(stream).length >= want.length, { what: `${name} lines` });
      // Let any extra (wrong) line arrive before comparing.
      await new Promise((r) => setTimeout(r, 100));
      expect(idsOf(stream), name).toEqual(want);
      stream.close();
    }
    const line = JSON.parse(logsOf(streams.all).at(-1)!.data);
    expect(line).toEqual({
      id: stored.at(-1)!.id,
      run_id: stored.at(-1)!.run_id,
      workflow_id: stored.at(-1)!.workflow_id,
      node_id: 'writer',
      ts: expect.any(String),
      level: stored.at(-1)!.level,
      message: stored.at(-1)!.message,
      fields: {},
    });
  });

  it('never gives a subscriber of one project a line of another, with both writing at once', async () => {
    const streamA = await openSse(`${mh.url}/api/logs/stream?tail=0`, bearer(a));
    const streamB = await openSse(`${mh.url}/api/logs/stream?tail=0`, bearer(b));
    // B's key cannot name A's run or workflow either: they do not exist for it.
    const foreign = await mh.api(b.key, 'GET', `/api/logs/stream?run=${a.runs[0]!.runId}`);
    expect(foreign.status).toBe(404);
    const before = { a: (await storedLines(a.id)).length, b: (await storedLines(b.id)).length };
    await Promise.all(
      [...a.runs, ...b.runs].map(async (run) => {
        for (let batch = 0; batch < 3; batch++) await writer.write(run, mixedLines('iso', 10));
      }),
    );
    const storedA = (await storedLines(a.id)).slice(before.a).map((l) => l.id);
    const storedB = (await storedLines(b.id)).slice(before.b).map((l) => l.id);
    await waitFor(
      () => logsOf(streamA).length >= storedA.length && logsOf(streamB).length >= storedB.length,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(idsOf(streamA)).toEqual(storedA);
    expect(idsOf(streamB)).toEqual(storedB);
    const bRuns = new Set(b.runs.map((r) => r.runId));
    expect(logsOf(streamB).every((e) => bRuns.has(JSON.parse(e.data).run_id))).toBe(true);
    streamA.close();
    streamB.close();
  });

  it('holds back a line whose id was drawn after one still uncommitted, then sends both in order', async () => {
    const stream = await openSse(
      `${mh.url}/api/runs/${a.runs[0]!.runId}/logs/stream?q=race`,
      bearer(a),
    );
    const first = await mh.db.pool.connect();
    const second = await mh.db.pool.connect();
    const insert = (client: typeof first, message: string) =>
      client.query<{ id: string }>(
        `insert into meshhook.run_logs (project_id, run_id, workflow_id, level, message)
         values ($1, $2, $3, 'info', $4) returning id::text`,
        [a.id, a.runs[0]!.runId, a.runs[0]!.workflowId, message],
      );
    try {
      await first.query('begin');
      const low = (await insert(first, 'race low')).rows[0]!.id;
      await second.query('begin');
      const high = (await insert(second, 'race high')).rows[0]!.id;
      expect(BigInt(high)).toBeGreaterThan(BigInt(low));
      await second.query('commit');
      await writer.flush();
      await mh.db.pool.query(`select pg_notify('meshhook_logs', '[]')`);
      // The hub looks again and again while `first` runs; it must not hand out `high` yet.
      await new Promise((r) => setTimeout(r, 400));
      expect(idsOf(stream)).toEqual([]);
      await first.query('commit');
      await mh.db.pool.query(`select pg_notify('meshhook_logs', '[]')`);
      await stream.waitFor(2, 'log');
      expect(idsOf(stream)).toEqual([low, high]);
    } finally {
      first.release();
      second.release();
      stream.close();
    }
  });
});

describe('resuming', () => {
  it('gets exactly the missed lines after Last-Event-ID, across a restart of the web process', async () => {
    const run = a.runs[1]!;
    const startWeb = () =>
      startProcess({
        config: loadConfig({ DATABASE_URL: mh.db.url, PORT: '0', HOST: '127.0.0.1' }),
        roles: { web: true, worker: false },
        log: silentLog,
      });
    const streamUrl = (base: string) => `${base}/api/runs/${run.runId}/logs/stream?q=resume`;

    const first = await startWeb();
    const stream = await openSse(streamUrl(first.url!), bearer(a));
    const early = await writer.write(run, mixedLines('resume early', 6));
    await stream.waitFor(6, 'log');
    expect(idsOf(stream)).toEqual(early);
    await first.stop();
    await stream.ended;

    const missed = await writer.write(run, mixedLines('resume missed', 4));
    const second = await startWeb();
    try {
      const resumed = await openSse(streamUrl(second.url!), {
        ...bearer(a),
        'last-event-id': early.at(-1)!,
      });
      await resumed.waitFor(4, 'log');
      const live = await writer.write(run, mixedLines('resume live', 3));
      await resumed.waitFor(7, 'log');
      await new Promise((r) => setTimeout(r, 100));
      expect(idsOf(resumed)).toEqual([...missed, ...live]);
      resumed.close();

      // ?after= does the same without the header, here on the first process's successor.
      const after = await openSse(`${streamUrl(second.url!)}&after=${missed[1]}`, bearer(a));
      await after.waitFor(5, 'log');
      expect(idsOf(after)).toEqual([...missed.slice(2), ...live]);
      after.close();
    } finally {
      await second.stop();
    }
  });
});

describe('access', () => {
  it('closes the stream of a revoked key within 5 s', async () => {
    const created = await mh.api(a.key, 'POST', `/api/projects/${a.id}/api-keys`, {
      name: 'soon revoked',
      role: 'viewer',
    });
    expect(created.status).toBe(201);
    const stream = await openSse(`${mh.url}/api/logs/stream`, {
      authorization: `Bearer ${created.body.key}`,
    });
    await writer.write(a.runs[2]!, [{ message: 'seen before revocation' }]);
    await waitFor(() =>
      logsOf(stream).some((e) => JSON.parse(e.data).message.includes('seen before')),
    );
    const revoked = await mh.api(
      a.key,
      'DELETE',
      `/api/projects/${a.id}/api-keys/${created.body.id}`,
    );
    expect(revoked.status).toBeLessThan(300);
    const start = Date.now();
    await stream.ended;
    expect(Date.now() - start).toBeLessThan(5_000);
    const last = stream.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ code: 'access_revoked' });
  });

  it('closes a browser session stream (project in the query) when the member is removed', async () => {
    const password = 'a long enough password';
    const user = await insertUser(mh.db.pool, {
      email: 'watcher@example.com',
      passwordHash: await hashPassword(password),
    });
    await addMember(mh.db.pool, { projectId: a.id, userId: user.id, role: 'viewer' });
    const browser = sessionClient(mh.url);
    const signedIn = await browser.enter('/api/auth/login', {
      email: 'watcher@example.com',
      password,
    });
    expect(signedIn.status).toBe(200);
    const cookie = browser.setCookie.map((c) => c.split(';')[0]).join('; ');
    const stream = await openSse(`${mh.url}/api/logs/stream?project=${a.id}&tail=1`, { cookie });
    expect(stream.status).toBe(200);
    await stream.waitFor(1, 'log');

    const removed = await mh.api(a.key, 'DELETE', `/api/projects/${a.id}/members/${user.id}`);
    expect(removed.status).toBeLessThan(300);
    const start = Date.now();
    await stream.ended;
    expect(Date.now() - start).toBeLessThan(5_000);
    expect(stream.events.at(-1)!.event).toBe('error');
  });
});

/** Opens a stream on a raw socket and collects its bytes (comments included). */
async function rawStream(path: string, key: string) {
  const { port } = new URL(mh.url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
      `authorization: Bearer ${key}\r\naccept: text/event-stream\r\n\r\n`,
  );
  const raw = { socket, received: '' };
  socket.on('data', (chunk: Buffer) => (raw.received += chunk.toString('utf8')));
  await waitFor(() => raw.received.includes(': connected'));
  return raw;
}

describe('an idle stream', () => {
  it('gets heartbeat comments, so proxies keep it open', async () => {
    const raw = await rawStream(`/api/logs/stream?tail=0`, a.key);
    await waitFor(() => raw.received.match(/^: heartbeat$/gm)?.length === 2, { timeoutMs: 3_000 });
    expect(raw.received).toMatch(/^retry: 1000$/m);
    expect(raw.received).not.toMatch(/^event: log$/m);
    raw.socket.destroy();
  });
});

describe('a slow reader', () => {
  it('gets `lagged` past its buffer, and the server holds no more than that for it', async () => {
    const run = a.runs[2]!;
    const raw = await rawStream(`/api/runs/${run.runId}/logs/stream?q=flood`, a.key);
    const { socket } = raw;
    socket.pause(); // and read nothing more

    const hub = mh.running.logHub!;
    const open = hub.size;
    const rssBefore = process.memoryUsage().rss;
    // Up to 24 MiB of lines, 48 KiB a batch (within the buffer): past what the sockets hold.
    const message = `flood ${'x'.repeat(3 * 1024)}`;
    let written = 0;
    const deadline = Date.now() + 20_000;
    while (hub.size === open && Date.now() < deadline && written < 8 * 1024) {
      await writer.write(
        run,
        Array.from({ length: 16 }, () => ({ message })),
      );
      written += 16;
    }
    await waitFor(() => hub.size === open - 1, { what: 'the slow stream to be dropped' });
    const grown = process.memoryUsage().rss - rssBefore;

    socket.resume();
    await new Promise((resolve) => socket.once('end', resolve));
    socket.destroy();
    const received = raw.received.replace(/^: heartbeat\n\n/gm, '');
    // The body is chunked; the events sit whole inside the chunks.
    const lagged = /^event: lagged\ndata: (.*)$/m.exec(received);
    expect(lagged).not.toBeNull();
    const lastSent = [...received.matchAll(/^id: (\d+)$/gm)].at(-1)![1];
    expect(JSON.parse(lagged![1]!).last_id).toBe(lastSent);
    // It got only part of what was written: the rest stayed in the table, to resume from.
    const got = [...received.matchAll(/^event: log$/gm)].length;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(written);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('a reader that keeps up', () => {
  it('takes a burst larger than its buffer in one go, without lagging', async () => {
    const run = a.runs[3]!;
    const stream = await openSse(`${mh.url}/api/runs/${run.runId}/logs/stream?q=burst`, bearer(a));
    await stream.waitFor(0);
    // 256 lines of 1 KiB in one transaction: four times the buffer.
    const message = `burst ${'y'.repeat(1024)}`;
    const ids = await writer.write(
      run,
      Array.from({ length: 256 }, () => ({ message })),
    );
    await stream.waitFor(256, 'log');
    expect(idsOf(stream)).toEqual(ids);
    expect(stream.events.some((e) => e.event === 'lagged')).toBe(false);
    stream.close();
  });
});

describe('retention', () => {
  it('drops whole daily partitions past the retention and keeps the days ahead ready', async () => {
    // An earlier 'today', so the real partitions of these tests stay out of it.
    const today = new Date('2026-01-15T12:00:00Z');
    const partitions = async () =>
      (
        await mh.db.pool.query<{ name: string }>(
          `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
           where i.inhparent = 'meshhook.run_logs'::regclass order by 1`,
        )
      ).rows.map((r) => r.name);
    const linesBefore = (await storedLines(a.id)).length;
    const run = b.runs[0]!;
    // A line of a day that has no partition yet waits in the default partition.
    await writer.write(run, [{ message: 'from the future', ts: new Date('2026-01-16T08:00:00Z') }]);
    await writer.write(run, [{ message: 'old', ts: new Date('2026-01-01T08:00:00Z') }]);
    const first = await maintainLogPartitions(mh.db.pool, { retentionDays: 30, today });
    expect(first.created).toBe(9); // yesterday to a week ahead
    const names = await partitions();
    expect(names).toEqual(expect.arrayContaining(['run_logs_20260114', 'run_logs_20260122']));
    const moved = await mh.db.pool.query(
      `select tableoid::regclass::text as part from meshhook.run_logs where message = 'from the future'`,
    );
    expect(moved.rows).toEqual([{ part: 'run_logs_20260116' }]);

    // Forty days on: everything before 2026-01-25 goes, partitions and default rows alike.
    const later = await maintainLogPartitions(mh.db.pool, {
      retentionDays: 30,
      today: new Date('2026-02-24T01:00:00Z'),
    });
    expect(later.dropped).toBe(9);
    const left = await partitions();
    expect(left.filter((n) => n >= 'run_logs_20260114' && n < 'run_logs_20260125')).toEqual([]);
    expect(left).toContain('run_logs_20260303');
    const old = await mh.db.pool.query(
      `select message from meshhook.run_logs where message in ('old', 'from the future')`,
    );
    expect(old.rows).toEqual([]);
    // The lines of the real today are untouched.
    expect(await storedLines(a.id)).toHaveLength(linesBefore);
  });
});

describe('bad parameters', () => {
  it('answers 400 for an unknown level, a malformed id or tail, 404 for unknown names', async () => {
    const run = a.runs[0]!.runId;
    for (const path of [
      '/api/logs/stream?level=loud',
      '/api/logs/stream?after=12abc',
      '/api/logs/stream?tail=-1',
      '/api/logs/stream?run=not-a-uuid',
      '/api/logs?level=verbose',
      '/api/logs?after=-1',
      `/api/runs/${run}/logs/stream?level=trace`,
      `/api/runs/${run}/logs/stream?after=x`,
    ]) {
      const answer = await mh.api(a.key, 'GET', path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.code, path).toBe('bad_request');
    }
    const badHeader = await fetch(`${mh.url}/api/logs/stream`, {
      headers: { ...bearer(a), 'last-event-id': '1e9' },
    });
    expect(badHeader.status).toBe(400);
    await badHeader.body?.cancel();
    for (const path of ['/api/logs/stream?workflow=nope', `/api/logs?run=${b.runs[0]!.runId}`]) {
      expect((await mh.api(a.key, 'GET', path)).status, path).toBe(404);
    }
  });
});

describe('GET /api/logs', () => {
  it('lists a project’s lines with the same filters, paged, or its last lines with tail', async () => {
    const stored = (await storedLines(b.id)).filter((l) => l.level === 'error');
    const first = await mh.api(b.key, 'GET', '/api/logs?level=error&limit=3');
    expect(first.body.items.map((l: any) => l.id)).toEqual(stored.slice(0, 3).map((l) => l.id));
    const next = await mh.api(
      b.key,
      'GET',
      `/api/logs?level=error&limit=3&cursor=${first.body.next_cursor}`,
    );
    expect(next.body.items.map((l: any) => l.id)).toEqual(stored.slice(3, 6).map((l) => l.id));
    const tail = await mh.api(b.key, 'GET', '/api/logs?level=error&tail=2');
    expect(tail.body.items.map((l: any) => l.id)).toEqual(stored.slice(-2).map((l) => l.id));
  });
});
