import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, withDatabase } from '../src/db/embedded.ts';

/** A fresh database for one benchmark run, on BENCH_DATABASE_URL's server or an embedded one. */
export async function benchDatabase(): Promise<{
  url: string;
  server: string;
  drop(): Promise<void>;
}> {
  let adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  let stopEmbedded = async () => {};
  let server = adminUrl ? new URL(adminUrl).host : '';
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'meshhook-bench-pg-'));
    const embedded = await startEmbeddedPostgres({ dataDir: dir });
    adminUrl = embedded.url;
    server = 'embedded PostgreSQL';
    stopEmbedded = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const name = `meshhook_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const version = (await admin.query('show server_version')).rows[0].server_version as string;
  await admin.end();
  return {
    url: withDatabase(adminUrl, name),
    server: `${server} (PostgreSQL ${version})`,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      await stopEmbedded();
    },
  };
}
