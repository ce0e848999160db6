// The run-metrics benchmark's database: seeding ten million runs takes minutes, so the seeded
// database is kept under a name that says its size and reused by the next run when its seed
// completed under the same migrations. Without BENCH_DATABASE_URL (or TEST_DATABASE_URL) it is an embedded PostgreSQL's,
// seeded afresh and gone at the end.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { withDatabase } from '../src/db/embedded.ts';
import { loadMigrations } from '../src/db/migrate.ts';
import { benchDatabase } from './_database.ts';

/** What a completed seed recorded (in public.bench_metrics_seed of the seeded database). */
export interface SeedRecord {
  runs: number;
  projectId: string;
  /** The runs finished in the days before this instant. */
  endsAt: Date;
  seededAt: Date;
  seedSeconds: number;
  rebuildSeconds: number;
  /** The migrations' fingerprint (see schemaFingerprint). */
  schema: string;
}

/**
 * A hash of every migration's SQL: a seed made under other migrations (an edited one
 * included) holds rows of another shape and is not reused.
 */
export async function schemaFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await loadMigrations())
    hash.update(`${migration.id}\0${migration.sql}\0`);
  return hash.digest('hex').slice(0, 16);
}

/** The benchmark's database: reused with its seed, or new and empty. */
export interface MetricsDatabase {
  url: string;
  server: string;
  /** The database's name when it can be kept; undefined on an embedded server. */
  name?: string;
  /** The completed seed found in it, when it was reused. */
  seed?: SeedRecord;
  /** What happened to it, for the output. */
  how: string;
  drop(): Promise<void>;
}

/**
 * Opens `meshhook_bench_metrics_<runs>` on the configured server: reused when a seed of that
 * size completed in it under the same migrations (unless `fresh`), created anew otherwise.
 */
export async function openMetricsDatabase(options: {
  runs: number;
  fresh: boolean;
}): Promise<MetricsDatabase> {
  const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const database = await benchDatabase();
    return {
      url: database.url,
      server: database.server,
      how: 'new, on an embedded PostgreSQL (set BENCH_DATABASE_URL to keep the seed for next time)',
      drop: () => database.drop(),
    };
  }
  const name = `meshhook_bench_metrics_${options.runs}`;
  const url = withDatabase(adminUrl, name);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const version = (await admin.query('show server_version')).rows[0].server_version as string;
    const server = `${new URL(adminUrl).host} (PostgreSQL ${version})`;
    const drop = async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
    const exists =
      (await admin.query(`select 1 from pg_database where datname = $1`, [name])).rowCount === 1;
    let why = 'new';
    if (exists) {
      const seed = await readSeed(url);
      const schema = await schemaFingerprint();
      if (seed && seed.runs === options.runs && seed.schema === schema && !options.fresh) {
        return { url, server, name, seed, how: 'reused', drop };
      }
      why = options.fresh
        ? 'new (--fresh: the seeded one was dropped)'
        : seed
          ? 'new (the seeded one was made under other migrations and was dropped)'
          : 'new (the one found held no completed seed and was dropped)';
      await admin.query(`drop database ${name} with (force)`);
    }
    await admin.query(`create database ${name}`);
    return { url, server, name, how: why, drop };
  } finally {
    await admin.end();
  }
}

async function readSeed(url: string): Promise<SeedRecord | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      runs: string;
      project_id: string;
      ends_at: Date;
      seeded_at: Date;
      seed_seconds: number;
      rebuild_seconds: number;
      schema: string;
    }>(
      `select runs, project_id, ends_at, seeded_at, seed_seconds, rebuild_seconds, schema
       from public.bench_metrics_seed`,
    );
    const row = rows[0];
    return (
      row && {
        runs: Number(row.runs),
        projectId: row.project_id,
        endsAt: row.ends_at,
        seededAt: row.seeded_at,
        seedSeconds: row.seed_seconds,
        rebuildSeconds: row.rebuild_seconds,
        schema: row.schema,
      }
    );
  } catch {
    return undefined; // no such table (the seed never completed), or one of an older shape
  } finally {
    await client.end();
  }
}

/** Records a completed seed, the mark that lets the next run reuse the database. */
export async function recordSeed(db: pg.Pool, seed: SeedRecord): Promise<void> {
  await db.query(
    `create table public.bench_metrics_seed (
       runs bigint not null, project_id uuid not null, ends_at timestamptz not null,
       seeded_at timestamptz not null, seed_seconds float8 not null, rebuild_seconds float8 not null)`,
  );
  await db.query(`insert into public.bench_metrics_seed values ($1, $2::uuid, $3, $4, $5, $6)`, [
    seed.runs,
    seed.projectId,
    seed.endsAt,
    seed.seededAt,
    seed.seedSeconds,
    seed.rebuildSeconds,
  ]);
}
