// Log lines in the browser: a capped buffer, the rows a scrolled list shows, search matches and
// NDJSON. No Svelte here, so the viewer's arithmetic is tested on its own.
import type { LogLine } from './types.ts';

/** Log levels, least severe first; a filter on one means it and the ones after it. */
export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A log line's level. */
export type Level = (typeof LEVELS)[number];

/** How many lines the viewer keeps; older ones are dropped as new ones arrive. */
export const DEFAULT_CAP = 100_000;

/** Whether log id `a` comes after `b`: ids are integers of up to 19 digits, sent as strings. */
export function isAfter(a: string, b: string | undefined): boolean {
  if (b === undefined) return true;
  if (a.length !== b.length) return a.length > b.length;
  return a > b;
}

/**
 * The last `cap` lines received, oldest first, in a plain array: reactivity comes from a version
 * counter beside it, since proxying 100,000 objects would cost more than drawing them.
 */
export class LogBuffer {
  readonly cap: number;
  lines: LogLine[] = [];
  /** Lines dropped from the front to stay within the cap. */
  dropped = 0;
  errors = 0;
  warnings = 0;
  lastId: string | undefined;

  constructor(cap = DEFAULT_CAP) {
    this.cap = cap;
  }

  /** Every line received, dropped ones included: an absolute position counts from here. */
  get total(): number {
    return this.dropped + this.lines.length;
  }

  /**
   * Appends the lines that come after the last one kept (a reconnect may repeat a line) and
   * answers how many it took.
   */
  append(batch: readonly LogLine[]): number {
    let taken = 0;
    for (const line of batch) {
      if (!isAfter(line.id, this.lastId)) continue;
      this.lines.push(line);
      this.lastId = line.id;
      if (line.level === 'error') this.errors++;
      else if (line.level === 'warn') this.warnings++;
      taken++;
    }
    // Dropping in slices of a tenth keeps the cost of shifting the array rare.
    if (this.lines.length > this.cap + Math.ceil(this.cap / 10)) {
      const excess = this.lines.length - this.cap;
      this.lines.splice(0, excess);
      this.dropped += excess;
    }
    return taken;
  }
}

/** The rows a list of `count` rows of `rowHeight` shows when scrolled to `scrollTop`, `end` excluded. */
export function visibleRange(options: {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  count: number;
  overscan?: number;
}): { start: number; end: number } {
  const { scrollTop, viewportHeight, rowHeight, count } = options;
  const overscan = options.overscan ?? 10;
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(count, first - overscan));
  const end = Math.min(count, first + shown + overscan);
  return { start, end: Math.max(start, end) };
}

/** A piece of text, marked when it matches the search. */
export interface Segment {
  text: string;
  match: boolean;
}

/** Splits text around the case-insensitive occurrences of `query`, for highlighting. */
export function splitMatches(text: string, query: string): Segment[] {
  if (!query) return [{ text, match: false }];
  // A case-insensitive RegExp keeps positions in the original text, which lowercasing a copy
  // does not for every alphabet.
  const pattern = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'giu');
  const segments: Segment[] = [];
  let from = 0;
  for (const found of text.matchAll(pattern)) {
    if (found[0] === '') continue;
    if (found.index > from) segments.push({ text: text.slice(from, found.index), match: false });
    segments.push({ text: found[0], match: true });
    from = found.index + found[0].length;
  }
  if (from < text.length || segments.length === 0)
    segments.push({ text: text.slice(from), match: false });
  return segments;
}

/** Whether a line's fields hold anything worth showing. */
export function hasFields(fields: unknown): boolean {
  return fields !== null && typeof fields === 'object' && Object.keys(fields).length > 0;
}

/** Lines as NDJSON, one JSON object a line, as the API sends them. */
export function toNdjson(lines: readonly LogLine[]): string {
  return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
}

/**
 * A stream URL with the project (EventSource cannot send the project header) and the given
 * parameters; empty ones are left out.
 * @example streamUrl('/api/logs/stream', { project, level: 'warn', q: '' })
 */
export function streamUrl(path: string, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

/** A line's time of day to the millisecond, 24-hour. */
export function timeOfDay(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
