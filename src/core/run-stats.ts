import { DurationHistogram } from './duration-cells.ts';

/** One row of rollup counts, with its runs by duration cell when it was read with them. */
export interface RunCounts {
  succeeded: number;
  failed: number;
  canceled: number;
  durations?: readonly number[];
  lastFinishedAt?: Date | null;
}

/** Finished runs of a workflow, a bucket or a whole project, folded from rollup rows. */
export class RunStats {
  succeeded = 0;
  failed = 0;
  canceled = 0;
  lastFinishedAt: Date | null = null;
  readonly durations = new DurationHistogram();

  add(row: RunCounts): this {
    this.succeeded += row.succeeded;
    this.failed += row.failed;
    this.canceled += row.canceled;
    if (row.durations) this.durations.addCells(row.durations);
    if (row.lastFinishedAt && (!this.lastFinishedAt || row.lastFinishedAt > this.lastFinishedAt)) {
      this.lastFinishedAt = row.lastFinishedAt;
    }
    return this;
  }

  merge(other: RunStats): this {
    this.succeeded += other.succeeded;
    this.failed += other.failed;
    this.canceled += other.canceled;
    this.durations.merge(other.durations);
    if (
      other.lastFinishedAt &&
      (!this.lastFinishedAt || other.lastFinishedAt > this.lastFinishedAt)
    ) {
      this.lastFinishedAt = other.lastFinishedAt;
    }
    return this;
  }

  get total(): number {
    return this.succeeded + this.failed + this.canceled;
  }

  /** Shares of all finished runs; null without runs, so an empty range never reads as 0%. */
  get successRate(): number | null {
    return this.total === 0 ? null : this.succeeded / this.total;
  }

  get failureRate(): number | null {
    return this.total === 0 ? null : this.failed / this.total;
  }

  /** The counts, rates and duration quantiles as the API shows them. */
  toJSON() {
    return {
      total: this.total,
      succeeded: this.succeeded,
      failed: this.failed,
      canceled: this.canceled,
      success_rate: this.successRate,
      failure_rate: this.failureRate,
      p50_ms: this.durations.quantile(0.5),
      p95_ms: this.durations.quantile(0.95),
    };
  }
}

/** Folds rows into one RunStats per key. */
export function statsBy<T extends RunCounts>(
  rows: readonly T[],
  keyOf: (row: T) => string,
): Map<string, RunStats> {
  const stats = new Map<string, RunStats>();
  for (const row of rows) {
    const key = keyOf(row);
    let s = stats.get(key);
    if (!s) stats.set(key, (s = new RunStats()));
    s.add(row);
  }
  return stats;
}
