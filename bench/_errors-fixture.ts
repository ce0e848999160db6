// The error benchmark's world: a few projects with ~50 workflows between them, and a catalogue
// of the errors they see, with the skew of a real instance (most errors are a few upstream
// failures; severities follow the classification rules). The capture part draws JavaScript
// errors from the catalogue, the query part generates millions of rows from it in SQL.
import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ErrorContext, ErrorSource } from '../src/core/error-events.ts';
import { withTransaction } from '../src/db/client.ts';
import { createProject } from '../src/db/queries/projects.ts';

/** One kind of error: where it comes from, how often, and its message. */
export interface ErrorKind {
  source: ErrorSource;
  errorType: string;
  /** Per mille of all events; the catalogue sums to 1,000. */
  weight: number;
  /** Whether it happens in a workflow (a step or a webhook), and so per workflow an issue. */
  inWorkflow: boolean;
  nodeId: string | null;
  /** Shares of high and medium severity; the rest is low. */
  high: number;
  medium: number;
  /** %1$s is a number (an order, a byte count), %2$s a UUID: both vary from event to event. */
  template: string;
  /** Thrown as an Error with a stack (and this code) rather than reported as a message. */
  thrown?: { code?: string; name?: string };
}

/** The catalogue: 15 kinds, the first three 53% of all events. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  kind(
    'worker',
    'http_5xx',
    260,
    'call',
    0.55,
    0,
    'POST https://api.partner.example/v1/orders/%1$s answered 503: upstream unavailable (request %2$s)',
  ),
  kind(
    'worker',
    'http_timeout',
    150,
    'call',
    0.5,
    0,
    'GET https://inventory.example/items/%1$s timed out after 10000 ms',
  ),
  kind(
    'worker',
    'expression_error',
    120,
    'shape',
    1,
    0,
    'expression "{id: trigger.body.id, total: sum(trigger.body.items)}": Invalid type: sum() expected argument 1 to be type (Array<number>) but received type array instead.',
  ),
  kind(
    'webhook',
    'signature_invalid',
    110,
    null,
    0,
    1,
    'signature does not match the body (delivery %2$s)',
  ),
  kind(
    'webhook',
    'payload_invalid',
    80,
    null,
    0,
    0,
    'body is not valid JSON: Unexpected token < in JSON at position %1$s',
  ),
  kind('worker', 'network', 70, 'call', 0.4, 0, 'fetch failed: socket hang up after %1$s bytes'),
  kind(
    'worker',
    'http_4xx',
    50,
    'call',
    1,
    0,
    'POST https://crm.example/api/contacts answered 422: contact %2$s is invalid',
  ),
  kind('worker', 'terminated', 30, 'reject', 1, 0, 'order %1$s was rejected by the fraud check'),
  kind('worker', 'step_timeout', 20, 'call', 0.5, 0, 'step exceeded its timeout of 300000 ms'),
  kind(
    'webhook',
    'payload_too_large',
    15,
    null,
    0,
    0,
    'body of %1$s bytes exceeds the limit of 1048576 bytes',
  ),
  {
    ...kind(
      'api',
      'internal',
      30,
      null,
      1,
      0,
      'could not load run %2$s: canceling statement due to statement timeout',
    ),
    inWorkflow: false,
    thrown: {},
  },
  {
    ...kind(
      'api',
      'db_error',
      15,
      null,
      1,
      0,
      'duplicate key value violates unique constraint "workflows_project_id_slug_key"',
    ),
    inWorkflow: false,
    thrown: { code: '23505' },
  },
  {
    ...kind(
      'web',
      'browser_error',
      20,
      null,
      0,
      1,
      "Cannot read properties of undefined (reading 'status') at https://meshhook.example/_app/immutable/nodes/7.%2$s.js:1:%1$s",
    ),
    inWorkflow: false,
    thrown: { name: 'TypeError' },
  },
  {
    ...kind(
      'system',
      'db_error',
      15,
      null,
      1,
      0,
      'terminating connection due to administrator command',
    ),
    inWorkflow: false,
    thrown: { code: '57P01' },
  },
  {
    ...kind('system', 'lease_lost', 15, null, 0, 1, 'lease on step call of run %2$s was lost'),
    inWorkflow: false,
    thrown: { name: 'LeaseLostError' },
  },
];

function kind(
  source: ErrorSource,
  errorType: string,
  weight: number,
  nodeId: string | null,
  high: number,
  medium: number,
  template: string,
): ErrorKind {
  return { source, errorType, weight, inWorkflow: true, nodeId, high, medium, template };
}

/** The projects: their share of the events and how many workflows each has (50 in all). */
export const PROJECTS = [
  { name: 'acme', share: 0.6, workflows: 30 },
  { name: 'globex', share: 0.25, workflows: 12 },
  { name: 'initech', share: 0.15, workflows: 8 },
] as const;

