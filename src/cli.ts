import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { createPool, withTransaction } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { createApiKey, createProject } from './db/queries/projects.ts';
import { createProcessLog } from './engine/process-log.ts';
import { openDatabase, startProcess, type Roles } from './server.ts';

const USAGE = `Usage: meshhook <command>

Commands:
  start                      web server and workers in one process (what npm start runs)
  web                        the web server only (API, webhooks, streams)
  worker                     workers only
  migrate                    apply pending database migrations and exit
  projects create NAME [--json]
                             create a project and an admin API key (shown once)

Configuration is read from the environment; see docs/configuration.md.`;

const ROLES: Record<string, Roles> = {
  start: { web: true, worker: true },
  web: { web: true, worker: false },
  worker: { web: false, worker: true },
};

/** Runs the CLI; returns the exit code for commands that finish. */
export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  const config = loadConfig();
  const log = createProcessLog({ level: config.MESHHOOK_LOG_LEVEL });

  const roles = ROLES[command];
  if (roles) {
    // A bug that escapes a handler is logged; the process keeps serving, since every piece of
    // work it holds is leased and would only be retaken late if it died.
    process.on('unhandledRejection', (reason) =>
      log.error('unhandled promise rejection', { error: describe(reason) }),
    );
    const running = await startProcess({ config, roles, log });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        log.warn('second signal: exiting without waiting', { signal });
        process.exit(130);
      }
      stopping = true;
      log.info('shutting down', { signal });
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error('shutdown failed', { error: String(error) });
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    return new Promise<number>(() => {}); // runs until a signal
  }

  if (command === 'migrate') {
    return withDatabase(config, log, async (pool) => {
      const applied = await migrate(pool);
      console.log(applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'up to date');
      return 0;
    });
  }

  if (command === 'projects' && rest[0] === 'create') {
    const name = rest.slice(1).join(' ').trim();
    if (!name) {
      console.error('Usage: meshhook projects create NAME [--json]');
      return 2;
    }
    return withDatabase(config, log, async (pool) => {
      await migrate(pool);
      const { project, key } = await withTransaction(pool, async (db) => {
        const created = await createProject(db, { name });
        const apiKey = await createApiKey(db, {
          projectId: created.id,
          name: 'admin',
          role: 'admin',
        });
        return { project: created, key: apiKey };
      });
      if (values.json) {
        console.log(JSON.stringify({ id: project.id, name: project.name, api_key: key.key }));
      } else {
        console.log(`Created project "${project.name}" (${project.id}).`);
        console.log(`Admin API key (shown once, store it now): ${key.key}`);
      }
      return 0;
    });
  }

  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  return 2;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function withDatabase(
  config: ReturnType<typeof loadConfig>,
  log: ReturnType<typeof createProcessLog>,
  fn: (pool: ReturnType<typeof createPool>) => Promise<number>,
): Promise<number> {
  const database = await openDatabase(config, log);
  const pool = createPool({ connectionString: database.url, max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
    await database.embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else console.error(error);
    process.exit(1);
  },
);
