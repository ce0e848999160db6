// The log-stream benchmark's data: one project, a few API keys, two published workflows and
// many running runs, written with plain SQL as the owner; and the log lines the writers append.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../src/db/client.ts';
import type { NewRunLog } from '../src/db/queries/run-logs.ts';
import { createApiKey, createProject } from '../src/db/queries/projects.ts';

/** A run the writers append to. */
export interface BenchRun {
  id: string;
  workflowId: string;
}

/** What the benchmark writes into and subscribes to. */
export interface LogFixture {
  projectId: string;
  keys: string[];
  /** The main workflow first; the second holds about a fifth of the runs. */
  workflowIds: [string, string];
  runs: BenchRun[];
}

/** The word `q=` subscribers look for; about 3% of the messages contain it. */
export const Q_WORD = 'timeout';
const Q_SHARE = 0.03;

/** Creates the project, `keyCount` viewer keys, two workflows and `runCount` running runs. */
export async function createLogFixture(
  pool: pg.Pool,
  options: { runCount: number; keyCount: number },
): Promise<LogFixture> {
  return withTransaction(pool, async (db) => {
    const project = await createProject(db, { name: 'log-stream bench' });
    const keys: string[] = [];
    for (let i = 0; i < options.keyCount; i++) {
      keys.push(
        (await createApiKey(db, { projectId: project.id, name: `bench-${i}`, role: 'viewer' })).key,
      );
    }
    const definition = JSON.stringify({
      nodes: [
        { id: 'hook', type: 'webhook', config: {} },
        { id: 'say', type: 'log', config: { level: 'info', message: 'hello' } },
      ],
      edges: [{ from: 'hook', to: 'say' }],
    });
    const { rows: workflows } = await db.query<{ id: string; version_id: string }>(
      `with w as (
         insert into workflows (project_id, slug, name, definition, webhook_token, published_version)
         select $1::uuid, s.slug, s.slug, $2::jsonb, s.token, 1
         from unnest($3::text[], $4::text[]) with ordinality as s(slug, token, n)
         returning id, slug
       ), v as (
         insert into workflow_versions (project_id, workflow_id, version, definition)
         select $1::uuid, w.id, 1, $2::jsonb from w
         returning id, workflow_id
       )
       select w.id, v.id as version_id from w join v on v.workflow_id = w.id order by w.slug`,
      [
        project.id,
        definition,
        ['bench', 'bench-other'],
        [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')],
      ],
    );
    const [main, other] = workflows as [
      { id: string; version_id: string },
      { id: string; version_id: string },
    ];
    // Every fifth run belongs to the second workflow, so `workflow=` tails see a fifth of it all.
    const { rows: runs } = await db.query<{ id: string; workflow_id: string }>(
      `insert into runs (project_id, workflow_id, version_id, version, status, trigger, started_at)
       select $1::uuid,
              case when n % 5 = 4 then $4::uuid else $2::uuid end,
              case when n % 5 = 4 then $5::uuid else $3::uuid end,
              1, 'running', '{}'::jsonb, now()
       from generate_series(0, $6::int - 1) as n
       returning id, workflow_id`,
      [project.id, main.id, main.version_id, other.id, other.version_id, options.runCount],
    );
    return {
      projectId: project.id,
      keys,
      workflowIds: [main.id, other.id],
      runs: runs.map((r) => ({ id: r.id, workflowId: r.workflow_id })),
    };
  });
}

const VERBS = ['charged', 'refunded', 'shipped', 'validated', 'enriched', 'forwarded', 'queued'];
const PROVIDERS = ['stripe', 'adyen', 'paypal', 'mollie', 'braintree', 'klarna'];
const REGIONS = ['eu-west-1', 'us-east-2', 'ap-south-1', 'eu-central-1'];

/** One log line like a step writes: ~10% warn or error, 70–100 characters. */
export function makeLine(now: Date): NewRunLog {
  const r = Math.random();
  const level = r < 0.05 ? 'debug' : r < 0.9 ? 'info' : r < 0.97 ? 'warn' : 'error';
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;
  let message =
    `order ${100000 + Math.floor(Math.random() * 900000)} ${pick(VERBS)} ` +
    `${(Math.random() * 500).toFixed(2)} EUR via ${pick(PROVIDERS)} in ${Math.floor(Math.random() * 900)} ms`;
  // Both cases, since q is a case-insensitive match.
  if (Math.random() < Q_SHARE)
    message += Math.random() < 0.5 ? ' after a Timeout' : ' after timeout';
  message += ` (region ${pick(REGIONS)}, shard ${Math.floor(Math.random() * 64)})`;
  return { nodeId: 'say', ts: now, level, message: message.slice(0, 100), fields: { attempt: 1 } };
}
