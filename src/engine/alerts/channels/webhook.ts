// Webhook channels: the versioned JSON body of API.md, signed when the channel has a secret, with
// the delivery's id and attempt in headers so that a receiver can drop a repeat.

import {
  WEBHOOK_SIGNATURE_HEADER,
  signWebhookPayload,
  webhookPayload,
} from '../../../core/alert-webhook.ts';
import { httpUrl, postOnce } from './http-post.ts';
import type { MessageInput } from './message-input.ts';
import type { SendContext } from './send-context.ts';
import type { SendResult } from './types.ts';

/** The header carrying the delivery's id, the same on every attempt. */
export const DELIVERY_HEADER = 'MeshHook-Delivery';
/** The header carrying the attempt's number, from 1. */
export const ATTEMPT_HEADER = 'MeshHook-Attempt';

/** POSTs the alert's webhook payload to `config.url`, signed with `config.secret` when set. */
export async function sendWebhook(input: MessageInput, context: SendContext): Promise<SendResult> {
  const url = httpUrl(context.channel.config.url);
  const secret = context.channel.config.secret;
  if (url === undefined) {
    return { ok: false, permanent: true, error: 'the channel has no http(s) url' };
  }
  // Serialised once: the signature covers exactly the bytes sent.
  const body = JSON.stringify(
    webhookPayload(input.alert, { template: input.template, redact: { secrets: context.secrets } }),
  );
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    [DELIVERY_HEADER]: context.delivery.id,
    [ATTEMPT_HEADER]: String(context.delivery.attempt),
  };
  if (typeof secret === 'string' && secret !== '') {
    headers[WEBHOOK_SIGNATURE_HEADER] = signWebhookPayload(body, secret, context.http.now());
  }
  return postOnce({ url, headers, body, ...context.http });
}
