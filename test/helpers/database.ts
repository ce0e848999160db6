import pg from 'pg';
import { inject } from 'vitest';
import { createPool } from '../../src/db/client.ts';
import { withDatabase } from '../../src/db/embedded.ts';

/** A fresh, migrated database of one's own, cloned from the run's template. */
export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** Drops the database, or keeps it for inspection when keep is true. */
  drop(options?: { keep?: boolean }): Promise<void>;
}

/** Clones the migrated template into a new database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `meshhook_test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  await adminQuery(adminUrl, `create database ${name} template ${inject('templateDatabase')}`);
  const url = withDatabase(adminUrl, name);
  const pool = createPool({ connectionString: url, max: 10 });
  return {
    url,
    pool,
    async drop(options) {
      await pool.end();
      if (options?.keep) {
        console.warn(`kept test database ${name} for inspection`);
        return;
      }
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
