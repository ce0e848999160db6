import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuns, logWriter } from '../helpers/log-lines.ts';
import { chain, useMeshHook } from '../helpers/meshhook.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { waitFor } from '../helpers/wait.ts';

const mh = useMeshHook();
let receiver: Receiver;
let key: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  receiver = await startReceiver();
  ({ key } = await mh.project('cli-logs'));
});
afterAll(async () => {
  // A follow left running by a failed test must not outlive the file.
  for (const child of children) child.kill('SIGKILL');
  await receiver.close();
});

/** A running `meshhook logs`, its output collected as it arrives. */
interface LogsProcess {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** The NDJSON lines printed so far, parsed. */
  lines(): any[];
  exited: Promise<number | null>;
}

// Asynchronous on purpose: the server under test runs in this process and must keep answering.
function logs(args: string[], env: Record<string, string | undefined> = {}): LogsProcess {
  const merged: NodeJS.ProcessEnv = { ...process.env, MESHHOOK_URL: mh.url, MESHHOOK_API_KEY: key };
  delete merged.FORCE_COLOR;
  delete merged.NO_COLOR;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  const child = spawn(process.execPath, ['bin/meshhook.js', 'logs', ...args], {
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const run: LogsProcess = {
    child,
    stdout: '',
    stderr: '',
    lines: () =>
      run.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l)),
    exited: once(child, 'exit').then(([code]) => code as number | null),
  };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (run.stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (run.stderr += c));
  return run;
}

async function finished(run: LogsProcess): Promise<LogsProcess & { code: number | null }> {
  const code = await run.exited;
  return Object.assign(run, { code });
}

/** Every line of a run, or of a workflow's runs, through every page of the API's list. */
async function apiLines(runId: string, workflow?: string): Promise<any[]> {
  const path = workflow ? `/api/logs?workflow=${workflow}&` : `/api/runs/${runId}/logs?`;
  const lines: any[] = [];
  let after = '';
  for (;;) {
    const page = await mh.api(key, 'GET', `${path}limit=500${after}`);
    expect(page.status).toBe(200);
    lines.push(...page.body.items);
    if (!page.body.next_cursor) return lines;
    after = `&after=${page.body.next_cursor}`;
  }
}

/** A receiver path that holds each request until `release()`. */
function gate(path: string) {
  const waiting: Array<() => void> = [];
  receiver.on(path, (_req, res) => {
    waiting.push(() => res.writeHead(200).end('ok'));
  });
  return {
    reached: () => waitFor(() => receiver.to(path).length > 0, { what: `a request to ${path}` }),
    release: () => waiting.splice(0).forEach((answer) => answer()),
  };
}

/** log, log, held http_call, log, log, log: two lines before the gate, four after it. */
function gated(slug: string, path: string) {
  return mh.publish(
    key,
    slug,
    chain(
      { id: 'one', type: 'log', config: { level: 'info', message: 'one' } },
      { id: 'two', type: 'log', config: { level: 'warn', message: 'two' } },
      {
        id: 'gate',
        type: 'http_call',
        config: { method: 'GET', url: `${receiver.url}${path}`, timeout_ms: 60_000 },
      },
      { id: 'three', type: 'log', config: { level: 'debug', message: 'three' } },
      { id: 'four', type: 'log', config: { level: 'error', message: 'four', fields: { n: 4 } } },
      { id: 'five', type: 'log', config: { level: 'info', message: 'five' } },
    ),
  );
}

