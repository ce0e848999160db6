import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from './app-error.ts';

/** Parses a JSON request body against a schema; 400 for bad JSON, 422 for a wrong shape. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new AppError('unsupported_media_type', 'send the body as application/json');
  }
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AppError('invalid_json', 'the request body is not valid JSON');
  }
  return parseInput(schema, body, 'body');
}

/** Parses query parameters against a schema; 400 naming every bad parameter. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  return parseInput(schema, c.req.query(), 'query', 'bad_request');
}

function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: string,
  code: 'validation_failed' | 'bad_request' = 'validation_failed',
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(root)',
    message: i.message,
  }));
  const first = issues[0]!;
  throw new AppError(code, `invalid ${where}: ${first.path}: ${first.message}`, { issues });
}

/** The textual form of a UUID. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID path parameter; anything else cannot name a row, so it is a 404, not a 400. */
export function uuidParam(c: Context, name: string, what: string): string {
  const value = c.req.param(name) ?? '';
  if (!UUID.test(value)) {
    throw new AppError('not_found', `${what} not found`);
  }
  return value;
}

/** Opaque list cursors: base64url JSON, so their content can change without breaking clients. */
export const cursor = {
  encode(value: unknown): string {
    return Buffer.from(JSON.stringify(value)).toString('base64url');
  },
  decode<T>(text: string | undefined, check: (v: unknown) => v is T): T | undefined {
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      if (check(value)) return value;
    } catch {
      // fall through to the 400 below
    }
    throw new AppError('bad_request', 'invalid cursor', { cursor: text });
  },
};
