// Engine throughput: N webhooks through a three-step workflow with two worker processes, next
// to a baseline of N bare single-row inserts at the same concurrency on the same server.
//
//   npm run bench -- engine            (BENCH_RUNS=2000 BENCH_CONCURRENCY=32 by default)
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type pg from 'pg';
import { Agent, request } from 'undici';
import { createPool, withTransaction } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createApiKey, createProject } from '../src/db/queries/projects.ts';
import { benchDatabase } from './_database.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const WORKER_CONCURRENCY = process.env.BENCH_WORKER_CONCURRENCY ?? '32';

const definition = {
  nodes: [
    { id: 'hook', type: 'webhook', config: {} },
    {
      id: 'shape',
      type: 'transform',
      config: { expression: '{id: trigger.body.id, total: sum(trigger.body.items)}' },
    },
    {
      id: 'say',
      type: 'log',
      config: {
        level: 'info',
        message: 'order {{ steps.shape.output.id }} totals {{ steps.shape.output.total }}',
      },
    },
  ],
  edges: [
    { from: 'hook', to: 'shape' },
    { from: 'shape', to: 'say' },
  ],
};

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const database = await benchDatabase();
  const children: ChildProcess[] = [];
  try {
    const pool = createPool({ connectionString: database.url, max: CONCURRENCY });
    await migrate(pool);

    const baseline = await measureInserts(pool);

    const { key } = await withTransaction(pool, async (db) => {
      const project = await createProject(db, { name: 'bench' });
      return {
        key: (await createApiKey(db, { projectId: project.id, name: 'bench', role: 'admin' })).key,
      };
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: String(port),
      MESHHOOK_LOG_LEVEL: 'warn',
    };
    children.push(spawnRole('web', env));
    await waitReady(url);
    const hook = await publish(url, key);

    // Webhooks are accepted with the workers stopped first, measuring intake alone; then the
    // workers start and drain the queue, measuring execution alone; then both together.
    const intake = await pushWebhooks(hook, RUNS);
    const workerEnv = { ...env, MESHHOOK_WORKER_CONCURRENCY: WORKER_CONCURRENCY };
    const drainStart = performance.now();
    for (let i = 0; i < WORKERS; i++) children.push(spawnRole('worker', workerEnv));
    await waitAllFinished(pool, RUNS);
    const drainSeconds = (performance.now() - drainStart) / 1000;

    const mixedStart = Date.now();
    const mixed = await pushWebhooks(hook, RUNS);
    await waitAllFinished(pool, RUNS * 2);
    const mixedSeconds = (Date.now() - mixedStart) / 1000;
    const latencies = await completionLatencies(pool, mixed.sentAt);

    const failed = (
      await pool.query(`select count(*)::int as n from meshhook.runs where status <> 'succeeded'`)
    ).rows[0].n;
    await pool.end();

    const runsPerSecond = RUNS / mixedSeconds;
    const fig = (n: number) => n.toFixed(0).padStart(7);
    console.log(
      `engine benchmark: ${RUNS} webhooks, 3-step workflow, ${WORKERS} workers × ${WORKER_CONCURRENCY}, HTTP concurrency ${CONCURRENCY}`,
    );
    console.log(`database: ${database.server}`);
    console.log(`baseline  bare inserts/s                 ${fig(baseline)}`);
    console.log(
      `intake    webhooks accepted/s (no work)  ${fig(RUNS / intake.seconds)}   ratio to baseline ${(RUNS / intake.seconds / baseline).toFixed(2)}`,
    );
    console.log(
      `drain     runs completed/s (queue only)  ${fig(RUNS / drainSeconds)}   ratio to baseline ${(RUNS / drainSeconds / baseline).toFixed(2)}`,
    );
    console.log(`mixed     webhooks accepted/s            ${fig(RUNS / mixed.seconds)}`);
    console.log(
      `mixed     runs completed/s               ${fig(runsPerSecond)}   ratio to baseline ${(runsPerSecond / baseline).toFixed(2)}`,
    );
    console.log(
      `mixed     webhook→completion p50 / p99   ${latencies.p50.toFixed(0)} ms / ${latencies.p99.toFixed(0)} ms`,
    );
    console.log(`runs not succeeded: ${failed}`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
    await database.drop();
  }
}

async function measureInserts(pool: pg.Pool): Promise<number> {
  await pool.query(
    `create table bench_baseline (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())`,
  );
  const payload = JSON.stringify({ id: 'order-1', items: [1, 2, 3] });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < RUNS)
        await pool.query(`insert into bench_baseline (payload) values ($1::jsonb)`, [payload]);
    }),
  );
  return RUNS / ((performance.now() - started) / 1000);
}

function spawnRole(role: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE
        ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE]
        : []),
      'bin/meshhook.js',
      role,
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('web process did not become ready');
}

async function publish(url: string, key: string): Promise<string> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const created = await fetch(`${url}/api/workflows`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ slug: 'bench', name: 'bench', definition }),
  });
  const { id } = (await created.json()) as { id: string };
  const published = await fetch(`${url}/api/workflows/${id}/publish`, { method: 'POST', headers });
  return ((await published.json()) as { webhook: { url: string } }).webhook.url;
}

async function pushWebhooks(
  hook: string,
  count: number,
): Promise<{ seconds: number; sentAt: Map<string, number> }> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const sentAt = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++;
        const at = Date.now();
        const response = await request(hook, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `order-${n}`, items: [n, 2, 3] }),
        });
        const body = (await response.body.json()) as { run_id?: string };
        if (response.statusCode !== 202 || !body.run_id)
          throw new Error(`webhook answered ${response.statusCode}`);
        sentAt.set(body.run_id, at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return { seconds, sentAt };
}

async function waitAllFinished(pool: pg.Pool, total: number): Promise<void> {
  for (;;) {
    const { rows } = await pool.query(
      `select count(*)::int as n from meshhook.runs where status in ('succeeded', 'failed', 'canceled')`,
    );
    if (rows[0].n >= total) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function completionLatencies(pool: pg.Pool, sentAt: Map<string, number>) {
  const { rows } = await pool.query<{ id: string; finished_ms: number }>(
    `select id, extract(epoch from finished_at) * 1000 as finished_ms from meshhook.runs where id = any($1::uuid[])`,
    [[...sentAt.keys()]],
  );
  const latencies = rows
    .map((r) => Number(r.finished_ms) - sentAt.get(r.id)!)
    .sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