describe('meshhook logs', () => {
  let runId: string;
  beforeAll(async () => {
    const { hook } = await mh.publish(
      key,
      'levels',
      chain(
        { id: 'a', type: 'log', config: { level: 'debug', message: 'one' } },
        { id: 'b', type: 'log', config: { level: 'warn', message: 'two', fields: { x: 1 } } },
        { id: 'c', type: 'log', config: { level: 'info', message: 'Three\nlines' } },
        { id: 'd', type: 'log', config: { level: 'error', message: 'four', fields: { n: 4 } } },
      ),
    );
    runId = (await mh.trigger(hook, {})).body.run_id;
    await mh.finished(key, runId);
  });

  it('--json prints exactly the API lines of a finished run, one per line, and exits 0', async () => {
    const expected = await apiLines(runId);
    expect(expected.map((l) => l.message)).toEqual(['one', 'two', 'Three\nlines', 'four']);
    const run = await finished(logs(['--run', runId, '--json']));
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(expected.map((l) => `${JSON.stringify(l)}\n`).join(''));
    expect(run.stderr).toBe('');
  });

  it('--level is that level and above, --grep a case-insensitive match on the message', async () => {
    const warn = await finished(logs(['--run', runId, '--json', '--level', 'warn']));
    expect(warn.code).toBe(0);
    expect(warn.lines().map((l) => l.message)).toEqual(['two', 'four']);
    const grep = await finished(logs(['--run', runId, '--json', '--grep', 'three']));
    expect(grep.lines().map((l) => l.message)).toEqual(['Three\nlines']);
    const both = await finished(
      logs(['--run', runId, '--json', '--level', 'error', '--grep', 'o']),
    );
    expect(both.lines().map((l) => l.message)).toEqual(['four']);
  });

  it('prints one line per log line for people, coloured only when asked', async () => {
    const plain = await finished(logs(['--run', runId]));
    expect(plain.code).toBe(0);
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}\[b\] two \{"x":1\}$/,
    );
    expect(lines[2]).toMatch(/ INFO {2}\[c\] Three\\nlines$/);
    expect(plain.stdout).not.toContain('\x1b[');

    const forced = await finished(logs(['--run', runId], { FORCE_COLOR: '1' }));
    const colored = forced.stdout.trimEnd().split('\n');
    expect(colored).toEqual([
      `\x1b[2m${lines[0]}\x1b[0m`,
      `\x1b[33m${lines[1]}\x1b[0m`,
      lines[2],
      `\x1b[31m${lines[3]}\x1b[0m`,
    ]);
    expect(lines[3]).toMatch(/ ERROR \[d\] four \{"n":4\}$/);
    const json = await finished(logs(['--run', runId, '--json'], { FORCE_COLOR: '1' }));
    expect(json.stdout).not.toContain('\x1b[');
  });

  it('pages through a run of more lines than a page holds', async () => {
    // 498 log nodes side by side, and a call that fails twice: 502 lines.
    receiver.on('/broken', (_req, res) => void res.writeHead(500).end('no'));
    const nodes = [
      { id: 'hook', type: 'webhook', config: {} },
      ...Array.from({ length: 498 }, (_, i) => ({
        id: `l${i}`,
        type: 'log',
        config: { level: 'info', message: `line ${i}` },
      })),
      {
        id: 'call',
        type: 'http_call',
        config: {
          method: 'GET',
          url: `${receiver.url}/broken`,
          retry: { max_attempts: 2, backoff_ms: 0 },
        },
      },
    ];
    const { hook } = await mh.publish(key, 'many', {
      nodes,
      edges: nodes.slice(1).map((n) => ({ from: 'hook', to: n.id })),
    });
    const many = (await mh.trigger(hook, {})).body.run_id;
    await mh.finished(key, many, 60_000);
    const expected = await apiLines(many);
    expect(expected.length).toBeGreaterThan(500);
    const run = await finished(logs(['--run', many, '--json']));
    expect(run.code).toBe(0);
    expect(run.lines()).toEqual(expected);

    // A reader that stops early (`| head -1`) ends the command quietly, with success.
    const cut = logs(['--run', many]);
    await once(cut.child.stdout!, 'data');
    cut.child.stdout!.destroy();
    expect(await cut.exited).toBe(0);
    expect(cut.stderr).toBe('');
  }, 90_000);

  it('without --run reads the project-wide list: the last 100 lines, or the last --tail N', async () => {
    const recent = await mh.api(key, 'GET', '/api/logs?tail=100');
    expect(recent.body.items).toHaveLength(100);
    const project = await finished(logs(['--json']));
    expect(project.code).toBe(0);
    expect(project.lines()).toEqual(recent.body.items);

    const all = await apiLines(runId, 'levels');
    expect(all.map((l) => l.message)).toEqual(['one', 'two', 'Three\nlines', 'four']);
    const workflow = await finished(logs(['--workflow', 'levels', '--json']));
    expect(workflow.lines()).toEqual(all);
    const tail = await finished(logs(['--workflow', 'levels', '--json', '--tail', '2']));
    expect(tail.lines()).toEqual(all.slice(-2));
    const filtered = await finished(
      logs(['--workflow', 'levels', '--json', '--level', 'warn', '--grep', 'T', '--tail', '1']),
    );
    expect(filtered.lines().map((l) => l.message)).toEqual(['two']);
    // Lines of several runs mix here, so each names its run.
    const human = await finished(logs(['--workflow', 'levels', '--tail', '1']));
    expect(human.stdout).toMatch(
      new RegExp(`Z ERROR ${runId.slice(0, 8)} \\[d\\] four \\{"n":4\\}\n$`),
    );

    const unknown = await finished(logs(['--workflow', 'nope']));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('MeshHook answered 404');
  });

  it('answers usage errors with exit code 2 and a message, before any request', async () => {
    const noKey = await finished(logs(['--run', runId], { MESHHOOK_API_KEY: undefined }));
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('MESHHOOK_API_KEY is not set');
    expect(noKey.stdout).toBe('');

    const badLevel = await finished(logs(['--run', runId, '--level', 'loud']));
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toContain('--level must be one of debug, info, warn, error');

    const badUrl = await finished(logs(['--run', runId], { MESHHOOK_URL: 'ftp://x' }));
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('MESHHOOK_URL');

    for (const args of [
      ['--run', 'nope'],
      ['--run', runId, '--tail', '5'],
      ['--tail', 'many'],
      ['--run', runId, '--workflow', 'levels'],
      ['extra'],
    ]) {
      const result = await finished(logs(args));
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
    }
  });

  it('stops with exit code 1 and the API message when the key is refused', async () => {
    for (const follow of [[], ['--follow']]) {
      const refused = await finished(
        logs(['--run', runId, ...follow], { MESHHOOK_API_KEY: 'mh_not_a_key' }),
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('MeshHook answered 401');
      expect(refused.stderr).not.toContain('reconnecting');
    }
    const unknown = await finished(logs(['--run', crypto.randomUUID(), '--follow']));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('MeshHook answered 404');
  });
});

