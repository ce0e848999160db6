import pg from 'pg';

/** A pooled connection or a client inside a transaction: anything that runs a query. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** The claims a request acts under, stored in request.jwt.claims for the RLS policies. */
export interface Claims {
  /** The API key the request authenticated with. */
  key_id?: string;
  /** The user behind the request, when there is one. */
  sub?: string;
  [claim: string]: unknown;
}

/** The role API requests run as; see migration 0001. */
export const APP_ROLE = 'meshhook_app';

// bigint columns (ids of events and logs) arrive as strings, which is also how the API
// serialises them; timestamptz stays a Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => value);

/** Opens a pool whose sessions see MeshHook's schema first. */
export function createPool(options: { connectionString: string; max?: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    options: '-c search_path=meshhook,public',
    application_name: 'meshhook',
  });
  // An idle client that loses its connection must not take the process down; the next
  // checkout reconnects.
  pool.on('error', () => {});
  return pool;
}

/** Runs fn in a transaction, committing on success and rolling back on any throw. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Runs fn in a transaction as the non-owner app role with the caller's claims set, so every
 * statement is filtered by the RLS policies whatever the handler forgets.
 */
export async function withTenant<T>(
  pool: pg.Pool,
  claims: Claims,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(
      `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`,
      [APP_ROLE, JSON.stringify(claims)],
    );
    return fn(client);
  });
}
