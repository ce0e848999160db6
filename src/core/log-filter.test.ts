import { describe, expect, it } from 'vitest';
import {
  compileLogFilter,
  levelsFrom,
  LoweredMessage,
  matchesLogFilter,
  type FilterableLog,
} from './log-filter.ts';

const line = (over: Partial<FilterableLog> = {}): FilterableLog => ({
  runId: 'r1',
  workflowId: 'w1',
  level: 'warn',
  message: 'Upstream TIMEOUT after 30 s',
  ...over,
});

describe('log filters', () => {
  it('takes a minimum level', () => {
    expect(levelsFrom('warn')).toEqual(['warn', 'error']);
    expect(levelsFrom('debug')).toEqual(['debug', 'info', 'warn', 'error']);
    expect(matchesLogFilter(line({ level: 'error' }), { level: 'warn' })).toBe(true);
    expect(matchesLogFilter(line({ level: 'info' }), { level: 'warn' })).toBe(false);
  });

  it('matches text case-insensitively, as a substring', () => {
    expect(matchesLogFilter(line(), { q: 'timeout' })).toBe(true);
    expect(matchesLogFilter(line(), { q: 'stream ti' })).toBe(true);
    expect(matchesLogFilter(line(), { q: 'timeouts' })).toBe(false);
  });

  it('narrows by run and workflow, every field together', () => {
    expect(matchesLogFilter(line(), { runId: 'r1', workflowId: 'w1', q: '30' })).toBe(true);
    expect(matchesLogFilter(line(), { runId: 'r2' })).toBe(false);
    expect(matchesLogFilter(line(), { workflowId: 'w2' })).toBe(false);
    expect(matchesLogFilter(line(), {})).toBe(true);
  });

  it('lowercases a message once for every reader that tests it', () => {
    const a = compileLogFilter({ q: 'TIME' });
    const b = compileLogFilter({ q: 'after' });
    const lowered = new LoweredMessage();
    const one = line();
    expect(a(one, lowered) && b(one, lowered)).toBe(true);
    const other = line({ message: 'all good' });
    expect(a(other, lowered)).toBe(false);
  });
});
