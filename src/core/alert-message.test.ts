import { describe, it, expect } from 'vitest';
import {
  emailMessage,
  renderTemplate,
  signWebhookPayload,
  slackMessage,
  smsText,
  verifyWebhookSignature,
  webhookPayload,
  type Alert,
} from './alert-message.ts';

const alert: Alert = {
  type: 'step_failed',
  project: { id: 'p1', name: 'Shop' },
  workflow: { id: 'w1', slug: 'orders' },
  run: { id: 'r1', url: 'https://mesh.example/runs/r1' },
  node_id: 'charge',
  error: { type: 'http_4xx', message: 'payment API refused the call' },
  attempts: 5,
  covers: 1,
  rule: { id: 'ru1', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00Z'),
};

// A project secret, a bearer token, a password in a URL, a token in a query and a JSON secret.
const PROJECT_SECRET = 'prj-secret-7Hq2Lm9Xv4';
const TOKEN = 'sk_live_51Habc0123456789xyz';
const planted: Alert = {
  ...alert,
  run: { id: 'r1', url: 'https://mesh.example/runs/r1?access_token=tok-abc-123456' },
  error: {
    type: 'http_4xx',
    message: `POST https://admin:hunter2pass@pay.example/v1 with Authorization: Bearer ${TOKEN} failed; body {"client_secret":"cs-998877665544"} key ${PROJECT_SECRET}`,
  },
};
const LEAKS = [PROJECT_SECRET, TOKEN, 'hunter2pass', 'tok-abc-123456', 'cs-998877665544'];
const options = {
  redact: { secrets: [PROJECT_SECRET] },
  template: '{{error.message}} ({{run.url}}) {{more}}',
};

/** Every output a channel would send for an alert, as text. */
function everyOutput(a: Alert, o: typeof options | undefined): Record<string, string> {
  const email = emailMessage(a, o);
  return {
    template: renderTemplate(o?.template ?? '{{error.message}}', a, o),
    webhook: JSON.stringify(webhookPayload(a, o)),
    slack: JSON.stringify(slackMessage(a, o)),
    'email subject': email.subject,
    'email text': email.text,
    'email html': email.html,
    sms: smsText(a, o),
  };
}

describe('redaction in every channel', () => {
  it('masks a planted secret, bearer token and credentials everywhere', () => {
    for (const [channel, output] of Object.entries(everyOutput(planted, options))) {
      for (const leak of LEAKS) {
        expect({ channel, leaked: output.includes(leak) }).toEqual({ channel, leaked: false });
      }
      if (channel !== 'email subject') expect(output).toContain('[REDACTED]');
    }
  });

  it('masks them with the default templates too', () => {
    for (const [channel, output] of Object.entries(
      everyOutput(planted, { ...options, template: '' }),
    )) {
      for (const leak of LEAKS) {
        expect({ channel, leaked: output.includes(leak) }).toEqual({ channel, leaked: false });
      }
    }
  });

  it('masks the literal text of a template', () => {
    expect(renderTemplate(`{{workflow.slug}} ${PROJECT_SECRET}`, alert, options)).toBe(
      'orders [REDACTED]',
    );
  });
});

describe('"and N more failures" everywhere', () => {
  it('appears in every channel of a message covering several failures', () => {
    const outputs = everyOutput({ ...alert, covers: 38 }, undefined);
    for (const [channel, output] of Object.entries(outputs)) {
      if (channel === 'template' || channel === 'webhook') continue;
      expect({ channel, says: output.includes('and 37 more failures') }).toEqual({
        channel,
        says: true,
      });
    }
    expect(webhookPayload({ ...alert, covers: 38 }).covers).toBe(38);
    expect(renderTemplate('{{more}}', { ...alert, covers: 38 })).toBe('and 37 more failures');
  });

  it('appears nowhere for a single failure', () => {
    for (const output of Object.values(everyOutput(alert, undefined)))
      expect(output).not.toContain('more failure');
  });
});

describe('renderTemplate', () => {
  it('fills placeholders and empties unknown ones', () => {
    expect(
      renderTemplate(
        '{{workflow.slug}}/{{node_id}} failed {{attempts}}× at {{at}}{{unknown}}',
        alert,
      ),
    ).toBe('orders/charge failed 5× at 2026-05-01T10:00:00.000Z');
  });
});

describe('a signed delivery end to end', () => {
  it('verifies the body it signed and refuses a tampered one', () => {
    const secret = 'whsec-0123456789abcdef';
    const body = JSON.stringify(webhookPayload(planted, options));
    const header = signWebhookPayload(body, secret, alert.at);
    expect(verifyWebhookSignature(header, body, secret, { now: alert.at })).toEqual({ ok: true });
    const tampered = body.replace('"attempts":5', '"attempts":1');
    expect(tampered).not.toBe(body);
    expect(verifyWebhookSignature(header, tampered, secret, { now: alert.at }).ok).toBe(false);
  });
});
