import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { checkFields, durationField, joinPath, oneOf, showPath } from './field-problems.ts';

describe('paths', () => {
  it('joins keys with dots and indexes in brackets, the root reading (root)', () => {
    expect(joinPath('', 'name')).toBe('name');
    expect(joinPath('threshold', 'window')).toBe('threshold.window');
    expect(joinPath('channels', 2)).toBe('channels[2]');
    expect(joinPath(joinPath('rules', 0), 'name')).toBe('rules[0].name');
    expect(showPath('')).toBe('(root)');
  });
});

describe('checkFields', () => {
  const shape = {
    name: z.string().min(1, 'must not be empty'),
    tags: z.array(z.string({ error: 'must be a string' })).default([]),
    size: z.number().optional(),
  };

  it('checks each field on its own and keeps those that passed', () => {
    expect(checkFields({ name: '', tags: ['a', 2], size: 3 }, { shape, at: 'thing' })).toEqual({
      values: { size: 3 },
      problems: [
        { path: 'thing.name', message: 'must not be empty' },
        { path: 'thing.tags[1]', message: 'must be a string' },
      ],
    });
  });

  it('applies defaults, names missing fields and refuses unknown keys', () => {
    expect(checkFields({ colour: 'red', constructor: 1 }, { shape, at: '' })).toEqual({
      values: { tags: [], size: undefined },
      problems: [
        { path: 'colour', message: 'is not a known field' },
        { path: 'constructor', message: 'is not a known field' },
        { path: 'name', message: 'is required' },
      ],
    });
  });

  it('refuses what is not an object', () => {
    for (const input of [null, 'x', 3, ['name']]) {
      expect(checkFields(input, { shape, at: 'body' })).toEqual({
        values: undefined,
        problems: [{ path: 'body', message: 'must be an object' }],
      });
    }
  });
});

describe('durationField and oneOf', () => {
  it('parses a duration within bounds to text and ms', () => {
    const field = durationField('1m', '1h');
    expect(field.parse('90s')).toEqual({ text: '90s', ms: 90_000 });
    expect(field.safeParse('30s').error?.issues[0]?.message).toBe('must be between 1m and 1h');
    expect(field.safeParse('2h').error?.issues[0]?.message).toBe('must be between 1m and 1h');
    expect(field.safeParse('an hour').error?.issues[0]?.message).toBe(
      'must be a duration such as 30s, 5m, 4h or 1d',
    );
  });

  it('names every choice', () => {
    expect(oneOf(['a', 'b'] as const).safeParse('c').error?.issues[0]?.message).toBe(
      'must be one of a, b',
    );
  });
});
