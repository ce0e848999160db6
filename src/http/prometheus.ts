import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type pg from 'pg';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Registry,
  type Metric,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';
import { cellSpan, DURATION_CELLS, DurationHistogram } from '../core/duration-cells.ts';
import { readInstanceErrorTotals } from '../db/queries/error-events.ts';
import {
  readInstanceRunTotals,
  readInstanceStepTotals,
  readQueueDepth,
} from '../db/queries/run-metrics.ts';
import { AppError } from './app-error.ts';
import type { AppEnv, HttpDeps } from './context.ts';

/**
 * GET /metrics: the instance in Prometheus' text format, for its operator. Run and step counts
 * come from the rollups (migration 0005) and the queue from step_jobs, read at scrape time as
 * the service role across every project, so they are all-time, the same from every web
 * process and unchanged by restarts; log streams and the process metrics are this process's.
 * Labels are project ids, workflow slugs and fixed sets of statuses: never run ids.
 */

const RUN_STATUSES = ['succeeded', 'failed', 'canceled'] as const;
const STEP_STATUSES = ['succeeded', 'failed', 'retried', 'canceled'] as const;

/**
 * Duration bucket bounds (ms). Each is a bound of the duration cells (src/core/duration-cells.ts),
 * so a bucket holds exactly the runs of the cells below it. A cell is [from, to) where
 * Prometheus' `le` means ≤: a run of exactly 5 ms counts from le="0.01" on, not le="0.005".
 */
const BUCKETS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
  500_000, 1_000_000, 2_500_000,
];

/** The durations each cell adds to `_sum`: its midpoint, its lower bound for the open last cell. */
const CELL_ESTIMATE_MS = Array.from({ length: DURATION_CELLS }, (_, cell) => {
  const { from, to } = cellSpan(cell);
  return Number.isFinite(to) ? (from + to) / 2 : from;
});

type WorkflowLabels = { project: string; workflow: string };

interface WorkflowRuns extends Record<(typeof RUN_STATUSES)[number], number> {
  labels: WorkflowLabels;
  durations: DurationHistogram;
}

/** What one scrape reads from the database. */
interface InstanceReadings {
  runs: WorkflowRuns[];
  steps: Array<{ labels: WorkflowLabels; counts: Map<string, number> }>;
  queue: Awaited<ReturnType<typeof readQueueDepth>>;
  errors: Awaited<ReturnType<typeof readInstanceErrorTotals>>;
}

/** The reads of a scrape, in parallel: each holds a pooled connection for its query only. */
async function readInstance(pool: pg.Pool): Promise<InstanceReadings> {
  const [cells, stepTotals, queue, errors] = await Promise.all([
    readInstanceRunTotals(pool),
    readInstanceStepTotals(pool),
    readQueueDepth(pool),
    readInstanceErrorTotals(pool),
  ]);
  const runs = new Map<string, WorkflowRuns>();
  for (const c of cells) {
    let w = runs.get(c.workflowId);
    if (!w) {
      const labels = { project: c.projectId, workflow: c.slug };
      w = { labels, succeeded: 0, failed: 0, canceled: 0, durations: new DurationHistogram() };
      runs.set(c.workflowId, w);
    }
    w.succeeded += c.succeeded;
    w.failed += c.failed;
    w.canceled += c.canceled;
    if (c.durations) w.durations.addCells(c.durations);
  }
  const steps = new Map<string, InstanceReadings['steps'][number]>();
  for (const s of stepTotals) {
    let w = steps.get(s.workflowId);
    if (!w) {
      w = { labels: { project: s.projectId, workflow: s.slug }, counts: new Map() };
      steps.set(s.workflowId, w);
    }
    w.counts.set(s.status, s.count);
  }
  return { runs: [...runs.values()], steps: [...steps.values()], queue, errors };
}

/**
 * A histogram whose buckets come already counted, from the duration cells. prom-client's
 * Histogram only takes single observations, so this is a collector of its own: the registry
 * reads any metric through `get()`, and formats these values like a Histogram's.
 */
class CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly #read: () => Promise<WorkflowRuns[]>;

  constructor(options: {
    name: string;
    help: string;
    registry: Registry;
    read: () => Promise<WorkflowRuns[]>;
  }) {
    this.name = options.name;
    this.help = options.help;
    this.#read = options.read;
    // The registry's type lists prom-client's own classes; at run time it takes any metric
    // with a name and a get() (registry.js getMetricsAsString).
    options.registry.registerMetric(this as unknown as Metric);
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: Array<MetricValueWithName<string>> = [];
    for (const { labels, durations } of await this.#read()) {
      for (const ms of BUCKETS_MS) {
        const value = durations.countBelow(ms);
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: ms / 1000 },
          value,
        });
      }
      const { total } = durations;
      let sumMs = 0;
      for (let cell = 0; cell < DURATION_CELLS; cell++) {
        sumMs += durations.counts[cell]! * CELL_ESTIMATE_MS[cell]!;
      }
      values.push(
        { metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: total },
        { metricName: `${this.name}_sum`, labels, value: sumMs / 1000 },
        { metricName: `${this.name}_count`, labels, value: total },
      );
    }
    // The declared type wants `type` as an enum and a collect(); at run time the registry reads
    // name, help, type (a string) and values, as prom-client's own metrics give them.
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  /** Nothing is kept between scrapes (registry.resetMetrics calls this). */
  reset(): void {}
}

