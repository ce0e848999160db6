import { Hono } from 'hono';
import { z } from 'zod';
import { SEVERITIES, type Severity } from '../../core/error-events.ts';
import { bucketStarts, GRAIN_MS, GRAINS } from '../../core/metric-range.ts';
import { withTenant } from '../../db/client.ts';
import { readErrorCounts, type ErrorCountRow } from '../../db/queries/error-counts.ts';
import { readMetrics } from '../../db/queries/run-metrics.ts';
import { projectOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import {
  askedRange,
  bucketGrain,
  countedRange,
  iso,
  nowOf,
  rangeQuery,
  retentionOf,
} from '../range.ts';
import { readQuery } from '../validate.ts';
import { errorFilters, filterWorkflow } from './errors.ts';

const schema = z.object({
  ...rangeQuery,
  ...errorFilters,
  bucket: z.enum(GRAINS).optional(),
});

/** Errors counted by severity (always all three), source and type. */
class ErrorTally {
  count = 0;
  bySeverity: Record<Severity, number> = Object.fromEntries(
    SEVERITIES.map((s) => [s, 0]),
  ) as Record<Severity, number>;
  bySource: Record<string, number> = {};
  byType: Record<string, number> = {};

  add(row: ErrorCountRow): void {
    this.count += row.count;
    if (row.severity in this.bySeverity) this.bySeverity[row.severity as Severity] += row.count;
    this.bySource[row.source] = (this.bySource[row.source] ?? 0) + row.count;
    this.byType[row.errorType] = (this.byType[row.errorType] ?? 0) + row.count;
  }
}

/** /api/error-metrics: error counts by bucket and in total, from the rollups only. */
export function errorMetricRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const query = readQuery(c, schema);
    const now = nowOf(deps);
    const range = askedRange(query, now);
    const grain = bucketGrain(query.bucket, range, retentionOf(deps, now));
    const projectId = projectOf(c);
    const read = await withTenant(deps.pool, c.get('caller').claims, async (db) => {
      const workflowId = await filterWorkflow(db, { projectId, ref: query.workflow });
      const workflowIds = workflowId ? [workflowId] : undefined;
      const counts = await readErrorCounts(db, {
        projectId,
        grain,
        ...range,
        ...(query.source ? { sources: query.source } : {}),
        ...(query.type ? { types: query.type } : {}),
        ...(query.severity ? { severities: query.severity } : {}),
        ...(workflowIds ? { workflowIds } : {}),
      });
      // Runs of the same buckets, so errors per run divide like for like.
      const runs = await readMetrics(db, {
        projectId,
        grain,
        ...range,
        ...(workflowIds ? { workflowIds } : {}),
      });
      return { counts, runs };
    });

    const byStart = Map.groupBy(read.counts, (r) => r.bucketStart);
    const totals = new ErrorTally();
    const buckets = bucketStarts(grain, range.from, range.to).map((start) => {
      const tally = new ErrorTally();
      for (const row of byStart.get(start) ?? []) {
        tally.add(row);
        totals.add(row);
      }
      return {
        start: iso(start),
        count: tally.count,
        by_severity: tally.bySeverity,
        by_source: tally.bySource,
        by_type: tally.byType,
      };
    });
    const runs = read.runs.reduce((n, r) => n + r.succeeded + r.failed + r.canceled, 0);
    const counted = countedRange(grain, range);
    const minutes = (Date.parse(counted.to) - Date.parse(counted.from)) / GRAIN_MS.minute;
    return c.json({
      range: counted,
      bucket: grain,
      buckets,
      totals: {
        total: totals.count,
        by_source: totals.bySource,
        by_type: totals.byType,
        by_severity: totals.bySeverity,
        runs,
        per_run: runs > 0 ? totals.count / runs : null,
        per_minute: minutes > 0 ? totals.count / minutes : null,
      },
    });
  });

  return app;
}
