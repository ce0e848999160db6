import type pg from 'pg';
import { cellSpan } from '../core/duration-cells.ts';
import { ceilTo, floorTo, retentionAt } from '../core/metric-range.ts';
import { recountRunMetrics, type MetricDifference } from '../db/queries/run-metrics.ts';

const USAGE = 'Usage: meshhook metrics rebuild [--from DATE] [--to DATE] [--check] [--json]';
/** Differences printed in full; the rest are counted. */
const SHOWN = 50;

/** Parses a date (YYYY-MM-DD) or date-time; undefined when absent, NaN when not a date. */
function parseDay(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '∞';
  return ms >= 1_000 ? `${ms / 1_000} s` : `${ms} ms`;
}

function describeDifference(d: MetricDifference, slugs: Map<string, string>): string {
  const where = d.grain === 'all' ? 'all time' : `${d.grain} ${d.bucketStart!.toISOString()}`;
  const parts = (['succeeded', 'failed', 'canceled'] as const)
    .filter((k) => d.stored[k] !== d.expected[k])
    .map((k) => `${k} ${d.stored[k]} → ${d.expected[k]}`);
  const cells = d.expected.durations.flatMap((n, cell) =>
    n === d.stored.durations[cell] ? [] : [cell],
  );
  if (cells.length > 0) {
    const spans = cells.slice(0, 3).map((cell) => {
      const span = cellSpan(cell);
      return `${formatMs(span.from)}–${formatMs(span.to)} ${d.stored.durations[cell]} → ${d.expected.durations[cell]}`;
    });
    parts.push(`durations ${spans.join(', ')}${cells.length > 3 ? ', …' : ''}`);
  }
  return `  ${slugs.get(d.workflowId) ?? d.workflowId}  ${where}: ${parts.join('; ')}`;
}

/**
 * `meshhook metrics rebuild`: counts the finished runs of whole UTC days again and compares
 * them with the rollups, bucket by bucket; corrects what differs unless --check, which exits 1
 * on a difference instead. Without --from and --to it covers everything, all-time totals too.
 */
export async function metricsCommand(
  pool: pg.Pool,
  args: string[],
  options: {
    from?: string | undefined;
    to?: string | undefined;
    check: boolean;
    json: boolean;
    retention: { minuteDays: number; hourDays: number };
  },
): Promise<number> {
  if (args[0] !== 'rebuild' || args.length > 1) {
    console.error(USAGE);
    return 2;
  }
  const from = parseDay(options.from);
  const to = parseDay(options.to);
  if (Number.isNaN(from) || Number.isNaN(to)) {
    console.error(`--from and --to take a date (2026-01-31) or an ISO date-time\n${USAGE}`);
    return 2;
  }
  const start = from === undefined ? 0 : floorTo('day', from);
  const end = to === undefined ? Date.UTC(9999, 0, 1) : ceilTo('day', to + 1);
  if (start >= end) {
    console.error('--from must be before --to');
    return 2;
  }
  const everything = from === undefined && to === undefined;
  const started = Date.now();
  const result = await recountRunMetrics(pool, {
    ...(everything ? {} : { from: new Date(start), to: new Date(end) }),
    retention: retentionAt(Date.now(), options.retention),
    fix: !options.check,
  });
  const seconds = (Date.now() - started) / 1_000;
  const range = everything
    ? 'all time'
    : `${from === undefined ? 'the start' : day(start)} to ${to === undefined ? 'now' : day(end - 1)} (UTC days)`;

  if (options.json) {
    console.log(
      JSON.stringify({
        from: everything || from === undefined ? null : day(start),
        to: everything || to === undefined ? null : day(end - 1),
        runs: result.runs,
        differences: result.differences.map((d) => ({
          workflow_id: d.workflowId,
          grain: d.grain,
          bucket_start: d.bucketStart?.toISOString() ?? null,
          stored: d.stored,
          expected: d.expected,
        })),
        corrected: !options.check && result.differences.length > 0,
        seconds,
      }),
    );
  } else {
    const runs = result.runs.toLocaleString('en-US');
    console.log(`Counted ${runs} finished runs of ${range} again in ${seconds.toFixed(1)} s.`);
    if (result.differences.length === 0) {
      console.log('The run metrics match the runs: no differences.');
    } else {
      const { rows } = await pool.query<{ id: string; slug: string }>(
        `select id, slug from workflows where id = any($1::uuid[])`,
        [[...new Set(result.differences.map((d) => d.workflowId))]],
      );
      const slugs = new Map(rows.map((r) => [r.id, r.slug]));
      console.log(
        `${result.differences.length} buckets differ (workflow, bucket: stored → counted):`,
      );
      for (const d of result.differences.slice(0, SHOWN)) console.log(describeDifference(d, slugs));
      if (result.differences.length > SHOWN) {
        console.log(`  … and ${result.differences.length - SHOWN} more`);
      }
      console.log(
        options.check ? 'Not corrected (--check).' : 'Corrected: the rollups now match the runs.',
      );
    }
  }
  return options.check && result.differences.length > 0 ? 1 : 0;
}
