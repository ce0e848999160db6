// Text-message channels, through Twilio's Messages API or any service speaking its shape:
// `POST {apiUrl}/2010-04-01/Accounts/{sid}/Messages.json`, a form with To, From and Body, and the
// account's sid and token as HTTP Basic credentials.

import { smsText } from '../../../core/alert-sms.ts';
import { postOnce } from './http-post.ts';
import type { MessageInput } from './message-input.ts';
import type { SendContext } from './send-context.ts';
import type { SendResult } from './types.ts';

/** The SMS service's account, as configured (MESHHOOK_SMS_*). */
export interface SmsAccount {
  apiUrl: string;
  accountSid: string;
  authToken: string;
  /** The sender number for channels without their own `from`. */
  from?: string;
}

/** The credentials of an account as they travel, to be masked with the token itself. */
export function smsSecrets(account: SmsAccount | undefined): string[] {
  if (!account) return [];
  return [account.authToken, basicCredentials(account)];
}

function basicCredentials(account: SmsAccount): string {
  return Buffer.from(`${account.accountSid}:${account.authToken}`).toString('base64');
}

/** Sends the alert's text to `config.to`, from `config.from` or the account's number. */
export async function sendSms(
  input: MessageInput,
  context: SendContext,
  account: SmsAccount | undefined,
): Promise<SendResult> {
  if (!account) {
    return { ok: false, permanent: true, error: 'MESHHOOK_SMS_API_URL is not set' };
  }
  const { to, from } = context.channel.config;
  const sender = typeof from === 'string' && from !== '' ? from : account.from;
  if (typeof to !== 'string' || to === '') {
    return { ok: false, permanent: true, error: 'the channel has no "to" number' };
  }
  if (sender === undefined || sender === '') {
    return {
      ok: false,
      permanent: true,
      error: 'the channel has no "from" number and MESHHOOK_SMS_FROM is not set',
    };
  }
  const body = new URLSearchParams({
    To: to,
    From: sender,
    Body: smsText(input.alert, { template: input.template, redact: { secrets: context.secrets } }),
  }).toString();
  const base = account.apiUrl.replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(account.accountSid)}/Messages.json`;
  return postOnce({
    url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${basicCredentials(account)}`,
    },
    body,
    ...context.http,
  });
}
