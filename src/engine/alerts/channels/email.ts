// E-mail channels, through the SMTP server of SMTP_URL. One pooled transport serves every
// channel: alert bursts reuse its connections instead of opening one per message.

import nodemailer, { type Mail } from 'nodemailer';
import { emailMessage } from '../../../core/alert-email.ts';
import type { MessageInput } from './message-input.ts';
import type { SendContext } from './send-context.ts';
import type { SendResult } from './types.ts';

/** The sender when MESHHOOK_ALERT_EMAIL_FROM is not set. */
export const DEFAULT_EMAIL_FROM = 'MeshHook <meshhook@localhost>';

/** Sends alert e-mails through one SMTP server. */
export interface EmailSender {
  send(input: MessageInput, context: SendContext): Promise<SendResult>;
  /** Closes the pooled connections. */
  close(): void;
}

/** The parts of an SMTP URL that must never be shown: the URL itself and its password. */
export function smtpSecrets(smtpUrl: string | undefined): string[] {
  if (smtpUrl === undefined) return [];
  const secrets = [smtpUrl];
  if (URL.canParse(smtpUrl)) {
    const { password } = new URL(smtpUrl);
    if (password !== '') secrets.push(password, decodeURIComponent(password));
  }
  return secrets;
}

/**
 * The e-mail transport of SMTP_URL (`smtp://user:pass@host:587`, `smtps://…:465`), created on
 * first use. Without a URL every send fails permanently. SMTP answers 4xx (try later) are
 * retryable and 5xx (refused) permanent; a failed connection or a timeout is retryable.
 */
export function createEmailSender(options: {
  smtpUrl?: string;
  from?: string;
  timeoutMs: number;
}): EmailSender {
  const { smtpUrl, timeoutMs } = options;
  const from = options.from ?? DEFAULT_EMAIL_FROM;
  let transport: Mail | undefined;
  const transportOf = () =>
    (transport ??= nodemailer.createTransport({
      url: smtpUrl,
      pool: true,
      // Past the attempt's own deadline, so that speaks first; these then drop the connection
      // a stuck server held.
      connectionTimeout: 2 * timeoutMs,
      greetingTimeout: 2 * timeoutMs,
      socketTimeout: 2 * timeoutMs,
    }));

  return {
    async send(input, context) {
      if (smtpUrl === undefined || smtpUrl === '') {
        return { ok: false, permanent: true, error: 'SMTP_URL is not set' };
      }
      const to = context.channel.config.to;
      if (!Array.isArray(to) || to.length === 0 || !to.every((a) => typeof a === 'string')) {
        return { ok: false, permanent: true, error: 'the channel has no "to" addresses' };
      }
      if (context.http.signal.aborted) {
        return { ok: false, permanent: false, error: 'cancelled before the server answered' };
      }
      const message = emailMessage(input.alert, {
        template: input.template,
        redact: { secrets: context.secrets },
      });
      const sending = transportOf().sendMail({
        from,
        to: to as string[],
        subject: message.subject,
        text: message.text,
        html: message.html,
        // The same Message-ID on every attempt, so a mail client shows a repeat as one message.
        messageId: `<alert.${context.delivery.id}@meshhook>`,
        headers: {
          'X-MeshHook-Delivery': context.delivery.id,
          'X-MeshHook-Attempt': String(context.delivery.attempt),
        },
      });
      try {
        await withDeadline(sending, context.http.signal, timeoutMs);
        return { ok: true };
      } catch (error) {
        return smtpFailure(error, context.http.signal, timeoutMs);
      }
    },
    close() {
      transport?.close();
    },
  };
}

class Deadline extends Error {}

// nodemailer takes no signal: the attempt stops waiting at the deadline, and the message still in
// the pool either goes out (the stable Message-ID makes the retry a duplicate readers can spot)
// or ends at the socket timeout.
async function withDeadline<T>(work: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(ms)]);
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Deadline());
    if (deadline.aborted) onAbort();
    deadline.addEventListener('abort', onAbort, { once: true });
  });
  // A send that fails after the deadline has nobody left to hear it.
  work.catch(() => {});
  try {
    return await Promise.race([work, stopped]);
  } finally {
    deadline.removeEventListener('abort', onAbort);
  }
}

function smtpFailure(error: unknown, signal: AbortSignal, timeoutMs: number): SendResult {
  if (error instanceof Deadline) {
    const text = signal.aborted
      ? 'cancelled before the server answered'
      : `timed out after ${timeoutMs} ms`;
    return { ok: false, permanent: false, error: text };
  }
  const e = (error ?? {}) as {
    responseCode?: unknown;
    response?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.responseCode === 'number') {
    const reply = typeof e.response === 'string' ? e.response : message;
    // 4xx is the server's "not now" (greylisting, a full queue); 5xx is a refusal.
    return {
      ok: false,
      permanent: e.responseCode >= 500,
      statusCode: e.responseCode,
      error: `SMTP ${reply}`,
    };
  }
  // No reply code: the connection failed (refused, reset, timed out, TLS), worth another try.
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  return { ok: false, permanent: false, error: `SMTP ${code}${message}` };
}