describe('meshhook logs --follow', () => {
  it('prints the lines so far, then the later ones as they come, and exits 0 at the end', async () => {
    const held = gate('/follow');
    const { hook } = await gated('follow', '/follow');
    const runId = (await mh.trigger(hook, {})).body.run_id;
    await held.reached();

    const run = logs(['--run', runId, '--follow', '--json']);
    await waitFor(() => run.lines().length === 2, { what: 'the lines before the gate' });
    expect(run.lines().map((l) => l.message)).toEqual(['one', 'two']);
    expect(run.child.exitCode).toBeNull();

    held.release();
    expect(await run.exited).toBe(0);
    expect(run.lines()).toEqual(await apiLines(runId));
    expect(run.lines().map((l) => l.message)).toEqual([
      'one',
      'two',
      `GET ${receiver.url}/follow → 200`,
      'three',
      'four',
      'five',
    ]);
  });

  it('exits 0 on SIGINT', async () => {
    const held = gate('/interrupt');
    const { hook } = await gated('interrupt', '/interrupt');
    const runId = (await mh.trigger(hook, {})).body.run_id;
    await held.reached();
    const run = logs(['--run', runId, '--follow']);
    await waitFor(() => run.stdout.split('\n').length > 2, { what: 'the first lines' });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    held.release();
  });

  it('follows a workflow project-wide: its last lines, then live ones of its runs only', async () => {
    const held = gate('/wide');
    const { hook } = await gated('wide', '/wide');
    const { hook: other } = await mh.publish(
      key,
      'other',
      chain({ id: 'noise', type: 'log', config: { level: 'error', message: 'elsewhere' } }),
    );
    const first = (await mh.trigger(hook, {})).body.run_id;
    await held.reached();

    const run = logs(['--workflow', 'wide', '--follow', '--json']);
    await waitFor(() => run.lines().length === 2, { what: 'the backlog' });
    held.release();
    await mh.finished(key, first);
    await mh.finished(key, (await mh.trigger(other, {})).body.run_id);
    const second = (await mh.trigger(hook, {})).body.run_id;
    await waitFor(() => receiver.to('/wide').length === 2, { what: 'the second run at the gate' });
    held.release();
    await mh.finished(key, second);
    await waitFor(() => run.lines().length >= 12, { what: 'the lines of both runs' });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    const expected = await apiLines(first, 'wide');
    expect(expected).toHaveLength(12);
    expect(run.lines()).toEqual(expected);
    expect(new Set(run.lines().map((l) => l.run_id))).toEqual(new Set([first, second]));
  });

  for (const scope of ['run', 'workflow'] as const) {
    it(`reconnects after dropped connections and a 503, no line lost or printed twice (${scope})`, async () => {
      const proxy = await startProxy(mh.url);
      try {
        const path = `/reconnect-${scope}`;
        const slug = `reconnect-${scope}`;
        const held = gate(path);
        const { hook } = await gated(slug, path);
        const runId = (await mh.trigger(hook, {})).body.run_id;
        await held.reached();

        const args = scope === 'run' ? ['--run', runId] : ['--workflow', slug];
        const run = logs([...args, '--follow', '--json'], { MESHHOOK_URL: proxy.url });
        await waitFor(() => run.lines().length === 2, { what: 'the lines before the gate' });
        const seen = run.lines();

        // Cut the stream, and refuse the reconnections while the run writes its other lines.
        proxy.mode = 'refuse';
        proxy.drop();
        await waitFor(() => proxy.refused >= 2, { what: 'refused reconnections' });
        held.release();
        await mh.finished(key, runId);
        proxy.mode = 'unavailable';
        await waitFor(() => proxy.unavailable >= 1, { what: 'a 503 answer' });
        proxy.mode = 'pass';

        if (scope === 'run') {
          expect(await run.exited).toBe(0);
        } else {
          // A project-wide stream has no end: stop it once every line arrived.
          await waitFor(() => run.lines().length >= 6, { what: 'the lines after the gate' });
          run.child.kill('SIGINT');
          expect(await run.exited).toBe(0);
        }
        const expected = await apiLines(runId);
        expect(expected).toHaveLength(6);
        expect(run.lines()).toEqual(expected);
        expect(run.stderr).toContain('reconnecting');
        expect(run.stderr).toContain('MeshHook answered 503');
        // The stream resumed after the last line printed.
        const streams = proxy.requests.filter((r) => /^GET \S*\/logs\/stream/.test(r));
        expect(streams.length).toBeGreaterThanOrEqual(2);
        expect(streams[0]).not.toMatch(/last-event-id/i);
        expect(streams.at(-1)).toMatch(new RegExp(`\\r\\nlast-event-id: ${seen[1].id}\\r\\n`, 'i'));
      } finally {
        await proxy.close();
      }
    });
  }
});

