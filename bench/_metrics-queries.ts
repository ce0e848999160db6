// The two questions of the run-metrics benchmark, asked three ways: through the HTTP API (the
// rollups, as a client sees them), through the API's own reads in this process (the rollups'
// SQL alone), and over the raw runs table (the baseline).
import type pg from 'pg';
import { Agent, request } from 'undici';
import { chooseGrain, retentionAt } from '../src/core/metric-range.ts';
import { statsBy } from '../src/core/run-stats.ts';
import { withTenant, type Claims } from '../src/db/client.ts';
import { readAllTime, readMetrics } from '../src/db/queries/run-metrics.ts';
import { findWorkflow, listWorkflowNames } from '../src/db/queries/workflows.ts';
import { RETENTION_DAYS } from './_metrics-seed.ts';

/** Counts and duration quantiles of one workflow or one bucket. */
export interface Answer {
  key: string;
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  p50: number | null;
  p95: number | null;
}

/** GET requests to one web process with one API key, over one kept-alive connection. */
export class ApiClient {
  readonly #agent = new Agent({ connections: 1, pipelining: 1 });
  readonly #base: string;
  readonly #key: string;

  constructor(base: string, key: string) {
    this.#base = base;
    this.#key = key;
  }

  /** The answer's body, read whole (what a client waits for); throws unless 200. */
  async get(path: string): Promise<string> {
    const response = await request(`${this.#base}${path}`, {
      dispatcher: this.#agent,
      headers: { authorization: `Bearer ${this.#key}` },
    });
    const body = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`GET ${path}: ${response.statusCode} ${body}`);
    return body;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

interface SummaryItem {
  workflow_id: string;
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

/** The summary as the API answers it: its counted range and one answer per workflow. */
export function parseSummary(body: string): { from: Date; to: Date; answers: Answer[] } {
  const json = JSON.parse(body) as { range: { from: string; to: string }; items: SummaryItem[] };
  return {
    from: new Date(json.range.from),
    to: new Date(json.range.to),
    answers: json.items
      .filter((i) => i.total > 0)
      .map((i) => ({ ...i, key: i.workflow_id, p50: i.p50_ms, p95: i.p95_ms })),
  };
}

/** A workflow's buckets as the API answers them: its range and one answer per non-empty day. */
export function parseBuckets(body: string): { from: Date; to: Date; answers: Answer[] } {
  const json = JSON.parse(body) as {
    range: { from: string; to: string };
    buckets: Array<Omit<SummaryItem, 'workflow_id'> & { start: string }>;
  };
  return {
    from: new Date(json.range.from),
    to: new Date(json.range.to),
    answers: json.buckets
      .filter((b) => b.total > 0)
      .map((b) => ({ ...b, key: new Date(b.start).toISOString(), p50: b.p50_ms, p95: b.p95_ms })),
  };
}

/** The summary's reads, one after the other as the API's handler runs them, without HTTP. */
export async function rollupSummary(
  pool: pg.Pool,
  input: { claims: Claims; projectId: string; from: number; to: number },
): Promise<number> {
  const kept = retentionAt(Date.now(), RETENTION_DAYS);
  const grain = chooseGrain(input.from, input.to, kept)!;
  const rows = await withTenant(pool, input.claims, async (db) => {
    await listWorkflowNames(db, input.projectId);
    const range = await readMetrics(db, {
      projectId: input.projectId,
      grain,
      from: input.from,
      to: input.to,
      byWorkflow: true,
      durations: true,
    });
    await readAllTime(db, { projectId: input.projectId });
    return range;
  });
  return statsBy(rows, (r) => r.workflowId!).size;
}

/** One workflow's daily buckets' reads, without HTTP. */
export async function rollupBuckets(
  pool: pg.Pool,
  input: { claims: Claims; projectId: string; workflowId: string; from: number; to: number },
): Promise<number> {
  const rows = await withTenant(pool, input.claims, async (db) => {
    const workflow = await findWorkflow(db, input.workflowId);
    return readMetrics(db, {
      projectId: input.projectId,
      grain: 'day',
      from: input.from,
      to: input.to,
      workflowIds: [workflow!.id],
      byBucket: true,
      durations: true,
    });
  });
  return statsBy(rows, (r) => String(r.bucketStart)).size;
}

const FINISHED = `r.status in ('succeeded', 'failed', 'canceled')`;
const COUNTS = `count(*)::int as total,
  count(*) filter (where r.status = 'succeeded')::int as succeeded,
  count(*) filter (where r.status = 'failed')::int as failed,
  count(*) filter (where r.status = 'canceled')::int as canceled,
  extract(epoch from percentile_cont(0.5) within group (order by r.finished_at - coalesce(r.started_at, r.created_at)))::float8 * 1000 as p50,
  extract(epoch from percentile_cont(0.95) within group (order by r.finished_at - coalesce(r.started_at, r.created_at)))::float8 * 1000 as p95`;

/** The summary's question over the runs: by workflow, runs finished in [from, to). */
export const RAW_SUMMARY = `
  select w.id::text as key, w.slug, w.name, ${COUNTS}
  from runs r join workflows w on w.id = r.workflow_id
  where r.project_id = $1::uuid and ${FINISHED} and r.finished_at >= $2 and r.finished_at < $3
  group by w.id, w.slug, w.name
  order by w.slug`;

/** The daily buckets' question over the runs: one workflow's runs by UTC day of finishing. */
export const RAW_BUCKETS = `
  select to_char(date_trunc('day', r.finished_at, 'UTC') at time zone 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') as key, ${COUNTS}
  from runs r
  where r.workflow_id = $1::uuid and ${FINISHED} and r.finished_at >= $2 and r.finished_at < $3
  group by 1
  order by 1`;

/** Runs a raw question under `claims` (the API key's), as an API over the runs would. */
export async function rawAnswers(
  pool: pg.Pool,
  input: { claims: Claims; sql: string; params: unknown[] },
): Promise<Answer[]> {
  return withTenant(pool, input.claims, async (db) => {
    const { rows } = await db.query<Answer>(input.sql, input.params);
    return rows;
  });
}

/** How two answers to one question compare: counts must be equal, quantiles close. */
export function compareAnswers(
  rollup: Answer[],
  raw: Answer[],
): { keys: number; mismatched: string[]; p50Off: number; p95Off: number; runs: number } {
  const byKey = new Map(raw.map((a) => [a.key, a]));
  const mismatched: string[] = [];
  let p50Off = 0;
  let p95Off = 0;
  let runs = 0;
  for (const a of rollup) {
    const b = byKey.get(a.key);
    byKey.delete(a.key);
    if (
      !b ||
      a.total !== b.total ||
      a.succeeded !== b.succeeded ||
      a.failed !== b.failed ||
      a.canceled !== b.canceled
    ) {
      mismatched.push(a.key);
      continue;
    }
    runs += a.total;
    const off = (x: number | null, y: number | null) =>
      x === null || y === null || y === 0 ? 0 : Math.abs(x - y) / y;
    p50Off = Math.max(p50Off, off(a.p50, b.p50));
    p95Off = Math.max(p95Off, off(a.p95, b.p95));
  }
  mismatched.push(...byKey.keys());
  return { keys: rollup.length, mismatched, p50Off, p95Off, runs };
}

/** Latencies in ms of `calls` calls, one at a time, after `warmup` unmeasured ones; sorted. */
export async function timeCalls(
  calls: number,
  warmup: number,
  fn: () => Promise<unknown>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
