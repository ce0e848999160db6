// The alert transports behind one `send`: the stored alert is read once, the channel's secrets
// gathered once, and every failure text scrubbed here, whichever transport wrote it, so no
// transport can leak a credential into the alert log by forgetting to.

import { createEmailSender, smtpSecrets } from './email.ts';
import { createErrorText } from './error-text.ts';
import { DEFAULT_TIMEOUT_MS } from './http-post.ts';
import { messageInput } from './message-input.ts';
import { secretsOf, type SendContext } from './send-context.ts';
import { sendSlack } from './slack.ts';
import { sendSms, smsSecrets, type SmsAccount } from './sms.ts';
import type { ChannelSenders, ChannelTarget, Delivery, SendResult } from './types.ts';
import { sendWebhook } from './webhook.ts';

export type { ChannelSenders, ChannelTarget, Delivery, SendResult } from './types.ts';
export { DELIVERY_HEADER, ATTEMPT_HEADER } from './webhook.ts';
export { DEFAULT_EMAIL_FROM } from './email.ts';
export { DEFAULT_TIMEOUT_MS, USER_AGENT } from './http-post.ts';

/** How the transports reach the outside: SMTP_URL, MESHHOOK_ALERT_EMAIL_FROM, MESHHOOK_SMS_*. */
export interface ChannelSendersOptions {
  /** `smtp://user:pass@host:587`; absent: e-mail channels fail permanently. */
  smtpUrl?: string;
  /** The From of alert e-mails; default `MeshHook <meshhook@localhost>`. */
  emailFrom?: string;
  /** The Twilio-shaped SMS account; absent: SMS channels fail permanently. */
  sms?: SmsAccount;
  /** Limit on one attempt, connection to answer; default 10 s. */
  timeoutMs?: number;
  /** The clock, for signatures and Retry-After dates. */
  now?: () => Date;
}

/**
 * The transports for every channel type. `close()` ends the SMTP pool; call it on shutdown.
 *
 * @example
 * const senders = createChannelSenders({ smtpUrl: config.smtpUrl, timeoutMs: 10_000 });
 * const result = await senders.send(channel, { id, attempt: 1, alert }, signal);
 * if (!result.ok && !result.permanent) retryLater(result.retryAfterMs);
 */
export function createChannelSenders(
  options: ChannelSendersOptions,
): ChannelSenders & { close(): void } {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? (() => new Date());
  const email = createEmailSender({ smtpUrl: options.smtpUrl, from: options.emailFrom, timeoutMs });
  const transportSecrets = [...smtpSecrets(options.smtpUrl), ...smsSecrets(options.sms)];

  async function attempt(context: SendContext, alert: Delivery['alert']): Promise<SendResult> {
    const input = messageInput(alert);
    if (!input.ok) return { ok: false, permanent: true, error: `unusable alert: ${input.error}` };
    switch (context.channel.type) {
      case 'email':
        return email.send(input.value, context);
      case 'webhook':
        return sendWebhook(input.value, context);
      case 'slack':
        return sendSlack(input.value, context);
      case 'sms':
        return sendSms(input.value, context, options.sms);
      default:
        return unknownType(context.channel.type);
    }
  }

  return {
    async send(channel: ChannelTarget, delivery: Delivery, signal: AbortSignal) {
      const secrets = secretsOf(channel, transportSecrets);
      const context: SendContext = { channel, delivery, secrets, http: { signal, timeoutMs, now } };
      const errorText = createErrorText(secrets);
      let result: SendResult;
      try {
        result = await attempt(context, delivery.alert);
      } catch (error) {
        // A fault in a builder or a transport: retried, as a deploy may fix it before the last try.
        const message = error instanceof Error ? error.message : String(error);
        result = { ok: false, permanent: false, error: `internal error: ${message}` };
      }
      return result.ok ? result : { ...result, error: errorText(result.error) };
    },
    close: () => email.close(),
  };
}

// Types come from storage: one outside the union is refused for good rather than retried.
function unknownType(type: never): SendResult {
  return {
    ok: false,
    permanent: true,
    error: `unknown channel type "${String(type).slice(0, 20)}"`,
  };
}
