/**
 * Run durations as a histogram of fixed cells. The lower bounds follow the R10 series (1, 1.25,
 * 1.6, 2, 2.5, 3.2, 4, 5, 6.3 and 8 times a power of ten) from 1 ms to 10,000 s: cell 0 holds
 * runs shorter than 1 ms, cell i those from bound i − 1 up to bound i, and the last cell
 * everything from 10,000 s on. Consecutive bounds are at most 28% apart, so a quantile read
 * from the cells is within that of the true one, and usually far closer.
 *
 * The database computes the same cells (meshhook.duration_cell in migration 0005); a test
 * keeps the two lists equal.
 */
const R10 = [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8];

/** Lower bounds (ms) of cells 1..71. */
export const DURATION_CELL_BOUNDS: readonly number[] = [
  ...Array.from({ length: 7 }, (_, k) => R10.map((m) => Math.round(m * 10 ** k * 1000) / 1000)),
  [1e7],
].flat();

/** Cells 0..71. */
export const DURATION_CELLS = DURATION_CELL_BOUNDS.length + 1;

/** The cell of a duration, as PostgreSQL's width_bucket finds it. */
export function durationCell(ms: number): number {
  let lo = 0;
  let hi = DURATION_CELL_BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (DURATION_CELL_BOUNDS[mid]! <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A cell's span in ms: [from, to), `to` infinite for the last one. */
export function cellSpan(cell: number): { from: number; to: number } {
  return {
    from: cell === 0 ? 0 : DURATION_CELL_BOUNDS[cell - 1]!,
    to: DURATION_CELL_BOUNDS[cell] ?? Infinity,
  };
}

/** Counts by cell, merged from any number of rows. */
export class DurationHistogram {
  readonly counts = new Float64Array(DURATION_CELLS);
  total = 0;

  add(cell: number, count: number): void {
    if (count <= 0) return;
    this.counts[cell] = this.counts[cell]! + count;
    this.total += count;
  }

  /** Adds counts by cell, as a rollup row holds them (index i: cell i). */
  addCells(counts: readonly number[]): void {
    for (let cell = 0; cell < DURATION_CELLS; cell++) this.add(cell, counts[cell] ?? 0);
  }

  merge(other: DurationHistogram): void {
    for (let i = 0; i < DURATION_CELLS; i++) this.counts[i] = this.counts[i]! + other.counts[i]!;
    this.total += other.total;
  }

  /**
   * The q-quantile (0 < q < 1) in ms, null without runs. Within its cell the rank is placed
   * geometrically (the cells grow geometrically); in the last cell, its lower bound.
   */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const rank = q * this.total;
    let below = 0;
    for (let cell = 0; cell < DURATION_CELLS; cell++) {
      const count = this.counts[cell]!;
      if (count === 0 || below + count < rank) {
        below += count;
        continue;
      }
      const { from, to } = cellSpan(cell);
      const share = Math.min(1, Math.max(0, (rank - below) / count));
      if (!Number.isFinite(to)) return from;
      const at = cell === 0 ? to * share : from * (to / from) ** share;
      return Math.round(at * 10) / 10;
    }
    return cellSpan(DURATION_CELLS - 1).from;
  }

  /** Runs shorter than `ms` (cells wholly below it), for Prometheus' cumulative buckets. */
  countBelow(ms: number): number {
    let n = 0;
    for (let cell = 0; cell < DURATION_CELLS; cell++) {
      if (cellSpan(cell).to > ms) break;
      n += this.counts[cell]!;
    }
    return n;
  }
}
