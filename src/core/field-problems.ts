// Request bodies are checked field by field rather than with one object schema: zod skips an
// object's refinements as soon as one of its fields fails, which would hide a cross-field problem
// (a resolve_value on the wrong side) behind an unrelated one (a blank name). Checking each field
// on its own reports every problem of a body in one answer.

import { z } from 'zod';
import { parseDuration } from './metric-range.ts';

/** One problem with an input: where (`threshold.window`, `channels[2]`, `(root)`) and why. */
export interface FieldProblem {
  /** Dotted path into the input; array items in brackets; `(root)` for the input itself. */
  path: string;
  message: string;
}

/** Appends a key or an array index to a path (`''` is the root). */
export function joinPath(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at === '' ? key : `${at}.${key}`;
}

/** The path as reported: the root reads `(root)`. */
export function showPath(at: string): string {
  return at === '' ? '(root)' : at;
}

/** The problems of a failed zod parse of the value at `at`. */
export function zodProblems(error: z.ZodError, at: string): FieldProblem[] {
  return error.issues.map((issue) => ({
    path: showPath(
      issue.path.reduce<string>(
        (path, key) => joinPath(path, typeof key === 'number' ? key : String(key)),
        at,
      ),
    ),
    message: issue.message,
  }));
}

/** Whether a value is a plain (non-array) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parsed fields of an object: each one that passed its schema, absent where it failed. */
export type ParsedFields<S extends Record<string, z.ZodType>> = {
  [K in keyof S]?: z.output<S[K]>;
};

/**
 * Checks each field of an object against its own schema and refuses keys the shape does not
 * name (typos surface instead of being ignored). `values` holds the fields that passed (with
 * their defaults applied) and is undefined when the input is not an object at all.
 *
 * @example
 * const { values, problems } = checkFields(body, { at: 'throttle', shape: { group_wait: z.string() } });
 */
export function checkFields<S extends Record<string, z.ZodType>>(
  input: unknown,
  options: { shape: S; at: string },
): { values: ParsedFields<S> | undefined; problems: FieldProblem[] } {
  const { shape, at } = options;
  if (!isRecord(input)) {
    return { values: undefined, problems: [{ path: showPath(at), message: 'must be an object' }] };
  }
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(shape, key)) {
      problems.push({ path: joinPath(at, key), message: 'is not a known field' });
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const parsed = schema.safeParse(input[key]);
    if (parsed.success) values[key] = parsed.data;
    else if (input[key] === undefined) {
      problems.push({ path: joinPath(at, key), message: 'is required' });
    } else problems.push(...zodProblems(parsed.error, joinPath(at, key)));
  }
  return { values: values as ParsedFields<S>, problems };
}

const DURATION_HINT = 'must be a duration such as 30s, 5m, 4h or 1d';

/** A duration text (`30s`, `5m`, `4h`, `1d`) within [min, max], parsed to `{ text, ms }`. */
export function durationField(min: string, max: string) {
  const minMs = parseDuration(min)!;
  const maxMs = parseDuration(max)!;
  return z
    .string({ error: DURATION_HINT })
    .superRefine((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) ctx.addIssue({ code: 'custom', message: DURATION_HINT });
      else if (ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}` });
      }
    })
    .transform((text) => ({ text, ms: parseDuration(text)! }));
}

/** One of a list of strings, with a message naming them all. */
export function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}
