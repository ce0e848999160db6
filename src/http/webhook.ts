import { Hono, type Context } from 'hono';
import { triggerNode } from '../core/definition.ts';
import { redact } from '../core/redact.ts';
import { verifySignature } from '../core/verify-signature.ts';
import type { WebhookTarget } from '../db/queries/intake.ts';
import { AppError, type ErrorCode } from './app-error.ts';
import type { AppEnv, AppState, HttpDeps } from './context.ts';

const MAX_IDEMPOTENCY_KEY = 255;

/**
 * POST /hooks/:token: verifies and stores the delivery as a run with its first job, and answers
 * 202 with the run id only once that commit is durable. Nothing is created for a request that
 * is refused.
 */
export function webhookRoutes(deps: HttpDeps, state: AppState) {
  const app = new Hono<AppEnv>();

  app.post('/:token', async (c) => {
    let target: WebhookTarget | undefined;
    try {
      target = await state.webhookTargets.get(c.req.param('token'));
      if (!target) throw new AppError('not_found', 'no published workflow at this webhook URL');
      return await accept(c, target);
    } catch (error) {
      if (error instanceof AppError) captureRejection(deps, error, target, c.req.raw);
      throw error;
    }
  });

  async function accept(c: Context<AppEnv>, target: WebhookTarget) {
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > deps.webhookMaxBytes) throw tooLarge(deps.webhookMaxBytes);
    const trigger = triggerNode(await state.intake.definition(target));

    const body = await readBody(c.req.raw, deps.webhookMaxBytes);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });

    const signature = trigger.type === 'webhook' ? trigger.config.signature : undefined;
    if (signature) {
      const verified = verifySignature({
        config: signature,
        headers,
        body,
        now: deps.now?.() ?? new Date(),
      });
      if (!verified.ok) throw new AppError(verified.error.code, verified.error.message);
    }

    const idempotencyKey = c.req.header('idempotency-key');
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY)
    ) {
      throw new AppError(
        'bad_request',
        `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`,
      );
    }

    const url = new URL(c.req.url);
    const { runId, created } = await state.intake.start({
      target,
      trigger: {
        body: parseBody(body, headers['content-type']),
        // Credentials and signatures are checked above and never stored with the run, whatever
        // header a custom hmac-sha256 configuration names.
        headers: redact(headers, {
          ...(signature?.header ? { extraKeys: [exactly(signature.header)] } : {}),
        }),
        query: redact(Object.fromEntries(url.searchParams)),
      },
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    return c.json({ run_id: runId, ...(created ? {} : { replayed: true }) }, 202);
  }

  return app;
}

/** The error type of each refusal of a delivery; other codes are not the sender's doing. */
const REJECTIONS: Partial<Record<ErrorCode, string>> = {
  not_found: 'workflow_not_found',
  payload_too_large: 'payload_too_large',
  invalid_json: 'payload_invalid',
  bad_request: 'payload_invalid',
  signature_missing: 'signature_missing',
  signature_malformed: 'signature_malformed',
  signature_invalid: 'signature_invalid',
  signature_expired: 'signature_expired',
};

/**
 * Records a refused delivery. An unknown URL belongs to no project; the URL itself is never
 * recorded, since its path is the webhook's secret token.
 */
function captureRejection(
  deps: HttpDeps,
  error: AppError,
  target: WebhookTarget | undefined,
  request: Request,
): void {
  const errorType = REJECTIONS[error.code];
  if (!errorType) return;
  deps.errors.capture(error.message, {
    source: 'webhook',
    errorType,
    projectId: target?.projectId ?? null,
    workflowId: target?.workflowId ?? null,
    metadata: {
      status: error.status,
      code: error.code,
      ...(target ? { workflow: target.slug, version: target.version } : {}),
      content_type: request.headers.get('content-type'),
      content_length: request.headers.get('content-length'),
      user_agent: request.headers.get('user-agent'),
    },
  });
}

function exactly(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'i');
}

function tooLarge(limit: number): AppError {
  return new AppError('payload_too_large', `webhook bodies are limited to ${limit} bytes`, {
    limit_bytes: limit,
  });
}

/** Reads the body, stopping as soon as it passes the limit instead of buffering all of it. */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** JSON and form bodies become values expressions can walk; anything else stays text. */
function parseBody(body: Uint8Array, contentType: string | undefined): unknown {
  const text = Buffer.from(body).toString('utf8');
  const type = (contentType ?? '').toLowerCase();
  if (/^application\/([\w.+-]+\+)?json\b/.test(type)) {
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new AppError('invalid_json', 'the webhook body is not valid JSON');
    }
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return text;
}
