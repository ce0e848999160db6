import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { ALERT_EVENT_TYPES } from '../../core/alert-rules.ts';
import { ERROR_TYPE_PATTERN } from '../../core/error-events.ts';
import type { FieldProblem } from '../../core/field-problems.ts';
import { redact } from '../../core/redact.ts';
import { withTenant } from '../../db/client.ts';
import { ALERTS_CHANNEL } from '../../db/queries/alert-delivery.ts';
import { triggerAlert } from '../../db/queries/alert-log.ts';
import { findRunStatus } from '../../db/queries/runs.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { AppError } from '../app-error.ts';
import { atLeast, projectOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { readJson, UUID } from '../validate.ts';
import { invalidBody, writing } from './alert-input.ts';

const triggerSchema = z.strictObject({
  type: z.enum(ALERT_EVENT_TYPES),
  workflow_id: z.string().regex(UUID, 'a workflow id (UUID)').nullish(),
  run_id: z.string().regex(UUID, 'a run id (UUID)').nullish(),
  node_id: z.string().min(1).max(200).nullish(),
  error: z
    .strictObject({
      type: z.string().regex(ERROR_TYPE_PATTERN, 'snake_case, at most 64 characters'),
      message: z.string().min(1).max(16_384),
    })
    .nullish(),
});

// An internal endpoint for other services of the installation: scripts hold API keys, and a
// browser session has no business raising failures that did not happen.
const requireAdminKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const caller = c.get('caller');
  if (caller.kind !== 'api_key' || !atLeast(caller.role, 'admin')) {
    throw new AppError('forbidden', 'triggering an alert needs an API key of the admin role');
  }
  await next();
};

/**
 * /api/alerts/trigger: puts a failure in the alert outbox of the caller's project, as if the
 * engine had seen it, for the evaluators to match against the rules like any other.
 */
export function alertTriggerRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();

  app.post('/', requireAdminKey, async (c) => {
    const input = await readJson(c, triggerSchema);
    const projectId = projectOf(c);
    const queued = await writing(() =>
      withTenant(deps.pool, c.get('caller').claims, async (db) => {
        const problems: FieldProblem[] = [];
        let workflowId = input.workflow_id?.toLowerCase() ?? null;
        if (workflowId) {
          const workflow = await findWorkflow(db, workflowId);
          if (!workflow || workflow.projectId !== projectId) {
            problems.push({ path: 'workflow_id', message: 'no such workflow in this project' });
          }
        }
        if (input.run_id) {
          const run = await findRunStatus(db, input.run_id);
          if (!run) problems.push({ path: 'run_id', message: 'no such run in this project' });
          else if (workflowId && run.workflowId !== workflowId) {
            problems.push({ path: 'run_id', message: 'the run is not of that workflow' });
          } else workflowId = run.workflowId;
        }
        if (problems.length > 0) throw invalidBody(problems);
        return triggerAlert(db, {
          projectId,
          type: input.type,
          workflowId,
          runId: input.run_id ?? null,
          nodeId: input.node_id ?? null,
          details: input.error ? { error: redact(input.error) } : {},
        });
      }),
    );
    if (queued) deps.notifier.send(ALERTS_CHANNEL, 'failure');
    return c.json({ queued: queued !== undefined }, 202);
  });

  return app;
}
