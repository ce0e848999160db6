// Times, durations and JSON as the pages show them.

/** A time as local date and time, or a dash. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** A duration in ms as "85 ms", "2.4 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Milliseconds between two times, or null when one is missing. */
export function between(
  from: string | null | undefined,
  to: string | null | undefined,
): number | null {
  if (!from || !to) return null;
  return new Date(to).getTime() - new Date(from).getTime();
}

/** JSON with two-space indentation. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/** The first characters of a UUID, enough to tell runs apart. */
export const shortId = (id: string): string => id.slice(0, 8);

const NODE_KEYS = ['id', 'type', 'config'];
const EDGE_KEYS = ['from', 'to', 'when'];

/** Known keys first, in the given order, then the rest as they come. */
function ordered(value: unknown, keys: string[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  const rank = (key: string) => (keys.includes(key) ? keys.indexOf(key) : keys.length);
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)));
}

/**
 * A definition as JSON text in reading order (nodes before edges, id and type first), since
 * the stored form comes back with its keys sorted by the database.
 */
export function formatDefinition(definition: unknown): string {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition))
    return pretty(definition);
  const top = ordered(definition, ['nodes', 'edges']) as { nodes?: unknown; edges?: unknown };
  return pretty({
    ...top,
    ...(Array.isArray(top.nodes) ? { nodes: top.nodes.map((n) => ordered(n, NODE_KEYS)) } : {}),
    ...(Array.isArray(top.edges) ? { edges: top.edges.map((e) => ordered(e, EDGE_KEYS)) } : {}),
  });
}

/**
 * A share in [0, 1] as a percentage with one decimal, "97.3%", or a dash without one. Only an
 * exact 0 or 1 reads "0%" or "100%": one failure in 5,000 runs is ">99.9%", not "100.0%".
 */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return '—';
  if (rate >= 1) return '100%';
  if (rate <= 0) return '0%';
  const tenths = Math.round(rate * 1000);
  if (tenths >= 1000) return '>99.9%';
  if (tenths <= 0) return '<0.1%';
  return `${(tenths / 10).toFixed(1)}%`;
}

/** Units of formatShortDuration, each with the count of it that makes the next one. */
const SHORT_UNITS: ReadonlyArray<{ ms: number; name: string; next: number }> = [
  { ms: 1, name: 'ms', next: 1000 },
  { ms: 1000, name: 's', next: 60 },
  { ms: 60_000, name: 'min', next: 60 },
  { ms: 3_600_000, name: 'h', next: 24 },
  { ms: 86_400_000, name: 'd', next: Infinity },
];

/**
 * A duration in ms in one unit, as figures and tables show it: "850 ms", "2.4 s", "42 s",
 * "3 min", "1.5 h"; one decimal below 10 of a unit (none for ms), a dash without a value.
 */
export function formatShortDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  for (const unit of SHORT_UNITS) {
    const value = Math.max(0, ms) / unit.ms;
    const rounded = unit.ms > 1 && value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
    // 59.97 s rounds to 60 s: that is "1 min".
    if (rounded < unit.next) return `${rounded} ${unit.name}`;
  }
  return '—';
}

/**
 * A bucket's start as a chart's axis label in local time: the time of day for minute and hour
 * buckets, except the date for those starting at midnight; the date for day buckets.
 */
export function formatBucketStart(iso: string, grain: 'minute' | 'hour' | 'day'): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const midnight = date.getHours() === 0 && date.getMinutes() === 0;
  if (grain === 'day' || midnight)
    return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}
