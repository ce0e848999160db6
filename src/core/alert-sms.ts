// Alert text messages. Two 160-character segments are the budget: longer messages cost more and
// some carriers split them badly. The run URL is what the reader acts on, so the summary is cut
// to make room for it rather than the other way round.

import { oneLine } from './alert-email.ts';
import {
  prepareAlert,
  runUrlOf,
  summaryOf,
  type Alert,
  type MessageOptions,
} from './alert-text.ts';
import { truncate } from './safe-value.ts';

/** Longest text message, in characters: two 160-character segments. */
export const MAX_SMS_LENGTH = 320;

// A summary shorter than this says too little to be worth a URL-only message.
const MIN_SUMMARY_LENGTH = 40;

/**
 * The text message for an alert, one line of at most 320 characters: `MeshHook: <summary>
 * (and N more failures) <run URL>`. The summary is cut (with an ellipsis) to keep the URL
 * whole; a URL so long that fewer than 40 characters of summary would remain is left out.
 * Everything is redacted first.
 *
 * @example
 * await sendSms({ to: channel.config.to, body: smsText(alert) });
 */
export function smsText(alert: Alert, options?: MessageOptions): string {
  const a = prepareAlert(alert, options);
  const summary = `MeshHook: ${oneLine(summaryOf(a, options?.template))}`;
  const url = runUrlOf(a);
  const room = url === undefined ? MAX_SMS_LENGTH : MAX_SMS_LENGTH - url.length - 1;
  if (url === undefined || room < MIN_SUMMARY_LENGTH) return truncate(summary, MAX_SMS_LENGTH);
  return `${truncate(summary, room)} ${url}`;
}
