import { describe, expect, it } from 'vitest';
import { formatDefinition, formatDuration } from './format.ts';

describe('formatDefinition', () => {
  it('puts nodes before edges and id, type, from, to first, keeping config as stored', () => {
    const stored = {
      edges: [{ to: 'b', when: 'true', from: 'a' }],
      nodes: [{ config: { z: 1, a: 2 }, id: 'a', type: 'branch' }],
    };
    expect(formatDefinition(stored)).toBe(
      JSON.stringify(
        {
          nodes: [{ id: 'a', type: 'branch', config: { z: 1, a: 2 } }],
          edges: [{ from: 'a', to: 'b', when: 'true' }],
        },
        null,
        2,
      ),
    );
  });

  it('prints anything else as plain JSON', () => {
    expect(formatDefinition(null)).toBe('null');
    expect(formatDefinition([1])).toBe('[\n  1\n]');
  });
});

describe('formatDuration', () => {
  it('picks a unit that reads well', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(85)).toBe('85 ms');
    expect(formatDuration(2400)).toBe('2.40 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(7_440_000)).toBe('2 h 4 min');
  });
});
