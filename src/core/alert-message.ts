// The messages of an alert, one renderer per channel, all starting from the same redacted alert
// (alert-text.ts): webhook bodies and their signature, Slack blocks, e-mails and text messages.
// This module is the entry point; each channel's formatting lives in its own file.

import { prepareAlert, renderSafe, type Alert, type MessageOptions } from './alert-text.ts';

export {
  ALERT_PAYLOAD_TYPES,
  DEFAULT_TEMPLATES,
  formatMetric,
  moreFailures,
  type Alert,
  type AlertPayloadType,
  type MessageOptions,
  type ThresholdReading,
} from './alert-text.ts';
export {
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TOLERANCE_S,
  signWebhookPayload,
  verifyWebhookSignature,
  webhookPayload,
  type WebhookPayload,
} from './alert-webhook.ts';
export { SLACK_LIMITS, slackMessage, type SlackBlock, type SlackMessage } from './alert-slack.ts';
export { MAX_SUBJECT_LENGTH, emailMessage, escapeHtml, type EmailMessage } from './alert-email.ts';
export { MAX_SMS_LENGTH, smsText } from './alert-sms.ts';

/**
 * Fills a rule's template from an alert: `{{workflow.slug}}`, `{{workflow.id}}`, `{{run.id}}`,
 * `{{run.url}}`, `{{node_id}}`, `{{error.type}}`, `{{error.message}}`, `{{attempts}}`,
 * `{{covers}}`, `{{more}}` ("and 37 more failures" or nothing), `{{rule.name}}`, `{{rule.id}}`,
 * `{{at}}` (ISO-8601 UTC), `{{type}}`, `{{project.id}}` and `{{threshold.metric|op|value|
 * threshold|state}}` (rates in percent). Unknown placeholders and absent values become the empty
 * string; nothing is evaluated. The alert is redacted before it is rendered and the result after.
 *
 * @example
 * renderTemplate('{{workflow.slug}} failed: {{error.message}}', alert); // 'orders failed: upstream 502'
 */
export function renderTemplate(template: string, alert: Alert, options?: MessageOptions): string {
  return renderSafe(template, prepareAlert(alert, options));
}
