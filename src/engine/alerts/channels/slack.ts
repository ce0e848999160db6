// Slack channels: the Block Kit body built by the core, POSTed to the incoming webhook. The hook's
// URL is its credential, so it is among the secrets scrubbed from every text (send-context.ts).

import { slackMessage } from '../../../core/alert-slack.ts';
import { httpUrl, postOnce } from './http-post.ts';
import type { MessageInput } from './message-input.ts';
import type { SendContext } from './send-context.ts';
import type { SendResult } from './types.ts';

/**
 * POSTs the alert's Slack message to `config.webhook_url`. Slack answers a revoked or archived
 * hook with 403, 404, 410 or a 400 (`invalid_token`, `no_service`, `channel_is_archived`): all
 * permanent.
 */
export async function sendSlack(input: MessageInput, context: SendContext): Promise<SendResult> {
  const url = httpUrl(context.channel.config.webhook_url);
  if (url === undefined) {
    return { ok: false, permanent: true, error: 'the channel has no http(s) webhook_url' };
  }
  const body = JSON.stringify(
    slackMessage(input.alert, { template: input.template, redact: { secrets: context.secrets } }),
  );
  return postOnce({ url, headers: { 'content-type': 'application/json' }, body, ...context.http });
}
