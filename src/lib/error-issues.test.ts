import { describe, expect, it } from 'vitest';
import {
  errorSeries,
  formatRatio,
  formatRelative,
  issueQuery,
  issueViewParams,
  MAX_TYPES,
  readIssueView,
} from './error-issues.ts';
import type { ErrorBucket } from './types.ts';

const params = (search: string) => new URLSearchParams(search);

function bucket(start: string, by: Partial<ErrorBucket>): ErrorBucket {
  return { start, count: 0, by_severity: {}, by_source: {}, by_type: {}, ...by };
}

describe('readIssueView and issueViewParams', () => {
  it('reads the defaults from an empty address, and writes none back', () => {
    const view = readIssueView(params(''));
    expect(view).toEqual({
      status: 'open',
      source: '',
      severity: '',
      workflow: '',
      run: '',
      q: '',
      sort: 'last_seen',
      order: 'desc',
      group: 'severity',
    });
    expect(issueViewParams(view)).toEqual({});
  });

  it('keeps what the address sets, and drops what it does not know', () => {
    const view = readIssueView(
      params('status=all&source=web&severity=high&sort=count&order=asc&group=type&q=%20boom%20'),
    );
    expect(view).toMatchObject({
      status: 'all',
      source: 'web',
      severity: 'high',
      sort: 'count',
      order: 'asc',
      group: 'type',
      q: 'boom',
    });
    expect(issueViewParams(view)).toEqual({
      status: 'all',
      source: 'web',
      severity: 'high',
      q: 'boom',
      sort: 'count',
      order: 'asc',
      group: 'type',
    });
    expect(
      readIssueView(params('status=gone&source=mars&sort=name&order=up&group=colour')),
    ).toMatchObject({
      status: 'open',
      source: '',
      sort: 'last_seen',
      order: 'desc',
      group: 'severity',
    });
  });

  it('asks the API for the filters set, and for open issues by default', () => {
    expect(issueQuery(readIssueView(params('workflow=checkout&run=r1')))).toEqual({
      status: 'open',
      source: undefined,
      severity: undefined,
      workflow: 'checkout',
      run: 'r1',
      q: undefined,
      sort: 'last_seen',
      order: 'desc',
    });
  });
});

describe('errorSeries', () => {
  const buckets = [
    bucket('2026-01-01T00:00:00Z', {
      count: 3,
      by_severity: { high: 2, low: 1 },
      by_source: { worker: 2, web: 1 },
      by_type: { step_failed: 2, browser_error: 1 },
    }),
    bucket('2026-01-01T01:00:00Z', {
      count: 1,
      by_severity: { medium: 1 },
      by_source: { web: 1 },
      by_type: { browser_error: 1 },
    }),
  ];

  it('stacks every severity, worst first, even those without errors', () => {
    expect(errorSeries(buckets, 'severity')).toEqual([
      { key: 'high', label: 'High', data: [2, 0] },
      { key: 'medium', label: 'Medium', data: [0, 1] },
      { key: 'low', label: 'Low', data: [1, 0] },
    ]);
  });

  it('stacks the sources seen, in their fixed order', () => {
    expect(errorSeries(buckets, 'source')).toEqual([
      { key: 'worker', label: 'worker', data: [2, 0] },
      { key: 'web', label: 'web', data: [1, 1] },
    ]);
  });

  it('stacks the most frequent types apart and the rest as one', () => {
    expect(errorSeries(buckets, 'type').map((s) => s.key)).toEqual([
      'browser_error',
      'step_failed',
    ]);
    const many = Array.from({ length: MAX_TYPES + 3 }, (_, i) => [`t${i}`, 20 - i]);
    const series = errorSeries(
      [bucket('2026-01-01T00:00:00Z', { by_type: Object.fromEntries(many) })],
      'type',
    );
    expect(series).toHaveLength(MAX_TYPES + 1);
    expect(series.at(-1)).toEqual({ key: 'other', label: '3 other types', data: [14 + 13 + 12] });
    // One type too many is shown by its name, not as "1 other types".
    const justOver = Array.from({ length: MAX_TYPES + 1 }, (_, i) => [`t${i}`, 1]);
    expect(
      errorSeries([bucket('x', { by_type: Object.fromEntries(justOver) })], 'type').some(
        (s) => s.key === 'other',
      ),
    ).toBe(false);
  });

  it('has no stacks without buckets but the severities', () => {
    expect(errorSeries([], 'type')).toEqual([]);
    expect(errorSeries([], 'severity').map((s) => s.data)).toEqual([[], [], []]);
  });
});

describe('formatRelative', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const ago = (ms: number) => new Date(now - ms).toISOString();

  it('says how long ago, in the largest unit under two of the next', () => {
    expect(formatRelative(ago(2_000), now)).toBe('just now');
    expect(formatRelative(ago(42_000), now)).toBe('42 s ago');
    expect(formatRelative(ago(5 * 60_000), now)).toBe('5 min ago');
    expect(formatRelative(ago(47 * 3_600_000), now)).toBe('47 h ago');
    expect(formatRelative(ago(3 * 86_400_000), now)).toBe('3 d ago');
    expect(formatRelative(ago(400 * 86_400_000), now)).toMatch(/2025/);
  });

  it('reads a time slightly ahead as now, and nothing as a dash', () => {
    expect(formatRelative(new Date(now + 3_000).toISOString(), now)).toBe('just now');
    expect(formatRelative(null, now)).toBe('—');
  });
});

describe('formatRatio', () => {
  it('gives two significant digits below 10, whole numbers above', () => {
    expect(formatRatio(0)).toBe('0');
    expect(formatRatio(0.253)).toBe('0.25');
    expect(formatRatio(3.456)).toBe('3.5');
    expect(formatRatio(1234.4)).toBe('1,234');
    expect(formatRatio(0.001)).toBe('<0.01');
    expect(formatRatio(null)).toBe('—');
  });
});
