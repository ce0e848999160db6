// The error-metrics question (GET /api/error-metrics) asked three ways: through the HTTP API of
// a web process (the rollups, as a client sees them), through the API's own reads in this
// process (the rollups' SQL alone), and over the raw error_events (the baseline); the answers'
// counts must be equal.
import type pg from 'pg';
import { SEVERITIES } from '../src/core/error-events.ts';
import { bucketStarts, GRAIN_MS, type Grain } from '../src/core/metric-range.ts';
import { withTenant, type Claims, type Queryable } from '../src/db/client.ts';
import { readErrorCounts, type ErrorCountRow } from '../src/db/queries/error-counts.ts';
import { readMetrics } from '../src/db/queries/run-metrics.ts';
import { findWorkflow } from '../src/db/queries/workflows.ts';
import { quantile, timeCalls, type ApiClient } from './_metrics-queries.ts';

/** One way of asking: the query string and the same filters for the SQL reads. */
export interface ErrorQuestion {
  title: string;
  query: string;
  sources?: string[];
  severities?: string[];
  /** The workflow filter: its id for the SQL reads, its slug as the query names it. */
  workflowId?: string;
  workflowSlug?: string;
}

/** The answer in the API's shape, counts only (what the comparison looks at). */
interface Tallied {
  buckets: Array<{
    start: string;
    count: number;
    bySeverity: object;
    bySource: object;
    byType: object;
  }>;
  totals: { total: number; bySource: object; byType: object; bySeverity: object };
}

interface ApiAnswer {
  range: { from: string; to: string };
  bucket: Grain;
  buckets: Array<{
    start: string;
    count: number;
    by_severity: object;
    by_source: object;
    by_type: object;
  }>;
  totals: { total: number; by_source: object; by_type: object; by_severity: object };
}

/** The same totals straight from the events: by UTC day, source, type and severity. */
export const RAW_ERROR_COUNTS = `
  select date_trunc('day', e.ts, 'UTC') as bucket_start, e.source, e.error_type, e.severity,
         count(*)::float8 as count
  from error_events e
  where e.project_id = $1::uuid and e.ts >= $2 and e.ts < $3
    and ($4::text[] is null or e.source = any($4::text[]))
    and ($5::text[] is null or e.severity = any($5::text[]))
    and ($6::uuid[] is null or e.workflow_id = any($6::uuid[]))
  group by 1, 2, 3, 4`;

/** What one question measured. */
export interface QuestionFigures {
  http: { p50: number; p95: number };
  reads: { p50: number; p95: number };
  /** Undefined when the raw path was not timed (rawCalls 0). */
  raw: { p50: number; p95: number } | undefined;
  equal: boolean;
  errors: number;
}

/** Asks one question the three ways and prints latencies, the ratio and whether counts agree. */
export async function askErrorQuestion(
  q: ErrorQuestion & {
    api: ApiClient;
    pool: pg.Pool;
    claims: Claims;
    projectId: string;
    calls: number;
    rawCalls: number;
    warmup: number;
    target: number;
    explain: boolean;
    out: (line: string) => void;
  },
): Promise<QuestionFigures> {
  const { out } = q;
  const path = `/api/error-metrics?${q.query}`;
  const answer = JSON.parse(await q.api.get(path)) as ApiAnswer;
  const range = { from: Date.parse(answer.range.from), to: Date.parse(answer.range.to) };
  const filters = {
    ...(q.sources ? { sources: q.sources } : {}),
    ...(q.severities ? { severities: q.severities } : {}),
    ...(q.workflowId ? { workflowIds: [q.workflowId] } : {}),
  };
  const rawParams = [
    q.projectId,
    new Date(range.from),
    new Date(range.to),
    q.sources ?? null,
    q.severities ?? null,
    q.workflowId ? [q.workflowId] : null,
  ];
  const raw = () =>
    withTenant(q.pool, q.claims, async (db) => {
      const { rows } = await db.query<{
        bucket_start: Date;
        source: string;
        error_type: string;
        severity: string;
        count: number;
      }>(RAW_ERROR_COUNTS, rawParams);
      return rows.map((r): ErrorCountRow => ({
        bucketStart: r.bucket_start.getTime(),
        source: r.source,
        errorType: r.error_type,
        severity: r.severity,
        count: r.count,
      }));
    });
  // The API's reads, one after the other as its handler runs them, over the range it counted.
  const readsAlone = () =>
    withTenant(q.pool, q.claims, async (db) => {
      if (q.workflowSlug) await findWorkflow(db, q.workflowSlug);
      await readErrorCounts(db, {
        projectId: q.projectId,
        grain: answer.bucket,
        ...range,
        ...filters,
      });
      await readMetrics(db, {
        projectId: q.projectId,
        grain: answer.bucket,
        ...range,
        ...(q.workflowId ? { workflowIds: [q.workflowId] } : {}),
      });
    });

  const fromApi = fromAnswer(answer);
  const fromRaw = tally(await raw(), answer.bucket, range);
  const equal = canonical(fromApi) === canonical(fromRaw);
  const rollupRows = await withTenant(q.pool, q.claims, async (db) => {
    const { rows } = await db.query<{ n: number }>(
      `select count(*)::int as n from error_counts c
       where c.project_id = $1::uuid and c.grain = $2 and c.bucket_start >= $3 and c.bucket_start < $4
         and ($5::text[] is null or c.source = any($5::text[]))
         and ($6::text[] is null or c.severity = any($6::text[]))
         and ($7::uuid[] is null or c.workflow_id = any($7::uuid[]))`,
      [q.projectId, answer.bucket, ...rawParams.slice(1)],
    );
    return rows[0]!.n;
  });

  const http = await timeCalls(q.calls, q.warmup, () => q.api.get(path));
  const alone = await timeCalls(q.calls, q.warmup, readsAlone);
  // rawCalls 0: the raw path is only run once, for the comparison.
  const rawTimes =
    q.rawCalls > 0 ? await timeCalls(q.rawCalls, Math.min(q.warmup, 2), raw) : undefined;

  const p = (t: number[]) => ({ p50: quantile(t, 0.5), p95: quantile(t, 0.95) });
  const figures = {
    http: p(http),
    reads: p(alone),
    raw: rawTimes && p(rawTimes),
    equal,
    errors: fromApi.totals.total,
  };
  const ms = (n: number) => (n < 100 ? n.toFixed(1) : n.toFixed(0)).padStart(8);
  const times = (r: number) => `${r.toFixed(r < 10 ? 2 : 0)}×`.padStart(9);
  out('');
  out(`${q.title} (GET ${path})`);
  out(
    `  counted range ${answer.range.from} → ${answer.range.to} (${answer.bucket} buckets): ${fromApi.totals.total.toLocaleString('en')} errors in ${answer.buckets.length} buckets; ${rollupRows.toLocaleString('en')} error_counts rows summed`,
  );
  out(`  path                                                       p50 ms   p95 ms`);
  out(
    `  rollups through the HTTP API (web process: auth, RLS, JSON) ${ms(figures.http.p50)} ${ms(figures.http.p95)}   target p95 ≤ ${q.target} ms: ${figures.http.p95 <= q.target ? 'met' : 'MISSED'}`,
  );
  out(
    `  rollups, the API's reads alone (withTenant, this process)   ${ms(figures.reads.p50)} ${ms(figures.reads.p95)}`,
  );
  if (figures.raw) {
    out(
      `  raw error_events, group by (withTenant, this process)       ${ms(figures.raw.p50)} ${ms(figures.raw.p95)}`,
    );
    out(
      `  ratio raw ÷ rollups through the API                        ${times(figures.raw.p50 / figures.http.p50)} ${times(figures.raw.p95 / figures.http.p95)}`,
    );
  }
  out(
    equal
      ? `  totals: counts equal (total, by source, type and severity, in all ${answer.buckets.length} buckets)`
      : `  totals: counts DIFFER: API ${fromApi.totals.total} errors, raw ${fromRaw.totals.total}; ${differingBuckets(fromApi, fromRaw)}`,
  );
  if (q.explain) {
    out("  EXPLAIN (ANALYZE, BUFFERS) of the API's error-counts read:");
    const plan = await explain(q.pool, q.claims, (db) =>
      readErrorCounts(db, { projectId: q.projectId, grain: answer.bucket, ...range, ...filters }),
    );
    for (const line of plan) out(`    ${line}`);
  }
  return figures;
}

