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
