// Webhook deliveries of alerts: the versioned JSON body of API.md and its signature. The scheme is
// Stripe's (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), so signing and checking go
// through verify-signature.ts, which receivers of Stripe-style webhooks already trust; only the
// header name is MeshHook's own.

import type { ThresholdMetric, ThresholdOp } from './alert-rules.ts';
import {
  prepareAlert,
  type Alert,
  type AlertPayloadType,
  type MessageOptions,
} from './alert-text.ts';
import { signWebhook, verifySignature, type VerifyResult } from './verify-signature.ts';

/** The header carrying a delivery's signature. */
export const WEBHOOK_SIGNATURE_HEADER = 'MeshHook-Signature';

/** How far a signature's timestamp may be from the receiver's clock by default, in seconds. */
export const WEBHOOK_TOLERANCE_S = 300;

/** The JSON body of a webhook delivery, version 1 (API.md, Alerts). */
export interface WebhookPayload {
  version: '1';
  type: AlertPayloadType;
  project_id: string;
  workflow: { id: string; slug: string } | null;
  run: { id: string; url: string } | null;
  node_id: string | null;
  error: { type: string; message: string } | null;
  attempts: number | null;
  /** How many failures the delivery summarises. */
  covers: number;
  rule: { id: string; name: string } | null;
  /** ISO-8601 UTC. */
  at: string;
  /** threshold_firing and threshold_resolved only: the reading (rates as fractions). */
  threshold?: {
    metric: ThresholdMetric;
    op: ThresholdOp;
    value: number;
    threshold: number;
    state: 'firing' | 'resolved';
    window: string | null;
  };
}

/**
 * The body of a webhook delivery for an alert, redacted. Fields in API.md's order; absent parts
 * are null, never missing, so receivers can rely on every key. Serialise it once with
 * JSON.stringify and sign exactly those bytes.
 *
 * @example
 * const body = JSON.stringify(webhookPayload(alert, { redact: { secrets } }));
 * headers[WEBHOOK_SIGNATURE_HEADER] = signWebhookPayload(body, channel.config.secret, now);
 */
export function webhookPayload(alert: Alert, options?: MessageOptions): WebhookPayload {
  const a = prepareAlert(alert, options);
  const payload: WebhookPayload = {
    version: '1',
    type: a.type,
    project_id: a.project.id,
    workflow: a.workflow,
    run: a.run,
    node_id: a.node_id,
    error: a.error,
    attempts: a.attempts,
    covers: a.covers,
    rule: a.rule,
    at: a.at,
  };
  if (a.threshold) payload.threshold = { ...a.threshold };
  return payload;
}

const encoder = new TextEncoder();
const bytesOf = (body: string | Uint8Array) =>
  typeof body === 'string' ? encoder.encode(body) : body;

/**
 * The `MeshHook-Signature` header value for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" keyed with the secret>`.
 */
export function signWebhookPayload(body: string | Uint8Array, secret: string, at: Date): string {
  const headers = signWebhook({
    config: { scheme: 'stripe', secret },
    body: bytesOf(body),
    now: at,
  });
  return headers['stripe-signature']!;
}

/**
 * Checks a `MeshHook-Signature` header against the body received, for receivers and tests: the
 * header needs one `t=` and at least one `v1=` (several are accepted, for a secret being
 * rotated), one of which must match, with `t` within `toleranceS` (default 300) of `now`.
 * A rejection is returned with a stable code (signature_missing, signature_malformed,
 * signature_invalid, signature_expired), never thrown.
 *
 * @example
 * const result = verifyWebhookSignature(request.headers.get('meshhook-signature'), rawBody, secret, { now: new Date() });
 */
export function verifyWebhookSignature(
  header: string | null | undefined,
  body: string | Uint8Array,
  secret: string,
  options: { now: Date; toleranceS?: number },
): VerifyResult {
  const result = verifySignature({
    config: { scheme: 'stripe', secret, tolerance_s: options.toleranceS ?? WEBHOOK_TOLERANCE_S },
    headers: header === null || header === undefined ? {} : { 'stripe-signature': header },
    body: bytesOf(body),
    now: options.now,
  });
  if (result.ok) return result;
  // The shared verifier names Stripe's header; a MeshHook receiver reads MeshHook's.
  const message = result.error.message.replaceAll('stripe-signature', WEBHOOK_SIGNATURE_HEADER);
  return { ok: false, error: { code: result.error.code, message } };
}
