import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { bucketStarts, GRAINS, type Grain } from '../../core/metric-range.ts';
import { RunStats, statsBy } from '../../core/run-stats.ts';
import { withTenant } from '../../db/client.ts';
import { readAllTime, readMetrics, type MetricRow } from '../../db/queries/run-metrics.ts';
import { findWorkflow, listWorkflowNames } from '../../db/queries/workflows.ts';
import { notFound } from '../app-error.ts';
import { nodeResponseOf, projectOf, streamAccessOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import {
  askedRange,
  bucketGrain,
  countedRange,
  iso,
  nowOf,
  rangeQuery,
  retentionOf,
  type AskedRange,
} from '../range.ts';
import { ACCESS_REVOKED_EVENT, serveSse, sseEvent } from '../sse.ts';
import { readQuery } from '../validate.ts';

/** Points in a summary item's sparkline, at most. */
const SERIES_TARGET = 100;

const SORT_KEYS = [
  'slug',
  'name',
  'total',
  'succeeded',
  'failed',
  'canceled',
  'success_rate',
  'failure_rate',
  'p50_ms',
  'p95_ms',
  'last_run_at',
] as const;
type SortKey = (typeof SORT_KEYS)[number];

const rate = z.coerce.number().min(0).max(1);
const summarySchema = z.object({
  ...rangeQuery,
  sort: z.enum(SORT_KEYS).default('slug'),
  order: z.enum(['asc', 'desc']).optional(),
  workflow: z.string().min(1).max(2_000).optional(),
  q: z.string().min(1).max(200).optional(),
  min_success_rate: rate.optional(),
  max_success_rate: rate.optional(),
  min_failure_rate: rate.optional(),
  max_failure_rate: rate.optional(),
  series: z.enum(['true', 'false']).optional(),
  bucket: z.enum(GRAINS).optional(),
});
const bucketsSchema = z.object({
  ...rangeQuery,
  bucket: z.enum(GRAINS).optional(),
  workflow: z.string().min(1).max(100).optional(),
});

/** Buckets of one grain, every one present (empty ones with zero runs and null rates). */
function bucketsJson(grain: Grain, range: AskedRange, rows: MetricRow[]) {
  const byStart = statsBy(rows, (r) => String(r.bucketStart));
  return bucketStarts(grain, range.from, range.to).map((start) => ({
    start: iso(start),
    ...(byStart.get(String(start)) ?? new RunStats()).toJSON(),
  }));
}

/** /api/metrics: run success and failure, from the rollups only. */
export function metricRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const now = () => nowOf(deps);
  const retention = () => retentionOf(deps, now());

  app.get('/workflows/summary', async (c) => {
    const query = readQuery(c, summarySchema);
    const range = askedRange(query, now());
    const kept = retention();
    const grain = bucketGrain(query.bucket, range, kept);
    const counted = countedRange(grain, range);
    const projectId = projectOf(c);
    const seriesGrain =
      query.series === 'true' ? bucketGrain(undefined, range, kept, SERIES_TARGET) : undefined;

    const read = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflows = await listWorkflowNames(db, projectId);
      const wanted = pickWorkflows(workflows, query);
      const ids = wanted.length === workflows.length ? undefined : wanted.map((w) => w.id);
      const only = ids ? { workflowIds: ids } : {};
      // One connection, so one query after the other.
      const rows = await readMetrics(db, {
        projectId,
        grain,
        ...range,
        ...only,
        byWorkflow: true,
        durations: true,
      });
      const allTime = await readAllTime(db, { projectId });
      const series = seriesGrain
        ? await readMetrics(db, {
            projectId,
            grain: seriesGrain,
            ...range,
            ...only,
            byWorkflow: true,
            byBucket: true,
          })
        : [];
      return { wanted, rows, allTime, series };
    });

    const inRange = statsBy(read.rows, (r) => r.workflowId!);
    const lastRuns = statsBy(read.allTime, (r) => r.workflowId!);
    const seriesOf = Map.groupBy(read.series, (r) => r.workflowId!);
    let items = read.wanted.map((w) => {
      const stats = inRange.get(w.id) ?? new RunStats();
      return {
        stats,
        json: {
          workflow_id: w.id,
          slug: w.slug,
          name: w.name,
          ...stats.toJSON(),
          last_run_at: iso(lastRuns.get(w.id)?.lastFinishedAt ?? null),
          ...(seriesGrain && {
            series: bucketsJson(seriesGrain, range, seriesOf.get(w.id) ?? []).map((b) => ({
              start: b.start,
              succeeded: b.succeeded,
              failed: b.failed,
              canceled: b.canceled,
            })),
          }),
        },
      };
    });
    items = items.filter(({ stats }) => withinShares(stats, query));
    sortItems(
      items,
      query.sort,
      query.order ?? (query.sort === 'slug' || query.sort === 'name' ? 'asc' : 'desc'),
    );

    const totals = new RunStats();
    for (const { stats } of items) totals.merge(stats);
    let lastRunAt: Date | null = null;
    for (const { json } of items) {
      if (json.last_run_at && (!lastRunAt || Date.parse(json.last_run_at) > lastRunAt.getTime())) {
        lastRunAt = new Date(json.last_run_at);
      }
    }
    return c.json({
      bucket: grain,
      range: counted,
      ...(seriesGrain ? { series_bucket: seriesGrain } : {}),
      items: items.map((i) => i.json),
      totals: { workflows: items.length, ...totals.toJSON(), last_run_at: iso(lastRunAt) },
    });
  });

  // Live: an event whenever runs of the project finish, for dashboards to refetch on.
  app.get('/stream', (c) => {
    const access = streamAccessOf(c, deps);
    serveSse({
      response: nodeResponseOf(c),
      bufferBytes: 64 * 1024,
      open: (sse) =>
        deps.eventHub.open(access, {
          room: sse.room,
          send: ({ type, ...data }) => sse.write(sseEvent(type, data)),
          heartbeat: sse.heartbeat,
          end: (reason) => sse.end(reason.kind === 'revoked' ? ACCESS_REVOKED_EVENT : ''),
        }),
    });
    return RESPONSE_ALREADY_SENT;
  });

  app.get('/workflow/:id', async (c) => {
    const query = readQuery(c, bucketsSchema.omit({ workflow: true }));
    return c.json(await bucketsAnswer(c, query, c.req.param('id')));
  });

  app.get('/buckets', async (c) => {
    const query = readQuery(c, bucketsSchema);
    return c.json(await bucketsAnswer(c, query, query.workflow));
  });

  /** Buckets of one workflow (by id or slug) or of the whole project. */
  async function bucketsAnswer(
    c: Context<AppEnv>,
    query: { from?: number; to?: number; range?: string; bucket?: Grain },
    workflowRef: string | undefined,
  ) {
    const range = askedRange(query, now());
    const grain = bucketGrain(query.bucket, range, retention());
    const projectId = projectOf(c);
    const read = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflow = workflowRef === undefined ? undefined : await findWorkflow(db, workflowRef);
      if (workflowRef !== undefined && (!workflow || workflow.projectId !== projectId)) {
        throw notFound('workflow');
      }
      const rows = await readMetrics(db, {
        projectId,
        grain,
        ...range,
        ...(workflow ? { workflowIds: [workflow.id] } : {}),
        byBucket: true,
        durations: true,
      });
      return { workflow, rows };
    });
    // The buckets are the range: their sum is what the summary counts for the same range.
    const totals = new RunStats();
    for (const row of read.rows) totals.add(row);
    return {
      ...(read.workflow
        ? { workflow_id: read.workflow.id, slug: read.workflow.slug, name: read.workflow.name }
        : {}),
      bucket: grain,
      range: countedRange(grain, range),
      buckets: bucketsJson(grain, range, read.rows),
      totals: totals.toJSON(),
    };
  }

  return app;
}

