// Slack incoming-webhook bodies. Slack refuses a whole message when one element is over its
// limit, so every text is cut to fit before it is sent, with an ellipsis and, where there is
// room, a link to the run that holds the full story. User text is escaped (&, <, >) so that an
// error message cannot ping a channel (`<!channel>`) or forge a link.

import {
  detailsOf,
  prepareAlert,
  runUrlOf,
  summaryOf,
  titleOf,
  type Alert,
  type MessageOptions,
} from './alert-text.ts';

/** Slack's limits (Block Kit reference), in characters. */
export const SLACK_LIMITS = Object.freeze({
  /** A section block's text. */
  sectionText: 3_000,
  /** A header block's text. */
  headerText: 150,
  /** One section field's text. */
  fieldText: 2_000,
  /** Fields in one section. */
  fields: 10,
  /** Blocks in one message. */
  blocks: 50,
  /** A context element's text. */
  contextText: 3_000,
  /** A button's url. */
  buttonUrl: 3_000,
  /** The top-level fallback `text`. */
  text: 40_000,
});

type PlainText = { type: 'plain_text'; text: string; emoji?: boolean };
type Mrkdwn = { type: 'mrkdwn'; text: string };

/** A Block Kit block as this module builds them. */
export type SlackBlock =
  | { type: 'header'; text: PlainText }
  | { type: 'section'; text: Mrkdwn; fields?: Mrkdwn[] }
  | { type: 'context'; elements: Mrkdwn[] }
  | { type: 'actions'; elements: Array<{ type: 'button'; text: PlainText; url: string }> };

/** The JSON body to POST to a Slack incoming webhook. */
export interface SlackMessage {
  /** Shown in notifications and by clients that cannot draw blocks. */
  text: string;
  blocks: SlackBlock[];
}

/** Escapes the three characters Slack reads as markup in mrkdwn text. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters, never inside a surrogate pair or (escaped text) an entity. */
function cut(text: string, max: number, escaped = true): string {
  let out = text.slice(0, Math.max(0, max));
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  return escaped ? out.replace(/&[a-z]{0,3}$/, '') : out;
}

/** `text` within `max`; when cut, it ends with an ellipsis and the link, if the link fits. */
function fit(text: string, max: number, link: string): string {
  if (text.length <= max) return text;
  const withLink = link === '' ? '' : ` ${link}`;
  const tail = withLink.length + 1 <= max / 2 ? `…${withLink}` : '…';
  return cut(text, max - tail.length) + tail;
}

/**
 * The Slack incoming-webhook body for an alert: a `text` fallback (the summary and a link to the
 * run) and blocks (a header with the title, a section with the summary and the details as fields, a context line with the project,
 * rule and time, a button to the run). Texts are cut to Slack's limits (section 3,000, header
 * 150, field 2,000, `text` 40,000; `maxChars` lowers the section's), ending "… <run|Open the
 * full run>". Everything is redacted first.
 *
 * @example
 * await fetch(channel.config.webhook_url, { method: 'POST', body: JSON.stringify(slackMessage(alert)) });
 */
export function slackMessage(
  alert: Alert,
  options?: MessageOptions & { maxChars?: number },
): SlackMessage {
  const a = prepareAlert(alert, options);
  const url = runUrlOf(a);
  const link = url === undefined ? '' : `<${slackEscape(url)}|Open the full run>`;
  const sectionMax = Math.min(SLACK_LIMITS.sectionText, Math.max(1, options?.maxChars ?? Infinity));
  const title = titleOf(a);
  const summary = slackEscape(summaryOf(a, options?.template));

  const details = detailsOf(a).filter(([label]) => label !== 'Rule' && label !== 'At');
  const fields = details.slice(0, SLACK_LIMITS.fields).map(([label, value]) => ({
    type: 'mrkdwn' as const,
    text: fit(`*${label}*\n${slackEscape(value)}`, SLACK_LIMITS.fieldText, ''),
  }));
  const context = [
    `MeshHook · project ${a.project.name ?? a.project.id}`,
    ...(a.rule ? [`rule ${a.rule.name}`] : []),
    a.at,
  ].join(' · ');

  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: fitPlain(title, SLACK_LIMITS.headerText), emoji: true },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: fit(summary, sectionMax, link) },
      ...(fields.length > 0 ? { fields } : {}),
    },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: fit(slackEscape(context), SLACK_LIMITS.contextText, '') }],
    },
  ];
  if (url !== undefined && url.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open run' }, url }],
    });
  }
  const fallback = link === '' ? summary : `${summary} ${link}`;
  return {
    text: fit(fallback, SLACK_LIMITS.text, link),
    blocks: blocks.slice(0, SLACK_LIMITS.blocks),
  };
}

// plain_text is shown as written (no markup, no entities), so it is cut without escaping.
function fitPlain(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${cut(text, max - 1, false)}…`;
}
