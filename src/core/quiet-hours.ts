// Quiet hours are read on the wall clock of the rule's time zone, not as fixed UTC offsets: a
// person asleep from 22:00 to 07:00 stays asleep across a DST change, so on the night the clocks
// go forward the quiet period is an hour shorter in real time, and an hour longer when they go
// back. The arithmetic goes through Intl.DateTimeFormat, which carries the IANA database.

/** Quiet hours of a rule: alerts in this daily period are held back (the dispatcher decides how). */
export interface QuietHours {
  /** Local time the quiet period starts, `HH:MM` on a 24-hour clock; inclusive. */
  start: string;
  /** Local time it ends, exclusive; earlier than `start` for a period across midnight (22:00–07:00). */
  end: string;
  /** IANA time zone the times are read in, e.g. `Europe/Paris`. */
  time_zone: string;
  /**
   * Days of the week on which a quiet period starts, 0 = Sunday … 6 = Saturday in the time
   * zone; a period across midnight belongs to the day it starts. Absent or null: every day.
   */
  days?: readonly number[] | null;
}

/** A silence: alerts of the rule and/or workflow it names are muted until `ends_at`. */
export interface Silence {
  id: string;
  /** The rule it mutes; null mutes every rule. */
  rule_id: string | null;
  /** The workflow it mutes; null mutes every workflow (and the alerts of no workflow). */
  workflow_id: string | null;
  /** When it takes effect; absent or null: at once. */
  starts_at?: Date | null;
  /** When it stops; exclusive. */
  ends_at: Date;
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_MS = 86_400_000;

/** Minutes after midnight of an `HH:MM` time (00:00–23:59), or undefined when it is not one. */
export function parseClock(text: string): number | undefined {
  const match = CLOCK.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * The canonical name of an IANA time zone (`europe/paris` → `Europe/Paris`, `US/Eastern` →
 * `America/New_York`), or undefined when the runtime does not know it. Fixed offsets such as
 * `+01:00` are refused: they would not follow the DST changes a person's night does.
 */
export function canonicalTimeZone(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  /** Minutes after local midnight. */
  minute: number;
  /** The wall-clock reading as if it were UTC, in ms: what offsets are measured against. */
  ms: number;
}

function wallAt(timeZone: string, t: number): Wall {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(t))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  const subsecond = ((t % 1000) + 1000) % 1000;
  return {
    year,
    month,
    day,
    minute: hour * 60 + minute,
    ms: Date.UTC(year, month - 1, day, hour, minute, second) + subsecond,
  };
}

/** The first instant at which the wall clock of `timeZone` reads `target` (wall ms) or later. */
function firstInstantAt(timeZone: string, target: number): number {
  const offsets = [target - DAY_MS, target, target + DAY_MS].map((t) => wallAt(timeZone, t).ms - t);
  // On the night clocks go back a reading happens twice; the quiet period ends at the first.
  const exact = offsets.map((o) => target - o).filter((t) => wallAt(timeZone, t).ms === target);
  if (exact.length > 0) return Math.min(...exact);
  // The clock jumped over the reading (the night clocks go forward): the end is the jump.
  let before = target - Math.max(...offsets);
  let after = target - Math.min(...offsets);
  while (after - before > 1) {
    const mid = Math.floor((before + after) / 2);
    if (wallAt(timeZone, mid).ms >= target) after = mid;
    else before = mid;
  }
  return after;
}

function clockOf(quietHours: QuietHours): { start: number; end: number } {
  const start = parseClock(quietHours.start);
  const end = parseClock(quietHours.end);
  if (start === undefined || end === undefined) {
    throw new Error(`quiet hours ${quietHours.start}–${quietHours.end} were not validated`);
  }
  return { start, end };
}

function startsOn(quietHours: QuietHours, weekday: number): boolean {
  return !quietHours.days || quietHours.days.includes(weekday);
}

function weekdayOf(wall: Wall, daysLater = 0): number {
  return new Date(Date.UTC(wall.year, wall.month - 1, wall.day + daysLater)).getUTCDay();
}

/**
 * Whether `at` falls inside the quiet hours: the local time (to the minute) is at or after
 * `start` and before `end`, in a period that starts on one of `days`. On the night clocks go
 * back, a repeated local hour inside the range is quiet both times it is read.
 *
 * @example
 * isQuiet({ start: '22:00', end: '07:00', time_zone: 'Europe/Paris' }, new Date('2026-03-28T23:00:00Z')); // true
 */
export function isQuiet(quietHours: QuietHours, at: Date): boolean {
  const { start, end } = clockOf(quietHours);
  const wall = wallAt(quietHours.time_zone, at.getTime());
  if (start < end) {
    return wall.minute >= start && wall.minute < end && startsOn(quietHours, weekdayOf(wall));
  }
  if (wall.minute >= start) return startsOn(quietHours, weekdayOf(wall));
  // Before `end` in the morning: the period started the evening before.
  if (wall.minute < end) return startsOn(quietHours, weekdayOf(wall, -1));
  return false;
}

/** The end of the quiet period holding `at` (the next time the local clock reaches `end`). */
function periodEnd(quietHours: QuietHours, at: number): number {
  const { start, end } = clockOf(quietHours);
  const wall = wallAt(quietHours.time_zone, at);
  const nextDay = start > end && wall.minute >= start ? 1 : 0;
  const target = Date.UTC(wall.year, wall.month - 1, wall.day + nextDay, 0, end);
  return firstInstantAt(quietHours.time_zone, target);
}

/**
 * When the quiet period holding `at` ends: the first instant after it that is not quiet, so a
 * held alert can be scheduled for then. Undefined when `at` is not quiet.
 *
 * @example
 * quietUntil({ start: '22:00', end: '07:00', time_zone: 'Europe/Paris' }, new Date('2026-03-28T23:00:00Z'));
 * // 2026-03-29T05:00:00.000Z: 07:00 in summer time, the night the clocks go forward
 */
export function quietUntil(quietHours: QuietHours, at: Date): Date | undefined {
  if (!isQuiet(quietHours, at)) return undefined;
  let until = at.getTime();
  // A period can run straight into the next where a DST jump swallows the minutes between them
  // (an end of 02:00 and a start of 02:30 on the night clocks go forward); a few steps suffice.
  for (let step = 0; step < 4 && isQuiet(quietHours, new Date(until)); step++) {
    until = periodEnd(quietHours, until);
  }
  return new Date(until);
}

/**
 * The silence that mutes an alert of `ruleId` about `workflowId` at `at`, or undefined. A
 * silence applies when it names that rule or none, that workflow or none, has started
 * (`starts_at` at or before `at`) and not ended (`at` before `ends_at`). When several apply,
 * the one ending last is returned, so "muted until" tells the whole story.
 *
 * @example
 * activeSilence(rows, { ruleId: rule.id, workflowId: run.workflowId, at: now })?.ends_at;
 */
export function activeSilence<S extends Silence>(
  silences: readonly S[],
  target: { ruleId: string; workflowId: string | null; at: Date },
): S | undefined {
  const at = target.at.getTime();
  let found: S | undefined;
  for (const silence of silences) {
    if (silence.rule_id !== null && !sameId(silence.rule_id, target.ruleId)) continue;
    if (silence.workflow_id !== null && !sameId(silence.workflow_id, target.workflowId)) continue;
    if (silence.starts_at && silence.starts_at.getTime() > at) continue;
    if (silence.ends_at.getTime() <= at) continue;
    if (!found || silence.ends_at.getTime() > found.ends_at.getTime()) found = silence;
  }
  return found;
}

function sameId(a: string, b: string | null): boolean {
  return b !== null && a.toLowerCase() === b.toLowerCase();
}