/** The workflows a summary lists: those named (ids or slugs, comma-separated), matching q. */
function pickWorkflows<W extends { id: string; slug: string; name: string }>(
  workflows: W[],
  query: { workflow?: string; q?: string },
): W[] {
  let picked = workflows;
  if (query.workflow !== undefined) {
    const names = new Set(query.workflow.split(',').map((s) => s.trim().toLowerCase()));
    picked = picked.filter((w) => names.has(w.id) || names.has(w.slug));
  }
  if (query.q !== undefined) {
    const needle = query.q.toLowerCase();
    picked = picked.filter((w) => w.slug.includes(needle) || w.name.toLowerCase().includes(needle));
  }
  return picked;
}

/** Whether a workflow's shares are within the asked bounds; one without runs has no share. */
function withinShares(
  stats: RunStats,
  query: {
    min_success_rate?: number;
    max_success_rate?: number;
    min_failure_rate?: number;
    max_failure_rate?: number;
  },
): boolean {
  const bounds: Array<[number | null, number | undefined, number | undefined]> = [
    [stats.successRate, query.min_success_rate, query.max_success_rate],
    [stats.failureRate, query.min_failure_rate, query.max_failure_rate],
  ];
  return bounds.every(([value, min, max]) => {
    if (min === undefined && max === undefined) return true;
    if (value === null) return false;
    return (min === undefined || value >= min) && (max === undefined || value <= max);
  });
}

/** Sorts by a key, workflows without a value last whatever the order, then by slug. */
function sortItems(
  items: Array<{ json: Record<SortKey, unknown> }>,
  key: SortKey,
  order: 'asc' | 'desc',
): void {
  const sign = order === 'asc' ? 1 : -1;
  items.sort((a, b) => {
    const x = a.json[key] as string | number | null;
    const y = b.json[key] as string | number | null;
    if (x === null && y !== null) return 1;
    if (y === null && x !== null) return -1;
    if (x !== y && x !== null && y !== null) {
      return (x < y ? -1 : 1) * sign;
    }
    return String(a.json.slug) < String(b.json.slug) ? -1 : 1;
  });
}
