import { parseArgs } from 'node:util';
import { logsCommand } from './cli/logs.ts';
import { metricsCommand } from './cli/metrics.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createPool, withTransaction } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { hashPassword, PASSWORD_LIMITS } from './core/password.ts';
import { addMember, findUserForLogin, insertUser } from './db/queries/accounts.ts';
import { createApiKey, createProject, type ProjectRole } from './db/queries/projects.ts';
import { createProcessLog } from './engine/process-log.ts';
// The server's modules load only for the commands that need them (import('./server.ts')), so
// `meshhook logs` starts in 0.25 s instead of 0.7 s.
import type { Roles } from './server.ts';

const USAGE = `Usage: meshhook <command>

Commands:
  start                      web server and workers in one process (what npm start runs)
  web                        the web server only (API, webhooks, streams)
  worker                     workers only
  migrate                    apply pending database migrations and exit
  projects create NAME [--json]
                             create a project and an admin API key (shown once)
  users create EMAIL [--project ID] [--role ROLE] [--json]
                             create a user; the password is read from standard input
                             (or MESHHOOK_USER_PASSWORD); with --project, add them to it
                             (role owner, admin, member or viewer; default member)
  logs [--run ID] [--workflow SLUG] [--level L] [--grep TEXT] [--tail N] [--follow] [--json]
                             print run logs read from the API at MESHHOOK_URL with
                             MESHHOOK_API_KEY: one run's, or the project's last N (100);
                             --level warn is warn and above, --grep matches the message;
                             --follow (-f) streams new lines; --json prints NDJSON
  metrics rebuild [--from DATE] [--to DATE] [--check] [--json]
                             count the finished runs of those UTC days (default: all)
                             again, compare them with the run metrics and correct any
                             difference; --check only reports, and exits 1 on one

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
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      project: { type: 'string' },
      role: { type: 'string' },
      run: { type: 'string' },
      workflow: { type: 'string' },
      level: { type: 'string' },
      grep: { type: 'string' },
      tail: { type: 'string' },
      follow: { type: 'boolean', short: 'f', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  // An API client: it needs none of the server's configuration.
  if (command === 'logs') return logsCommand(values, rest);
  const config = loadConfig();
  const log = createProcessLog({ level: config.MESHHOOK_LOG_LEVEL });

  const roles = ROLES[command];
  if (roles) {
    const { startProcess } = await import('./server.ts');
    const { captureProcessErrors } = await import('./engine/process-errors.ts');
    const running = await startProcess({ config, roles, log });
    captureProcessErrors({ errors: running.errors, log });
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

  if (command === 'metrics') {
    return withDatabase(config, log, async (pool) => {
      await migrate(pool);
      return metricsCommand(pool, rest, {
        from: values.from,
        to: values.to,
        check: values.check,
        json: values.json,
        retention: {
          minuteDays: config.MESHHOOK_METRICS_MINUTE_RETENTION_DAYS,
          hourDays: config.MESHHOOK_METRICS_HOUR_RETENTION_DAYS,
        },
      });
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

  if (command === 'users' && rest[0] === 'create') {
    const email = rest[1]?.trim();
    const role = values.role ?? 'member';
    if (!email || rest.length > 2 || !['owner', 'admin', 'member', 'viewer'].includes(role)) {
      console.error('Usage: meshhook users create EMAIL [--project ID] [--role ROLE] [--json]');
      return 2;
    }
    const password =
      process.env.MESHHOOK_USER_PASSWORD ?? (await readStdin()).replace(/\r?\n$/, '');
    if (password.length < PASSWORD_LIMITS.min || password.length > PASSWORD_LIMITS.max) {
      console.error(
        `the password must be ${PASSWORD_LIMITS.min} to ${PASSWORD_LIMITS.max} characters (read from standard input or MESHHOOK_USER_PASSWORD)`,
      );
      return 2;
    }
    const passwordHash = await hashPassword(password);
    return withDatabase(config, log, async (pool) => {
      await migrate(pool);
      const user = await withTransaction(pool, async (db) => {
        if (await findUserForLogin(db, email)) return undefined;
        const created = await insertUser(db, { email, passwordHash });
        if (values.project) {
          await addMember(db, {
            projectId: values.project,
            userId: created.id,
            role: role as ProjectRole,
          });
        }
        return created;
      });
      if (!user) {
        console.error(`a user with the address ${email} exists already`);
        return 1;
      }
      console.log(values.json ? JSON.stringify(user) : `Created user ${user.email} (${user.id}).`);
      return 0;
    });
  }

  console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
  return 2;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password (the input is shown; prefer piping it in): ');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (process.stdin.isTTY && String(chunk).includes('\n')) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function withDatabase(
  config: ReturnType<typeof loadConfig>,
  log: ReturnType<typeof createProcessLog>,
  fn: (pool: ReturnType<typeof createPool>) => Promise<number>,
): Promise<number> {
  const { openDatabase } = await import('./server.ts');
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
