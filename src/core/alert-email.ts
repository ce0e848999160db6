// Alert e-mails: a one-line subject, a plain-text body and an HTML body with the same content.
// Every value in the HTML is escaped (an error message is attacker-reachable text: a webhook
// payload can put markup in it), and the subject is kept to one line so that no value can start
// a new header.

import {
  detailsOf,
  moreFailures,
  prepareAlert,
  runUrlOf,
  summaryOf,
  titleOf,
  type Alert,
  type MessageOptions,
  type SafeAlert,
} from './alert-text.ts';
import { truncate } from './safe-value.ts';

/** Longest subject, in characters. */
export const MAX_SUBJECT_LENGTH = 200;

/** An alert e-mail's parts, for a multipart/alternative message. */
export interface EmailMessage {
  /** One line, at most 200 characters. */
  subject: string;
  text: string;
  html: string;
}

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Text on one line: line breaks, tabs and other control characters become single spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029\s]+/g, ' ').trim();
}

function lines(a: SafeAlert): Array<[string, string]> {
  const details = detailsOf(a);
  // The message itself, which a custom summary may leave out, goes right after the error type.
  const at = details.findIndex(([label]) => label === 'Error');
  if (a.error && at >= 0) details.splice(at + 1, 0, ['Message', a.error.message]);
  return details;
}

/**
 * The e-mail for an alert: subject `[MeshHook] <title> (and N more failures)` (one line,
 * ≤ 200 characters), and text and HTML bodies with the summary, the details, a link to the
 * run and the project it came from. Everything is redacted first and escaped in the HTML.
 *
 * @example
 * const { subject, text, html } = emailMessage(alert, { template: rule.template });
 */
export function emailMessage(alert: Alert, options?: MessageOptions): EmailMessage {
  const a = prepareAlert(alert, options);
  const more = moreFailures(a.covers);
  const subject = truncate(
    oneLine(`[MeshHook] ${titleOf(a)}${more === '' ? '' : ` (${more})`}`),
    MAX_SUBJECT_LENGTH,
  );
  const summary = summaryOf(a, options?.template);
  const details = lines(a);
  const url = runUrlOf(a);
  const footer = `Sent by MeshHook for project ${a.project.name ?? a.project.id}.`;

  const text = [
    summary,
    '',
    ...details.map(([label, value]) => `${label}: ${value}`),
    ...(url === undefined ? [] : ['', `Open the run: ${url}`]),
    '',
    '-- ',
    footer,
    '',
  ].join('\n');

  const rows = details
    .map(([label, value]) => {
      const cell = escapeHtml(value).replace(/\r?\n/g, '<br>');
      return `<tr><th align="left" valign="top">${escapeHtml(label)}</th><td>${cell}</td></tr>`;
    })
    .join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif">',
    `<h2>${escapeHtml(titleOf(a))}</h2>`,
    `<p>${escapeHtml(summary)}</p>`,
    `<table cellpadding="4">\n${rows}\n</table>`,
    ...(url === undefined ? [] : [`<p><a href="${escapeHtml(url)}">Open the run</a></p>`]),
    `<p style="color: #666">${escapeHtml(footer)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { subject, text, html };
}
