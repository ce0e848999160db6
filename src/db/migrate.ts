import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

// Any constant works as long as every MeshHook process uses the same one: it serialises
// processes that start together against one database.
const MIGRATION_LOCK = 7_400_511_270;

/** A migration file: its number, name and SQL. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Reads the numbered .sql files of src/db/migrations in order. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f));
  files.sort();
  return Promise.all(
    files.map(async (file) => ({
      id: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
    })),
  );
}

/**
 * Applies the migrations not yet recorded, each in its own transaction, under an advisory lock.
 * Returns the ids it applied.
 */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const migrations = await loadMigrations();
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`create schema if not exists meshhook`);
    await client.query(
      `create table if not exists meshhook.migrations (
         id integer primary key,
         name text not null,
         applied_at timestamptz not null default now()
       )`,
    );
    const { rows } = await client.query<{ id: number }>('select id from meshhook.migrations');
    const applied = new Set(rows.map((r) => r.id));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      try {
        await client.query('begin');
        await client.query(migration.sql);
        await client.query('insert into meshhook.migrations (id, name) values ($1, $2)', [
          migration.id,
          migration.name,
        ]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw new Error(`migration ${migration.id}_${migration.name} failed`, { cause: error });
      }
      done.push(migration.id);
    }
    return done;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}

let latest: Promise<number> | undefined;

/** Whether every known migration has been applied (for /readyz). */
export async function isMigrated(db: pg.Pool): Promise<boolean> {
  latest ??= loadMigrations().then((migrations) => migrations.at(-1)?.id ?? 0);
  const last = await latest;
  const { rows } = await db.query<{ ok: boolean }>(
    `select exists (select 1 from meshhook.migrations where id = $1) as ok`,
    [last],
  );
  return rows[0]?.ok ?? false;
}
