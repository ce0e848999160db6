// The alerts benchmark's set-up, shared by its three parts: a fresh migrated database with one
// project, one `meshhook web` and one `meshhook worker` (the engine benchmark's processes, with
// the default alert settings), workflows that fail on demand, webhook channels and rules made
// through the API, and failing webhooks sent at a steady rate.
import type { ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { Agent, request } from 'undici';
import { createPool, withTransaction } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createApiKey, createProject } from '../src/db/queries/projects.ts';
import { benchDatabase } from './_database.ts';
import { definition, spawnRole, stopChildren, waitReady } from './_engine-phases.ts';
import { cpuOf, cpuSpent, machineCpuSeconds } from './_process-stats.ts';

/** The signing secret of every channel: the dispatchers sign each delivery, as in production. */
export const CHANNEL_SECRET = 'whsec_bench_0123456789abcdef';

/** A rule's throttle as the API takes it. */
export interface ThrottleText {
  group_wait: string;
  group_interval: string;
  repeat_interval: string;
}

/** A published workflow and its webhook URL. */
export interface BenchWorkflow {
  id: string;
  hook: string;
}

/** A running set-up; `stop()` ends its processes, its pool and its database. */
export interface AlertSetup {
  pool: pg.Pool;
  /** The web process's base URL. */
  base: string;
  server: string;
  workflows: BenchWorkflow[];
  /** Pids of the web process and, once started, the worker. */
  pids(): number[];
  /** Sends an API request with the project's admin key; throws unless it answers `expect`. */
  api(method: string, path: string, body: unknown, expect: number): Promise<unknown>;
  /** Starts the worker and waits until it has announced itself. */
  startWorker(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates the database, the project and its admin key, starts the web process and publishes
 * `workflows` copies of the engine benchmark's workflow (webhook → transform → log), whose
 * runs fail at the transform when the payload's items cannot be summed (pushFailures).
 */
export async function startAlertSetup(options: { workflows: number }): Promise<AlertSetup> {
  const database = await benchDatabase();
  const pool = createPool({ connectionString: database.url, max: 8 });
  const children: ChildProcess[] = [];
  const stop = async () => {
    await stopChildren(children);
    await pool.end();
    await database.drop();
  };
  try {
    await migrate(pool);
    const key = await withTransaction(pool, async (db) => {
      const project = await createProject(db, { name: 'bench' });
      return (await createApiKey(db, { projectId: project.id, name: 'bench', role: 'admin' })).key;
    });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      PORT: String(port),
      MESHHOOK_LOG_LEVEL: 'warn',
    };
    children.push(spawnRole('web', env));
    await waitReady(base);

    const api = async (method: string, path: string, body: unknown, expect: number) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (response.status !== expect) {
        throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
      }
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    };
    const workflows: BenchWorkflow[] = [];
    for (let i = 0; i < options.workflows; i++) {
      const slug = `bench-${i}`;
      const created = (await api(
        'POST',
        '/api/workflows',
        { slug, name: slug, definition },
        201,
      )) as { id: string };
      const published = (await api('POST', `/api/workflows/${created.id}/publish`, {}, 201)) as {
        webhook: { url: string };
      };
      workflows.push({ id: created.id, hook: published.webhook.url });
    }

    return {
      pool,
      base,
      server: database.server,
      workflows,
      pids: () => children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
      api,
      async startWorker() {
        children.push(spawnRole('worker', env));
        await waitUntil(async () => {
          const { rows } = await pool.query(`select count(*)::int as n from meshhook.workers`);
          return rows[0].n >= 1;
        }, 30_000);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Creates through the API, for each workflow, a webhook channel to `receiverUrl/hook/<n>` and a
 * rule on its run failures with that channel and throttle; returns the channel ids.
 */
export async function createWebhookRules(
  setup: AlertSetup,
  options: { receiverUrl: string; throttle: ThrottleText },
): Promise<string[]> {
  const channels: string[] = [];
  for (const [n, workflow] of setup.workflows.entries()) {
    const channel = (await setup.api(
      'POST',
      '/api/alerts/channels',
      {
        name: `hook ${n}`,
        type: 'webhook',
        config: { url: `${options.receiverUrl}/hook/${n}`, secret: CHANNEL_SECRET },
      },
      201,
    )) as { id: string };
    await setup.api(
      'POST',
      '/api/alerts/rules',
      {
        name: `failures ${n}`,
        workflow_id: workflow.id,
        events: ['run_failed'],
        channels: [channel.id],
        throttle: options.throttle,
      },
      201,
    );
    channels.push(channel.id);
  }
  return channels;
}

/** What pushFailures sent. */
export interface Pushed {
  /** Run ids in the order sent; the workflow index of each, and when it was sent (Date.now()). */
  runIds: string[];
  workflowOf: Map<string, number>;
  sentAt: Map<string, number>;
  /** From the first webhook sent to the last accepted. */
  seconds: number;
  /** Webhooks that were not accepted with a run id. */
  refused: number;
}

/**
 * Sends `count` webhooks whose runs fail, `perSecond` of them each second on a fixed schedule
 * (each sent at its time, whether or not the previous one was answered), round-robin over the
 * workflows.
 */
export async function pushFailures(
  workflows: BenchWorkflow[],
  options: { count: number; perSecond: number },
): Promise<Pushed> {
  const agent = new Agent({ connections: 16, pipelining: 1 });
  const runIds = new Array<string>(options.count).fill('');
  const workflowOf = new Map<string, number>();
  const sentAt = new Map<string, number>();
  let refused = 0;
  const started = performance.now();
  const sends: Array<Promise<void>> = [];
  for (let n = 0; n < options.count; n++) {
    const due = started + (n * 1000) / options.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const w = n % workflows.length;
    sends.push(
      (async () => {
        const at = Date.now();
        const response = await request(workflows[w]!.hook, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          // sum() refuses a string at run time: the transform fails, and the run with it.
          body: JSON.stringify({ id: `order-${n}`, items: ['n/a', 2, 3] }),
        });
        const body = (await response.body.json()) as { run_id?: string };
        if (response.statusCode !== 202 || !body.run_id) {
          refused++;
          return;
        }
        runIds[n] = body.run_id;
        workflowOf.set(body.run_id, w);
        sentAt.set(body.run_id, at);
      })().catch(() => void refused++),
    );
  }
  await Promise.all(sends);
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  return { runIds: runIds.filter((id) => id !== ''), workflowOf, sentAt, seconds, refused };
}

/** Outbox rows not yet evaluated and deliveries not yet settled. */
export async function inFlight(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `select (select count(*) from meshhook.alert_outbox)
          + (select count(*) from meshhook.alert_logs where status in ('pending', 'sending'))
            as n`,
  );
  return Number(rows[0]!.n);
}

/** Polls `check` every 50 ms until it holds; false when `timeoutMs` passed first. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** p50, p95, p99 and max of some values, in their unit, for a line of figures. */
export function spread(values: number[]): { p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

/** "p50 / p95 / p99 / max" in ms, one decimal under 10 ms. */
export function describeSpread(values: number[]): string {
  const s = spread(values);
  const ms = (v: number) => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
  return `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)} / ${ms(s.max)} ms`;
}

/** CPU seconds so far: the set-up's processes, this database's PostgreSQL backends, the machine. */
export interface CpuReading {
  processes: Map<number, number>;
  postgres: Map<number, number>;
  postgresPids: number[];
  machine: number;
  at: number;
}

/** Reads the CPU counters; pass the reading before to also count backends that have gone since. */
export async function readCpu(setup: AlertSetup, before?: CpuReading): Promise<CpuReading> {
  const { rows } = await setup.pool.query<{ pid: number }>(
    `select pid from pg_stat_activity where datname = current_database() or datname is null`,
  );
  const pids = [...new Set([...rows.map((r) => r.pid), ...(before?.postgresPids ?? [])])];
  return {
    processes: cpuOf(setup.pids()),
    postgres: cpuOf(pids),
    postgresPids: pids,
    machine: machineCpuSeconds().busy,
    at: performance.now(),
  };
}

/** Cores used between two readings: MeshHook's processes, PostgreSQL, the whole machine. */
export function coresBetween(
  before: CpuReading,
  after: CpuReading,
): { processes: number; postgres: number; machine: number; seconds: number } {
  const seconds = (after.at - before.at) / 1000;
  return {
    processes: cpuSpent(before.processes, after.processes) / seconds,
    postgres: cpuSpent(before.postgres, after.postgres) / seconds,
    machine: (after.machine - before.machine) / seconds,
    seconds,
  };
}

/** What this database's active backends were doing, sampled: "wait event · statement" → samples. */
export interface WaitSamples {
  stop(): Promise<{ samples: number; active: Map<string, number> }>;
}

/**
 * Samples pg_stat_activity every `everyMs` until stopped: for each active backend of this
 * database but the sampler's, its wait event (CPU when none) and the start of its statement.
 */
export function sampleWaits(pool: pg.Pool, everyMs = 20): WaitSamples {
  const active = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await pool.query<{ what: string }>(
        `select coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' · '
                || left(regexp_replace(query, '\\s+', ' ', 'g'), 48) as what
         from pg_stat_activity
         where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`,
      );
      samples++;
      for (const { what } of rows) active.set(what, (active.get(what) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, active };
    },
  };
}

/** The most frequent entries of a sampling, as "n.n backends · what" lines. */
export function describeWaits(
  sampled: { samples: number; active: Map<string, number> },
  top = 6,
): string[] {
  const total = [...sampled.active.values()].reduce((a, b) => a + b, 0);
  const lines = [...sampled.active.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([what, n]) => `${(n / sampled.samples).toFixed(2)} backends  ${what}`);
  return [
    `${(total / Math.max(1, sampled.samples)).toFixed(2)} backends active on average over ${sampled.samples} samples; the most frequent:`,
    ...lines,
  ];
}