/** The app's registry and a render that reads the database once per scrape. */
export function createPrometheusMetrics(
  deps: Pick<HttpDeps, 'pool' | 'logHub' | 'errors' | 'alertDeliveries'>,
): {
  contentType: string;
  render(): Promise<string>;
} {
  // Never the global default registry: one process may run several apps (tests do).
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meshhook_' });

  // The collectors of one scrape share its reads, whatever order the registry calls them in;
  // concurrent scrapes each read their own.
  const scrape = new AsyncLocalStorage<Promise<InstanceReadings>>();
  const readings = () => scrape.getStore() ?? readInstance(deps.pool);

  new Counter({
    name: 'meshhook_runs_total',
    help: 'Runs finished, by workflow and final status, over all time.',
    labelNames: ['project', 'workflow', 'status'] as const,
    registers: [registry],
    async collect() {
      const { runs } = await readings();
      this.reset();
      for (const w of runs) {
        for (const status of RUN_STATUSES) this.inc({ ...w.labels, status }, w[status]);
      }
    },
  });
  new CellHistogram({
    name: 'meshhook_run_duration_seconds',
    help:
      'Durations of finished runs (any final status), by workflow, over all time. ' +
      'The buckets are exact; _sum is an estimate from the midpoints of the duration cells ' +
      '(within 14% of the true sum; runs of 10,000 s or more count as 10,000 s).',
    registry,
    read: async () => (await readings()).runs,
  });
  new Counter({
    name: 'meshhook_steps_total',
    help:
      'Step attempts settled, by workflow and outcome, over all time: succeeded, failed ' +
      '(the last attempt failed), retried (an attempt failed and another was scheduled), canceled.',
    labelNames: ['project', 'workflow', 'status'] as const,
    registers: [registry],
    async collect() {
      const { steps } = await readings();
      this.reset();
      for (const w of steps) {
        for (const status of STEP_STATUSES) {
          this.inc({ ...w.labels, status }, w.counts.get(status) ?? 0);
        }
      }
    },
  });
  new Counter({
    name: 'meshhook_errors_total',
    help:
      'Errors captured, by project (empty for errors of no project), source, type and severity, ' +
      'over all time.',
    labelNames: ['project', 'source', 'type', 'severity'] as const,
    registers: [registry],
    async collect() {
      const { errors } = await readings();
      this.reset();
      for (const e of errors) {
        const labels = { project: e.projectId ?? '', source: e.source, severity: e.severity };
        this.inc({ ...labels, type: e.errorType }, e.count);
      }
    },
  });
  new Counter({
    name: 'meshhook_errors_dropped_total',
    help:
      'Errors this process captured but could not store (the database unreachable, or more ' +
      'than 10,000 waiting).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(deps.errors.counts.dropped);
    },
  });
  new Counter({
    name: 'meshhook_alert_deliveries_total',
    help:
      'Alert delivery attempts this process made, by outcome: sent, retried (failed, tried ' +
      'again later), failed (for good: a permanent error or the last attempt).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = deps.alertDeliveries?.() ?? { sent: 0, failed: 0, retried: 0 };
      this.inc({ outcome: 'sent' }, counts.sent);
      this.inc({ outcome: 'retried' }, counts.retried);
      this.inc({ outcome: 'failed' }, counts.failed);
    },
  });
  new Gauge({
    name: 'meshhook_queue_jobs',
    help: 'Step jobs in the queue: ready (due, waiting for a worker), leased, scheduled (due later).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { queue } = await readings();
      this.set({ state: 'ready' }, queue.ready);
      this.set({ state: 'leased' }, queue.leased);
      this.set({ state: 'scheduled' }, queue.scheduled);
    },
  });
  new Gauge({
    name: 'meshhook_queue_oldest_ready_seconds',
    help: 'How long the oldest ready step job has been due (0 when none is ready).',
    registers: [registry],
    async collect() {
      this.set((await readings()).queue.oldestReadySeconds);
    },
  });
  new Gauge({
    name: 'meshhook_log_streams',
    help: 'Live log streams open on this process.',
    registers: [registry],
    collect() {
      this.set(deps.logHub.size);
    },
  });
  new Counter({
    name: 'meshhook_log_streams_lagged_total',
    help: 'Live log streams this process ended because their client read too slowly.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(deps.logHub.lagged);
    },
  });

  return {
    contentType: registry.contentType,
    render: () => scrape.run(readInstance(deps.pool), () => registry.metrics()),
  };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether the Authorization header carries the token, compared in constant time. */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // Digests have one length whatever was sent, so timingSafeEqual never sees a length mismatch.
  return match !== null && timingSafeEqual(sha256(match[1]!), expected);
}

/**
 * The /metrics route: open, or with `deps.metricsToken` set, only to
 * `Authorization: Bearer <token>`. An unreachable database leaves through the app's error
 * handler as a 503.
 *
 * @example
 * app.route('/metrics', prometheusRoutes(deps));
 */
export function prometheusRoutes(deps: HttpDeps): Hono<AppEnv> {
  const metrics = createPrometheusMetrics(deps);
  const expected = deps.metricsToken === undefined ? undefined : sha256(deps.metricsToken);
  const routes = new Hono<AppEnv>();
  routes.get('/', async (c) => {
    if (expected && !bearerMatches(c.req.header('authorization'), expected)) {
      c.header('www-authenticate', 'Bearer realm="metrics"');
      throw new AppError(
        'unauthorized',
        'send the metrics token (MESHHOOK_METRICS_TOKEN) as "Authorization: Bearer <token>"',
      );
    }
    const body = await metrics.render();
    return c.body(body, 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
  });
  return routes;
}
