// The time ranges the metrics pages offer, as kept in a page's address and sent to the API.

/** A range back from now, as the API's `range` parameter takes it. */
export type RangePreset = '1h' | '24h' | '7d' | '30d' | '90d';

/** The presets in the order the pickers show them, with their labels. */
export const PRESETS: ReadonlyArray<{ value: RangePreset; label: string; long: string }> = [
  { value: '1h', label: '1 h', long: 'the last hour' },
  { value: '24h', label: '24 h', long: 'the last 24 hours' },
  { value: '7d', label: '7 d', long: 'the last 7 days' },
  { value: '30d', label: '30 d', long: 'the last 30 days' },
  { value: '90d', label: '90 d', long: 'the last 90 days' },
];

/** The range a page shows when its address names none. */
export const DEFAULT_PRESET: RangePreset = '24h';

/** A range: back from now, or between two instants (ISO 8601, UTC). */
export type MetricRange = { preset: RangePreset } | { from: string; to: string };

const DAY_MS = 86_400_000;
// The API's own bounds (src/http/api/metrics.ts), checked here to say what is wrong before asking.
const MAX_SPAN_MS = 3_660 * DAY_MS;
const FUTURE_SLACK_MS = DAY_MS;
const EARLIEST = Date.UTC(2000, 0, 1);

const isPreset = (value: string | null): value is RangePreset =>
  PRESETS.some((p) => p.value === value);

/**
 * The range an address asks for: `range=7d`, or `from` and `to` (both ISO 8601); anything
 * else, or nothing, is the default preset.
 */
export function readRange(params: { get(name: string): string | null }): MetricRange {
  const from = params.get('from');
  const to = params.get('to');
  if (from && to && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to)))
    return { from, to };
  const preset = params.get('range');
  return { preset: isPreset(preset) ? preset : DEFAULT_PRESET };
}

/** The address parameters of a range; the default preset needs none. */
export function rangeParams(range: MetricRange): Record<string, string> {
  if ('preset' in range) return range.preset === DEFAULT_PRESET ? {} : { range: range.preset };
  return { from: range.from, to: range.to };
}

/** The API's query parameters for a range. */
export function rangeQuery(range: MetricRange): Record<string, string> {
  return 'preset' in range ? { range: range.preset } : { from: range.from, to: range.to };
}

/** Whether a range reaches the present, so newly finished runs can change what it shows. */
export function reachesNow(range: MetricRange, now: number = Date.now()): boolean {
  return 'preset' in range || Date.parse(range.to) > now;
}

/** A range in words: "the last 24 hours", or its two ends in local time. */
export function describeRange(range: MetricRange): string {
  if ('preset' in range) return PRESETS.find((p) => p.value === range.preset)?.long ?? range.preset;
  const format = (iso: string) =>
    new Date(iso).toLocaleString(undefined, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
  return `${format(range.from)} to ${format(range.to)}`;
}

/** An instant as the value of an `<input type="datetime-local">`: local time to the minute. */
export function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Checks the two `datetime-local` values of a custom range (local time) and answers the range
 * in UTC, or what is wrong with it, in words.
 */
export function checkCustomRange(
  input: { from: string; to: string },
  now: number = Date.now(),
): { ok: true; value: { from: string; to: string } } | { ok: false; error: string } {
  if (!input.from || !input.to) return { ok: false, error: 'Give both a start and an end.' };
  // A datetime-local value without an offset is local time, as the browser shows it.
  const from = new Date(input.from).getTime();
  const to = new Date(input.to).getTime();
  if (Number.isNaN(from)) return { ok: false, error: 'The start is not a date and time.' };
  if (Number.isNaN(to)) return { ok: false, error: 'The end is not a date and time.' };
  if (from >= to) return { ok: false, error: 'The start must be before the end.' };
  if (from < EARLIEST) return { ok: false, error: 'The start must be in 2000 or later.' };
  if (to > now + FUTURE_SLACK_MS)
    return { ok: false, error: 'The end may be at most a day from now.' };
  if (to - from > MAX_SPAN_MS) return { ok: false, error: 'A range spans at most 3,660 days.' };
  return {
    ok: true,
    value: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
  };
}
