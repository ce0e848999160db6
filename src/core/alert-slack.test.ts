import { describe, it, expect } from 'vitest';
import { SLACK_LIMITS, slackEscape, slackMessage, type SlackBlock } from './alert-slack.ts';
import type { Alert } from './alert-text.ts';

const RUN_URL = 'https://mesh.example/runs/r1';
const alert: Alert = {
  type: 'run_failed',
  project: { id: 'p1', name: 'Shop' },
  workflow: { id: 'w1', slug: 'orders' },
  run: { id: 'r1', url: RUN_URL },
  node_id: 'charge',
  error: { type: 'http_5xx', message: 'upstream answered 502' },
  attempts: 3,
  covers: 38,
  rule: { id: 'ru1', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00Z'),
};

const sectionOf = (blocks: SlackBlock[]) => {
  const section = blocks.find((b) => b.type === 'section');
  if (section?.type !== 'section') throw new Error('no section block');
  return section;
};
const headerOf = (blocks: SlackBlock[]) => {
  const header = blocks.find((b) => b.type === 'header');
  if (header?.type !== 'header') throw new Error('no header block');
  return header;
};

describe('slackMessage', () => {
  it('builds the fallback text and the blocks', () => {
    const summary =
      'orders: run r1 failed at step charge with http_5xx: upstream answered 502 (and 37 more failures)';
    expect(slackMessage(alert)).toEqual({
      text: `${summary} <${RUN_URL}|Open the full run>`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Run failed: orders', emoji: true } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: summary },
          fields: [
            { type: 'mrkdwn', text: '*Workflow*\norders' },
            { type: 'mrkdwn', text: '*Run*\nr1' },
            { type: 'mrkdwn', text: '*Step*\ncharge' },
            { type: 'mrkdwn', text: '*Error*\nhttp_5xx' },
            { type: 'mrkdwn', text: '*Attempts*\n3' },
            { type: 'mrkdwn', text: '*Failures*\n38' },
          ],
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: 'MeshHook · project Shop · rule Orders down · 2026-05-01T10:00:00.000Z',
            },
          ],
        },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Open run' }, url: RUN_URL },
          ],
        },
      ],
    });
  });

  it('leaves out the button and the link when there is no run, and fields that are unknown', () => {
    const message = slackMessage({
      type: 'worker_missing',
      project: { id: 'p1' },
      covers: 1,
      at: new Date(0),
    });
    expect(message).toEqual({
      text: 'A worker stopped reporting',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Worker missing', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'A worker stopped reporting' } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: 'MeshHook · project p1 · 1970-01-01T00:00:00.000Z' }],
        },
      ],
    });
  });

  it('escapes markup so an error message cannot mention a channel or forge a link', () => {
    const message = slackMessage({
      ...alert,
      covers: 1,
      error: { type: 'http_4xx', message: '<!channel> see <https://evil.example|docs> & retry' },
    });
    expect(sectionOf(message.blocks).text.text).toBe(
      'orders: run r1 failed at step charge with http_4xx: &lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; retry',
    );
    expect(message.text).not.toContain('<!channel>');
    expect(slackEscape('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });

  it('cuts the section to maxChars with an ellipsis and a link to the full run', () => {
    const message = slackMessage(
      { ...alert, error: { type: 'x', message: 'y'.repeat(1000) } },
      { maxChars: 200 },
    );
    const text = sectionOf(message.blocks).text.text;
    const tail = `… <${RUN_URL}|Open the full run>`;
    expect(text.length).toBe(200);
    expect(text.endsWith(tail)).toBe(true);
    expect(text).toBe(
      `orders: run r1 failed at step charge with x: ${'y'.repeat(200 - tail.length - 45)}${tail}`,
    );
  });

  it('keeps every text within Slack’s limits, whatever the input', () => {
    const huge = 'z&'.repeat(30_000);
    const message = slackMessage(
      {
        ...alert,
        workflow: { id: 'w1', slug: `orders-${'s'.repeat(3000)}` },
        node_id: 'n'.repeat(3000),
        error: { type: 'http_5xx', message: huge },
        rule: { id: 'ru1', name: 'r'.repeat(5000) },
      },
      { template: `{{error.message}}${'t'.repeat(1990)}` },
    );
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    const header = headerOf(message.blocks).text.text;
    expect(header.length).toBe(SLACK_LIMITS.headerText);
    expect(header.endsWith('s…')).toBe(true);
    const section = sectionOf(message.blocks);
    expect(section.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(section.text.text.endsWith(`… <${RUN_URL}|Open the full run>`)).toBe(true);
    // Never cut inside an entity: the text before the ellipsis ends on a whole "&amp;".
    expect(section.text.text).toMatch(/z&amp;…|z…/);
    expect(section.fields!.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
    for (const field of section.fields!)
      expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    for (const block of message.blocks) {
      if (block.type === 'context') {
        for (const element of block.elements)
          expect(element.text.length).toBeLessThanOrEqual(SLACK_LIMITS.contextText);
      }
    }
  });

  it('caps maxChars at Slack’s 3,000 and drops a button whose URL Slack would refuse', () => {
    const longUrl = `https://mesh.example/runs/r1?${'q'.repeat(3100)}`;
    const message = slackMessage(
      {
        ...alert,
        run: { id: 'r1', url: longUrl },
        error: { type: 'x', message: 'm'.repeat(3900) },
      },
      { maxChars: 10_000 },
    );
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    const text = sectionOf(message.blocks).text.text;
    expect(text.length).toBe(3000);
    // The link would take more than half the room, so the cut ends with the ellipsis alone.
    expect(text.endsWith('m…')).toBe(true);
  });

  it('keeps a surrogate pair whole when it cuts', () => {
    const text = sectionOf(
      slackMessage(
        { ...alert, run: null, covers: 1, error: { type: 'x', message: '😀'.repeat(100) } },
        { maxChars: 51 },
      ).blocks,
    ).text.text;
    expect(text).toBe(`orders: run  failed at step charge with x: ${'😀'.repeat(3)}…`);
  });
});
