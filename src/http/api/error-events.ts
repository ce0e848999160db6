import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import {
  describeError,
  ERROR_SOURCES,
  ERROR_TYPE_PATTERN,
  SEVERITIES,
} from '../../core/error-events.ts';
import { withTenant, type Queryable } from '../../db/client.ts';
import { reportErrors } from '../../db/queries/error-events.ts';
import { findRunStatus } from '../../db/queries/runs.ts';
import { findWorkflow } from '../../db/queries/workflows.ts';
import { AppError } from '../app-error.ts';
import { projectOf } from '../auth.ts';
import type { AppEnv, HttpDeps } from '../context.ts';
import { nowOf } from '../range.ts';
import { TokenBuckets } from '../rate-limit.ts';
import { readJson, UUID } from '../validate.ts';

/** Largest error report body: a long message and stack with room for metadata. */
export const ERROR_EVENT_MAX_BYTES = 64 * 1024;
/** Reports one caller may send at once, and how many it earns back per second. */
export const ERROR_EVENT_BURST = 30;
export const ERROR_EVENT_REFILL_PER_SECOND = 2;

const reportSchema = z.strictObject({
  source: z.enum(ERROR_SOURCES),
  error_type: z.string().regex(ERROR_TYPE_PATTERN, 'snake_case, at most 64 characters'),
  severity: z.enum(SEVERITIES),
  message: z.string().min(1).max(16_384),
  stack: z.string().max(65_536).optional(),
  workflow_id: z.string().regex(UUID, 'a workflow id (UUID)').optional(),
  run_id: z.string().regex(UUID, 'a run id (UUID)').optional(),
  node_id: z.string().min(1).max(200).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
type Report = z.output<typeof reportSchema>;

/** A 422 about one field of the body, in the shape readJson answers with. */
const invalidField = (path: string, message: string) =>
  new AppError('validation_failed', `invalid body: ${path}: ${message}`, {
    issues: [{ path, message }],
  });

/**
 * The workflow a report belongs to: the one it names, or its run's. Both must be the caller's,
 * and a run must be of the workflow named with it.
 */
async function reportWorkflow(
  db: Queryable,
  input: { projectId: string; report: Report },
): Promise<string | undefined> {
  const { report } = input;
  let workflowId = report.workflow_id;
  if (workflowId !== undefined) {
    const workflow = await findWorkflow(db, workflowId);
    if (!workflow || workflow.projectId !== input.projectId) {
      throw invalidField('workflow_id', 'no such workflow in this project');
    }
  }
  if (report.run_id !== undefined) {
    // RLS hides runs of other projects, and the caller acts in one project.
    const run = await findRunStatus(db, report.run_id);
    if (!run) throw invalidField('run_id', 'no such run in this project');
    if (workflowId !== undefined && run.workflowId !== workflowId) {
      throw invalidField('run_id', 'the run is not of the workflow named by workflow_id');
    }
    workflowId = run.workflowId;
  }
  return workflowId;
}

/**
 * /api/error-events: errors reported by trusted internal reporters (API keys) and by the
 * browser (sessions, web errors only), stored like captured errors and announced.
 */
export function errorEventRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const limits = new TokenBuckets({
    burst: ERROR_EVENT_BURST,
    perSecond: ERROR_EVENT_REFILL_PER_SECOND,
    now: () => nowOf(deps),
  });

  const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
    const caller = c.get('caller');
    const taken = limits.take(caller.keyId ? `key:${caller.keyId}` : `user:${caller.userId}`);
    if (!taken.ok) {
      const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1_000));
      c.header('retry-after', String(seconds));
      throw new AppError(
        'rate_limited',
        `at most ${ERROR_EVENT_BURST} error reports at once and ${ERROR_EVENT_REFILL_PER_SECOND} per second; retry in ${seconds} s`,
        { retry_after_s: seconds },
      );
    }
    await next();
  };

  app.post(
    '/',
    bodyLimit({
      maxSize: ERROR_EVENT_MAX_BYTES,
      onError: () => {
        throw new AppError(
          'payload_too_large',
          `error reports are limited to ${ERROR_EVENT_MAX_BYTES} bytes`,
          { limit_bytes: ERROR_EVENT_MAX_BYTES },
        );
      },
    }),
    rateLimit,
    async (c) => {
      const report = await readJson(c, reportSchema);
      const caller = c.get('caller');
      // A browser can only speak for itself: what it reports is a web error.
      if (caller.kind === 'session' && report.source !== 'web') {
        throw invalidField('source', 'a browser session reports "web" errors only');
      }
      const projectId = projectOf(c);
      const stored = await withTenant(deps.pool, caller.claims, async (db) => {
        const workflowId = await reportWorkflow(db, { projectId, report });
        const captured = describeError(
          { message: report.message, ...(report.stack !== undefined && { stack: report.stack }) },
          {
            source: report.source,
            errorType: report.error_type,
            severity: report.severity,
            projectId,
            workflowId: workflowId ?? null,
            runId: report.run_id ?? null,
            nodeId: report.node_id ?? null,
            userId: caller.userId ?? null,
            ...(report.metadata && { metadata: report.metadata }),
          },
          deps.now ? { now: deps.now } : {},
        );
        await reportErrors(db, [captured]);
        return captured;
      });
      // Announced like every captured error: the stream hub, and the capture's listeners.
      deps.errors.committed([stored]);
      return c.json({ id: stored.id }, 202);
    },
  );

  return app;
}