/** The workflows are unevenly busy: index ⌊n · u^SKEW⌋ (the first takes ~1/6 of a project's). */
export const WORKFLOW_SKEW = 1.6;

/** A project as created, with its workflows in busyness order. */
export interface FixtureProject {
  id: string;
  name: string;
  share: number;
  workflows: Array<{ id: string; slug: string }>;
}

/** Creates PROJECTS and their workflows (each with a minimal published definition). */
export async function createFixture(pool: pg.Pool): Promise<FixtureProject[]> {
  const definition = JSON.stringify({
    nodes: [
      { id: 'hook', type: 'webhook', config: {} },
      { id: 'say', type: 'log', config: { level: 'info', message: 'hello' } },
    ],
    edges: [{ from: 'hook', to: 'say' }],
  });
  return withTransaction(pool, async (db) => {
    const out: FixtureProject[] = [];
    for (const p of PROJECTS) {
      const project = await createProject(db, { name: p.name });
      const slugs = Array.from(
        { length: p.workflows },
        (_, i) => `${p.name}-${String(i).padStart(2, '0')}`,
      );
      const { rows } = await db.query<{ id: string; slug: string }>(
        `insert into workflows (project_id, slug, name, definition, webhook_token, published_version)
         select $1::uuid, s.slug, s.slug, $2::jsonb, s.token, 1
         from unnest($3::text[], $4::text[]) with ordinality as s(slug, token, n)
         order by s.n
         returning id, slug`,
        [project.id, definition, slugs, slugs.map(() => randomBytes(16).toString('hex'))],
      );
      rows.sort((a, b) => a.slug.localeCompare(b.slug));
      out.push({ id: project.id, name: p.name, share: p.share, workflows: rows });
    }
    return out;
  });
}

/** One error as a component hands it to ErrorCapture.capture. */
export interface DrawnError {
  error: unknown;
  context: ErrorContext;
}

/**
 * `count` errors drawn from the catalogue for these projects, with fresh ids in their messages,
 * run ids for step errors and, for thrown ones, an Error with a stack. `random` is injectable so
 * a run can be repeated.
 */
export function drawErrors(
  projects: readonly FixtureProject[],
  count: number,
  random: () => number = Math.random,
): DrawnError[] {
  const kinds = slots(ERROR_KINDS.map((k) => k.weight));
  const owners = slots(projects.map((p) => Math.round(p.share * 1000)));
  const out: DrawnError[] = [];
  for (let i = 0; i < count; i++) {
    const k = ERROR_KINDS[kinds[Math.floor(random() * kinds.length)]!]!;
    const project = projects[owners[Math.floor(random() * owners.length)]!]!;
    const n = project.workflows.length;
    const workflow = project.workflows[Math.min(n - 1, Math.floor(n * random() ** WORKFLOW_SKEW))]!;
    const message = fillTemplate(k.template, Math.floor(random() * 1_000_000), randomUUID());
    const s = random();
    const severity = s < k.high ? 'high' : s < k.high + k.medium ? 'medium' : 'low';
    const context: ErrorContext = {
      source: k.source,
      errorType: k.errorType,
      projectId: project.id,
      ...(k.inWorkflow ? { workflowId: workflow.id } : {}),
      ...(k.source === 'worker'
        ? { runId: randomUUID(), nodeId: k.nodeId, runEnding: severity === 'high', attempt: 1 }
        : { severity }),
    };
    out.push({ error: k.thrown ? thrown(message, k.thrown) : message, context });
  }
  return out;
}

/** The template with its two variable parts filled in, as format() in SQL fills them. */
export function fillTemplate(template: string, n: number, id: string): string {
  return template.replaceAll('%1$s', String(n)).replaceAll('%2$s', id);
}

// An index per thousandth, each index as often as its weight, so drawing is one lookup.
function slots(weights: readonly number[]): number[] {
  return weights.flatMap((w, i) => Array.from({ length: w }, () => i));
}

function thrown(message: string, shape: { code?: string; name?: string }): Error {
  const error = new Error(message);
  if (shape.name) error.name = shape.name;
  if (shape.code) Object.assign(error, { code: shape.code });
  return error;
}
