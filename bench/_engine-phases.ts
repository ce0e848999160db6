// The engine benchmark's machinery, shared by `engine`, `metrics-engine` and `errors`: a web
// process and workers on a fresh database, a three-step workflow, and the intake, drain and
// mixed phases.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type pg from 'pg';
import { Agent, request } from 'undici';
import { withTransaction } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { createApiKey, createProject } from '../src/db/queries/projects.ts';

/** The workflow every run executes: webhook → transform → log. */
export const definition = {
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

/** How one engine measurement is shaped. */
export interface EngineOptions {
  /** Webhooks per phase. */
  runs: number;
  /** HTTP connections pushing webhooks. */
  concurrency: number;
  workers: number;
  /** MESHHOOK_WORKER_CONCURRENCY of each worker. */
  workerConcurrency: string;
  /**
   * Every `failEvery`-th webhook of each phase (the first, the (failEvery + 1)-th, …) carries
   * an item the transform cannot sum, so its run fails at that step (`expression_error`, no
   * retry); the others succeed as usual. Unset: every run succeeds.
   */
  failEvery?: number;
  /** Variables added to the environment of the web and worker processes. */
  env?: Record<string, string>;
}

/** What the three phases measured. */
export interface EngineFigures {
  intakeSeconds: number;
  drainSeconds: number;
  /** Sending the mixed phase's webhooks. */
  mixedSendSeconds: number;
  /** From the first mixed webhook to the last mixed run finished. */
  mixedSeconds: number;
  latencies: { p50: number; p99: number };
  /** Runs that did not succeed, over both phases. */
  failed: number;
  /** Runs whose payload was made to fail (failEvery), over both phases; 0 without it. */
  failing: number;
}

/**
 * Starts a web process on the migrated database behind `pool`, publishes the workflow, and runs
 * the phases: webhooks accepted with the workers stopped (intake alone); then the workers start
 * and drain the queue (execution alone); then as many webhooks again with both running.
 * Every process it started is stopped before it returns.
 */
export async function runEnginePhases(
  pool: pg.Pool,
  databaseUrl: string,
  options: EngineOptions,
): Promise<EngineFigures> {
  const children: ChildProcess[] = [];
  try {
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
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      MESHHOOK_LOG_LEVEL: 'warn',
      ...options.env,
    };
    children.push(spawnRole('web', env));
    await waitReady(url);
    const hook = await publish(url, key);
    const push = () =>
      pushWebhooks(hook, {
        count: options.runs,
        concurrency: options.concurrency,
        failEvery: options.failEvery,
      });

    const intake = await push();
    const workerEnv = { ...env, MESHHOOK_WORKER_CONCURRENCY: options.workerConcurrency };
    const drainStart = performance.now();
    for (let i = 0; i < options.workers; i++) children.push(spawnRole('worker', workerEnv));
    await waitAllFinished(pool, options.runs);
    const drainSeconds = (performance.now() - drainStart) / 1000;

    const mixedStart = Date.now();
    const mixed = await push();
    await waitAllFinished(pool, options.runs * 2);
    const mixedSeconds = (Date.now() - mixedStart) / 1000;
    const latencies = await completionLatencies(pool, mixed.sentAt);

    const failed = (
      await pool.query(`select count(*)::int as n from meshhook.runs where status <> 'succeeded'`)
    ).rows[0].n as number;
    return {
      intakeSeconds: intake.seconds,
      drainSeconds,
      mixedSendSeconds: mixed.seconds,
      mixedSeconds,
      latencies,
      failed,
      failing: options.failEvery ? 2 * Math.ceil(options.runs / options.failEvery) : 0,
    };
  } finally {
    await stopChildren(children);
  }
}

/** Single-row inserts per second at `concurrency`: the baseline of the engine benchmark. */
export async function measureInserts(
  pool: pg.Pool,
  options: { count: number; concurrency: number },
): Promise<number> {
  await pool.query(
    `create table bench_baseline (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())`,
  );
  const payload = JSON.stringify({ id: 'order-1', items: [1, 2, 3] });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next++ < options.count)
        await pool.query(`insert into bench_baseline (payload) values ($1::jsonb)`, [payload]);
    }),
  );
  return options.count / ((performance.now() - started) / 1000);
}

/** Starts `meshhook <role>` (with a CPU profile per process when BENCH_PROFILE names a folder). */
export function spawnRole(role: string, env: NodeJS.ProcessEnv): ChildProcess {
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

/** Stops the processes and waits for each to exit. */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const child of children) {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

/** Waits until the web process at `url` answers /readyz. */
export async function waitReady(url: string): Promise<void> {
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
  options: { count: number; concurrency: number; failEvery: number | undefined },
): Promise<{ seconds: number; sentAt: Map<string, number> }> {
  const { count, concurrency, failEvery } = options;
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const sentAt = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const at = Date.now();
        const response = await request(hook, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          // sum() refuses a string at run time: the transform fails, the run with it.
          body: JSON.stringify({
            id: `order-${n}`,
            items: [failEvery && n % failEvery === 0 ? 'n/a' : n, 2, 3],
          }),
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
