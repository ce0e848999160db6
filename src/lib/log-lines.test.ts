import { describe, expect, it } from 'vitest';
import {
  isAfter,
  LogBuffer,
  splitMatches,
  streamUrl,
  timeOfDay,
  toNdjson,
  visibleRange,
} from './log-lines.ts';
import type { LogLine } from './types.ts';

const line = (id: number, level: LogLine['level'] = 'info'): LogLine => ({
  id: String(id),
  run_id: 'r',
  workflow_id: 'w',
  node_id: null,
  ts: '2025-01-01T00:00:00.000Z',
  level,
  message: `line ${id}`,
  fields: {},
});

describe('isAfter', () => {
  it('compares ids as integers, beyond what a double holds exactly', () => {
    expect(isAfter('10', '9')).toBe(true);
    expect(isAfter('9', '10')).toBe(false);
    expect(isAfter('9007199254740993', '9007199254740992')).toBe(true);
    expect(isAfter('5', '5')).toBe(false);
    expect(isAfter('1', undefined)).toBe(true);
  });
});

describe('LogBuffer', () => {
  it('skips lines it already holds and counts errors and warnings', () => {
    const buffer = new LogBuffer();
    expect(buffer.append([line(1), line(2, 'error'), line(3, 'warn')])).toBe(3);
    // A reconnect may send the last line again.
    expect(buffer.append([line(3, 'warn'), line(4, 'error')])).toBe(1);
    expect(buffer.lines.map((l) => l.id)).toEqual(['1', '2', '3', '4']);
    expect([buffer.errors, buffer.warnings]).toEqual([2, 1]);
  });

  it('keeps the last lines within the cap and counts the dropped ones', () => {
    const buffer = new LogBuffer(100);
    for (let i = 1; i <= 250; i++) buffer.append([line(i)]);
    expect(buffer.lines.length).toBeGreaterThanOrEqual(100);
    expect(buffer.lines.length).toBeLessThanOrEqual(110);
    expect(buffer.total).toBe(250);
    expect(buffer.dropped).toBe(250 - buffer.lines.length);
    expect(buffer.lines.at(-1)!.id).toBe('250');
    expect(buffer.lines[0]!.id).toBe(String(buffer.dropped + 1));
  });
});

describe('visibleRange', () => {
  it('answers the rows in view plus the overscan, within the list', () => {
    const base = { viewportHeight: 100, rowHeight: 20, count: 1000, overscan: 5 };
    expect(visibleRange({ ...base, scrollTop: 0 })).toEqual({ start: 0, end: 11 });
    expect(visibleRange({ ...base, scrollTop: 2000 })).toEqual({ start: 95, end: 111 });
    expect(visibleRange({ ...base, scrollTop: 20_000 })).toEqual({ start: 995, end: 1000 });
    expect(visibleRange({ ...base, scrollTop: 0, count: 0 })).toEqual({ start: 0, end: 0 });
  });
});

describe('splitMatches', () => {
  it('marks every case-insensitive occurrence, keeping the original case', () => {
    expect(splitMatches('Gate opened at the GATE', 'gate')).toEqual([
      { text: 'Gate', match: true },
      { text: ' opened at the ', match: false },
      { text: 'GATE', match: true },
    ]);
  });

  it('takes the query literally', () => {
    expect(splitMatches('a.b (c)', '(c)')).toEqual([
      { text: 'a.b ', match: false },
      { text: '(c)', match: true },
    ]);
    expect(splitMatches('abc', '.')).toEqual([{ text: 'abc', match: false }]);
    expect(splitMatches('abc', '')).toEqual([{ text: 'abc', match: false }]);
  });
});

describe('streamUrl, toNdjson, timeOfDay', () => {
  it('leaves out empty parameters and escapes the others', () => {
    expect(streamUrl('/api/logs/stream', { project: 'p1', level: '', q: 'a b&c' })).toBe(
      '/api/logs/stream?project=p1&q=a+b%26c',
    );
    expect(streamUrl('/x', { q: undefined })).toBe('/x');
  });

  it('writes one JSON object a line', () => {
    const text = toNdjson([line(1), line(2)]);
    expect(text.split('\n')).toHaveLength(3);
    expect(JSON.parse(text.split('\n')[1]!)).toEqual(line(2));
  });

  it('shows the time of day to the millisecond', () => {
    expect(timeOfDay('2025-01-01T00:00:00.007Z')).toMatch(/^\d\d:\d\d:\d\d\.007$/);
  });
});
