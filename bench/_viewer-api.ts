// The reader the query benchmarks (errors --part query, metrics) ask through: a viewer API key
// of one project and a `meshhook web` process answering on loopback.
import type { ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { withTransaction, type Claims } from '../src/db/client.ts';
import { freePort } from '../src/db/embedded.ts';
import { createApiKey } from '../src/db/queries/projects.ts';
import { spawnRole, waitReady } from './_engine-phases.ts';
import { ApiClient } from './_metrics-queries.ts';

/**
 * Creates a viewer key named `name` for the project (first deleting keys of that name, with
 * `replace`, for a database kept from an earlier run), starts a web process on `databaseUrl`
 * into `children` and waits until it is ready; the client asks with the key, `claims` are the
 * key's for the raw SQL paths.
 */
export async function startViewerApi(
  pool: pg.Pool,
  options: {
    projectId: string;
    name: string;
    replace?: boolean;
    databaseUrl: string;
    children: ChildProcess[];
  },
): Promise<{ api: ApiClient; claims: Claims }> {
  const { key, claims } = await withTransaction(pool, async (db) => {
    if (options.replace)
      await db.query(`delete from meshhook.api_keys where name = $1::text`, [options.name]);
    const created = await createApiKey(db, {
      projectId: options.projectId,
      name: options.name,
      role: 'viewer',
    });
    return { key: created.key, claims: { key_id: created.id, role: created.role } as Claims };
  });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  options.children.push(
    spawnRole('web', {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      MESHHOOK_LOG_LEVEL: 'warn',
    }),
  );
  await waitReady(base);
  return { api: new ApiClient(base, key), claims };
}