/**
 * A TCP proxy to the server under test: passes connections through, or refuses them, or answers
 * 503 itself; `drop()` cuts every connection it carries.
 */
async function startProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const upstreams = new Map<Socket, Socket>();
  let stalled = false;
  const state = {
    mode: 'pass' as 'pass' | 'refuse' | 'unavailable',
    refused: 0,
    unavailable: 0,
    /** The first bytes each passed connection sent: its request line and headers. */
    requests: [] as string[],
  };
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (state.mode === 'refuse') {
      state.refused++;
      client.destroy();
      return;
    }
    if (state.mode === 'unavailable') {
      state.unavailable++;
      const body = '{"error":{"code":"service_unavailable","message":"restarting"}}';
      client.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(upstream);
    client.once('data', (chunk: Buffer) => state.requests.push(chunk.toString('latin1')));
    client.pipe(upstream);
    upstreams.set(upstream, client);
    if (!stalled) upstream.pipe(client);
    const end = () => {
      upstreams.delete(upstream);
      client.destroy();
      upstream.destroy();
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${address.port}`,
    drop: () => sockets.forEach((s) => s.destroy()),
    /** Stops passing the server's bytes on: the client seems to read nothing. */
    stall() {
      stalled = true;
      for (const [upstream, client] of upstreams) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    /** Passes the server's bytes on again. */
    flow() {
      stalled = false;
      for (const [upstream, client] of upstreams) upstream.pipe(client);
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  });
}

describe('meshhook logs --follow behind a small stream buffer', () => {
  // A client that stops reading fills the server's buffer for it, and its stream lags.
  const small = useMeshHook({
    roles: { web: true, worker: false },
    env: { MESHHOOK_LOG_STREAM_BUFFER_BYTES: '4096' },
  });

  it('resumes after `event: lagged` with no line lost or printed twice', async () => {
    const { id: projectId, key: smallKey } = await small.project('lagged');
    const { id: workflowId } = await small.publish(
      smallKey,
      'lagged',
      chain({ id: 'say', type: 'log', config: { level: 'info', message: 'x' } }),
    );
    const [run] = await createRuns(small.db.pool, { projectId, workflowId, count: 1 });
    const writer = logWriter(small.db.pool);
    const proxy = await startProxy(small.url);
    try {
      const follow = logs(['--run', run!.runId, '--follow', '--json'], {
        MESHHOOK_URL: proxy.url,
        MESHHOOK_API_KEY: smallKey,
      });
      await writer.write(run!, [{ message: 'first' }]);
      await waitFor(() => follow.lines().length === 1, { what: 'the first line' });

      // The client reads nothing more; write until the server gives up on its stream.
      proxy.stall();
      const hub = small.running.logHub!;
      const message = `flood ${'z'.repeat(2048)}`;
      const deadline = Date.now() + 20_000;
      while (!hub.lagged && Date.now() < deadline) {
        await writer.write(
          run!,
          Array.from({ length: 16 }, () => ({ message })),
        );
      }
      expect(hub.lagged).toBeGreaterThan(0);
      proxy.flow();
      await writer.write(run!, [{ message: 'last' }]);

      const expected: any[] = [];
      for (let after = '0'; ;) {
        const page = await small.api(
          smallKey,
          'GET',
          `/api/runs/${run!.runId}/logs?limit=500&after=${after}`,
        );
        expected.push(...page.body.items);
        if (!page.body.next_cursor) break;
        after = page.body.next_cursor;
      }
      await waitFor(() => follow.lines().length >= expected.length, {
        what: 'every line',
        timeoutMs: 20_000,
      });
      follow.child.kill('SIGINT');
      expect(await follow.exited).toBe(0);
      expect(follow.lines().map((l) => l.id)).toEqual(expected.map((l) => l.id));
      expect(follow.stderr).toContain('the stream fell behind; reconnecting');
    } finally {
      await proxy.close();
    }
  });
});
