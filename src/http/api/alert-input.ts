import type { Context } from 'hono';
import { z } from 'zod';
import { isRecord, type FieldProblem } from '../../core/field-problems.ts';
import type { NameCursor, TimeCursor } from '../../db/queries/alert-config.ts';
import { AppError } from '../app-error.ts';
import { cursor, readJson, UUID } from '../validate.ts';

/**
 * What the alerts routes share: bodies checked by the core validators (which report every
 * problem with its path), the 409 of a name taken, the 403 of a database refusal, and keyset
 * pages.
 */

/** The JSON body of a request, unchecked: 415 unless JSON, 400 when it does not parse. */
export const readBody = (c: Context): Promise<unknown> => readJson(c, z.unknown());

/** A 422 listing every problem of a body, the first in the message. */
export function invalidBody(problems: FieldProblem[]): AppError {
  const first = problems[0]!;
  return new AppError('validation_failed', `invalid body: ${first.path}: ${first.message}`, {
    issues: problems,
  });
}

/** A path of a validator's problem (`threshold.window`, `(root)`) inside the item at `at`. */
export function within(at: string, path: string): string {
  if (at === '') return path;
  if (path === '(root)') return at;
  return path.startsWith('[') ? `${at}${path}` : `${at}.${path}`;
}

/** Problems of an item at `at` of a larger body. */
export const problemsWithin = (at: string, problems: FieldProblem[]): FieldProblem[] =>
  problems.map((p) => ({ path: within(at, p.path), message: p.message }));

/** A copy of an object without some keys (the read-only fields of an answer sent back). */
export function omitKeys(value: unknown, keys: readonly string[]): unknown {
  if (!isRecord(value)) return value;
  const copy = { ...value };
  for (const key of keys) delete copy[key];
  return copy;
}

/** Whether an error is PostgreSQL's, with this SQLSTATE. */
export const isPgError = (error: unknown, code: string): boolean =>
  (error as { code?: unknown } | null)?.code === code;

/** A 409 for a name another channel or rule of the project already has. */
export const nameTaken = (what: string, name: string): AppError =>
  new AppError('conflict', `another ${what} of this project is named "${name}"`, { name });

/** Runs a write; a refusal of a security definer function (42501) becomes a 403. */
export async function writing<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isPgError(error, '42501')) throw new AppError('forbidden', (error as Error).message);
    throw error;
  }
}

/** The page parameters every alerts list takes. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
};

/** Whether a decoded cursor is a NameCursor. */
export const isNameCursor = (v: unknown): v is NameCursor =>
  isRecord(v) && typeof v.name === 'string' && typeof v.id === 'string' && UUID.test(v.id);

/** Whether a decoded cursor is a TimeCursor (a timestamp to the microsecond, in UTC). */
export const isTimeCursor = (v: unknown): v is TimeCursor =>
  isRecord(v) &&
  typeof v.at === 'string' &&
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v.at) &&
  !Number.isNaN(Date.parse(v.at)) &&
  typeof v.id === 'string' &&
  UUID.test(v.id);

/** A page of rows fetched with limit + 1, and the cursor of the next one (null at the end). */
export function pageOf<T>(
  rows: T[],
  limit: number,
  position: (row: T) => unknown,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last !== undefined ? cursor.encode(position(last)) : null,
  };
}