function fromAnswer(answer: ApiAnswer): Tallied {
  return {
    buckets: answer.buckets.map((b) => ({
      start: new Date(b.start).toISOString(),
      count: b.count,
      bySeverity: b.by_severity,
      bySource: b.by_source,
      byType: b.by_type,
    })),
    totals: {
      total: answer.totals.total,
      bySource: answer.totals.by_source,
      byType: answer.totals.by_type,
      bySeverity: answer.totals.by_severity,
    },
  };
}

/** Raw rows tallied the way the API tallies its rollup rows. */
function tally(rows: ErrorCountRow[], grain: Grain, range: { from: number; to: number }): Tallied {
  const empty = () => ({
    count: 0,
    bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<string, number>,
    bySource: {} as Record<string, number>,
    byType: {} as Record<string, number>,
  });
  const add = (t: ReturnType<typeof empty>, r: ErrorCountRow) => {
    t.count += r.count;
    t.bySeverity[r.severity] = (t.bySeverity[r.severity] ?? 0) + r.count;
    t.bySource[r.source] = (t.bySource[r.source] ?? 0) + r.count;
    t.byType[r.errorType] = (t.byType[r.errorType] ?? 0) + r.count;
  };
  const totals = empty();
  const byStart = Map.groupBy(
    rows,
    (r) => Math.floor(r.bucketStart / GRAIN_MS[grain]) * GRAIN_MS[grain],
  );
  const buckets = bucketStarts(grain, range.from, range.to).map((start) => {
    const t = empty();
    for (const r of byStart.get(start) ?? []) {
      add(t, r);
      add(totals, r);
    }
    return { start: new Date(start).toISOString(), ...t };
  });
  return {
    buckets,
    totals: {
      total: totals.count,
      bySource: totals.bySource,
      byType: totals.byType,
      bySeverity: totals.bySeverity,
    },
  };
}

// JSON with keys sorted, so two tallies compare whatever order their keys arrived in.
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function differingBuckets(a: Tallied, b: Tallied): string {
  const starts = a.buckets
    .filter((x, i) => canonical(x) !== canonical(b.buckets[i]))
    .map((x) => x.start.slice(0, 10));
  return `${starts.length} buckets differ${starts.length > 0 ? ` (${starts.slice(0, 5).join(', ')}…)` : ''}`;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the statement a read sends, run under the same claims. */
async function explain(
  pool: pg.Pool,
  claims: Claims,
  read: (db: Queryable) => Promise<unknown>,
): Promise<string[]> {
  return withTenant(pool, claims, async (db) => {
    const plan: string[] = [];
    const explaining = {
      query: async (sql: string, params?: unknown[]) => {
        const { rows } = await db.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, buffers) ${sql}`,
          params,
        );
        plan.push(...rows.map((r) => r['QUERY PLAN']));
        return { rows: [] };
      },
    } as unknown as Queryable; // only query is called, and its rows are not read
    await read(explaining);
    return plan;
  });
}
