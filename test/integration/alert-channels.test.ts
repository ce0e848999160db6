import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SLACK_LIMITS } from '../../src/core/alert-slack.ts';
import { verifyWebhookSignature } from '../../src/core/alert-webhook.ts';
import {
  createChannelSenders,
  type ChannelTarget,
  type Delivery,
  type SendResult,
} from '../../src/engine/alerts/channels/index.ts';
import { startReceiver, type ReceivedRequest } from '../helpers/receiver.ts';

// Secrets planted where a careless transport would leak them: the webhook's signing secret and a
// bearer token inside the alert's own error message, the SMS token, the SMTP password.
const WEBHOOK_SECRET = 'whsec-planted-0123456789abcdef';
const TOKEN = 'eyJplanted.bearer-token-4567';
const SMS_SID = 'AC0123456789';
const SMS_TOKEN = 'sms-token-planted-9876';
const SMTP_USER = 'alerts';
const SMTP_PASSWORD = 'smtp-pass-planted-5555';
const SLACK_PATH = '/services/T000/B000/slack-hook-planted-1111';
const NOW = new Date('2026-12-01T12:00:30.000Z');

const SLACK_URL = () => `${http.url}${SLACK_PATH}`;

/** A stored alert whose error message holds a bearer token and `planted`, a channel's secret. */
const storedWith = (planted: string) => ({
  type: 'run_failed',
  project_id: 'prj_1',
  workflow: { id: 'wf_1', slug: 'orders' },
  run: { id: 'run_1', url: 'http://meshhook.test/runs/run_1' },
  node_id: 'charge',
  error: {
    type: 'http_5xx',
    message: `upstream said: Authorization: Bearer ${TOKEN} (key ${planted})`,
  },
  attempts: 3,
  covers: 1,
  rule: { id: 'rule_1', name: 'Orders down' },
  criticality: 'critical',
  template: null,
  at: '2026-12-01T12:00:00.000Z',
});
const MASKED_MESSAGE = 'upstream said: Authorization: Bearer [REDACTED] (key [REDACTED])';
const SUMMARY = `orders: run run_1 failed at step charge with http_5xx: ${MASKED_MESSAGE}`;

// Each channel's deliveries carry that channel's own secret in the message, to be masked.
const plantedFor = (channel: ChannelTarget): string => {
  if (channel.type === 'webhook') return String(channel.config.secret ?? 'nothing-to-hide');
  if (channel.type === 'slack') return String(channel.config.webhook_url);
  return channel.type === 'sms' ? SMS_TOKEN : SMTP_PASSWORD;
};
const delivery = (id = 'dlv_1', attempt = 1, planted = WEBHOOK_SECRET): Delivery => ({
  id,
  attempt,
  alert: storedWith(planted),
});
const never = new AbortController().signal;

// --- receivers -----------------------------------------------------------------------------

const http = await startReceiver();

interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  raw: string;
}
const mails: Mail[] = [];
let rcptReply: { code: number; text: string } | undefined;
const smtp = new SMTPServer({
  // Plain SMTP with AUTH on loopback: nodemailer would otherwise upgrade to TLS and refuse the
  // server's self-signed certificate.
  disabledCommands: ['STARTTLS'],
  allowInsecureAuth: true,
  authOptional: true,
  logger: false,
  onAuth(auth, _session, callback) {
    if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) {
      callback(null, { user: auth.username });
    } else {
      callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    }
  },
  onRcptTo(_address: SMTPServerAddress, _session, callback) {
    if (!rcptReply) return callback();
    callback(Object.assign(new Error(rcptReply.text), { responseCode: rcptReply.code }));
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const from = session.envelope.mailFrom;
      mails.push({
        from: from ? from.address : '',
        to: session.envelope.rcptTo.map((a) => a.address),
        user: session.user,
        raw: Buffer.concat(chunks).toString('utf8'),
      });
      callback();
    });
  },
});
smtp.listen(0, '127.0.0.1');
await once(smtp.server, 'listening');
const smtpPort = (smtp.server.address() as AddressInfo).port;
const smtpUrl = `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${smtpPort}`;

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// A TCP server that accepts and never says a word: an SMTP server stuck before its greeting.
const mute = createServer((socket) => void muteSockets.push(socket));
const muteSockets: Socket[] = [];
mute.listen(0, '127.0.0.1');
await once(mute, 'listening');
const mutePort = (mute.address() as AddressInfo).port;

const senders = createChannelSenders({
  smtpUrl,
  emailFrom: 'MeshHook Alerts <alerts@meshhook.test>',
  sms: {
    apiUrl: `${http.url}/twilio/`,
    accountSid: SMS_SID,
    authToken: SMS_TOKEN,
    from: '+15550001111',
  },
  timeoutMs: 2_000,
  now: () => NOW,
});
const results: SendResult[] = [];
const opened: Array<{ close(): void }> = [senders];

/** Sends through `through` (default: the shared senders); keeps the result for the leak check. */
async function send(
  channel: ChannelTarget,
  options: {
    through?: ReturnType<typeof createChannelSenders>;
    delivery?: Delivery;
    signal?: AbortSignal;
  } = {},
): Promise<SendResult> {
  const result = await (options.through ?? senders).send(
    channel,
    options.delivery ?? delivery('dlv_1', 1, plantedFor(channel)),
    options.signal ?? never,
  );
  results.push(result);
  return result;
}

function sendersWith(options: Parameters<typeof createChannelSenders>[0]) {
  const created = createChannelSenders({ now: () => NOW, ...options });
  opened.push(created);
  return created;
}

const webhook = (path: string, secret: string | null = WEBHOOK_SECRET): ChannelTarget => ({
  id: 'ch_webhook',
  type: 'webhook',
  name: 'Ops hook',
  config: { url: `${http.url}${path}`, secret },
});
const slack = (path = SLACK_PATH, base = http.url): ChannelTarget => ({
  id: 'ch_slack',
  type: 'slack',
  name: 'Ops Slack',
  config: { webhook_url: `${base}${path}` },
});
const sms: ChannelTarget = {
  id: 'ch_sms',
  type: 'sms',
  name: 'On call',
  config: { to: '+33612345678', from: null },
};
const email = (to = ['oncall@example.com', 'lead@example.com']): ChannelTarget => ({
  id: 'ch_email',
  type: 'email',
  name: 'Ops mail',
  config: { to },
});
const SMS_PATH = `/twilio/2010-04-01/Accounts/${SMS_SID}/Messages.json`;

const answer =
  (status: number, body = '', headers: Record<string, string> = {}) =>
  (_request: ReceivedRequest, response: ServerResponse) =>
    void response.writeHead(status, headers).end(body);

beforeEach(() => {
  rcptReply = undefined;
});

afterAll(async () => {
  for (const s of opened) s.close();
  for (const socket of muteSockets) socket.destroy();
  await new Promise((resolve) => mute.close(resolve));
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await http.close();
});

// --- a minimal MIME reader: headers, multipart/alternative parts, QP and base64 ---------------

function splitMessage(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, at).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: raw.slice(at + 4) };
}

function decodePart(part: { headers: Map<string, string>; body: string }): string {
  const encoding = part.headers.get('content-transfer-encoding')?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body, 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = part.body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return part.body;
}

function parts(raw: string): { headers: Map<string, string>; text: string; html: string } {
  const message = splitMessage(raw);
  const boundary = /boundary="?([^";]+)"?/.exec(message.headers.get('content-type') ?? '')?.[1];
  const found = new Map<string, string>();
  for (const chunk of message.body.split(`--${boundary}`).slice(1, -1)) {
    const part = splitMessage(chunk.replace(/^\r\n/, '').replace(/\r\n$/, ''));
    found.set(part.headers.get('content-type')!.split(';')[0]!, decodePart(part));
  }
  return {
    headers: message.headers,
    text: found.get('text/plain')!,
    html: found.get('text/html')!,
  };
}

// --- the tests --------------------------------------------------------------------------------

describe('email', () => {
  it('sends the core’s subject, text and HTML to every recipient, authenticated', async () => {
    const result = await send(email(), { delivery: delivery('dlv_mail', 2, SMTP_PASSWORD) });
    expect(result).toEqual({ ok: true });
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.from).toBe('alerts@meshhook.test');
    expect(mail.to).toEqual(['oncall@example.com', 'lead@example.com']);
    expect(mail.user).toBe(SMTP_USER);
    const { headers, text, html } = parts(mail.raw);
    expect(headers.get('subject')).toBe('[MeshHook] Run failed: orders');
    expect(headers.get('from')).toBe('MeshHook Alerts <alerts@meshhook.test>');
    expect(headers.get('to')).toBe('oncall@example.com, lead@example.com');
    expect(headers.get('message-id')).toBe('<alert.dlv_mail@meshhook>');
    expect(headers.get('x-meshhook-delivery')).toBe('dlv_mail');
    expect(headers.get('x-meshhook-attempt')).toBe('2');
    expect(text).toBe(
      [
        SUMMARY,
        '',
        'Workflow: orders',
        'Run: run_1',
        'Step: charge',
        'Error: http_5xx',
        `Message: ${MASKED_MESSAGE}`,
        'Attempts: 3',
        'Rule: Orders down',
        'At: 2026-12-01T12:00:00.000Z',
        '',
        'Open the run: http://meshhook.test/runs/run_1',
        '',
        '-- ',
        'Sent by MeshHook for project prj_1.',
        '',
      ].join('\r\n'),
    );
    expect(html).toContain('<h2>Run failed: orders</h2>');
    expect(html).toContain('<a href="http://meshhook.test/runs/run_1">Open the run</a>');
  });

  it('fails for good without SMTP_URL', async () => {
    const result = await send(email(), { through: sendersWith({}) });
    expect(result).toEqual({ ok: false, permanent: true, error: 'SMTP_URL is not set' });
  });

  it('retries on a 4xx reply, gives up on a 5xx one', async () => {
    rcptReply = { code: 451, text: 'Try again later' };
    expect(await send(email(['a@example.com']))).toEqual({
      ok: false,
      permanent: false,
      statusCode: 451,
      error: 'SMTP 451 Try again later',
    });
    rcptReply = { code: 550, text: 'No such user' };
    expect(await send(email(['a@example.com']))).toEqual({
      ok: false,
      permanent: true,
      statusCode: 550,
      error: 'SMTP 550 No such user',
    });
  });

  it('fails for good on refused credentials, without showing them', async () => {
    const wrong = sendersWith({
      smtpUrl: `smtp://${SMTP_USER}:wrong-${SMTP_PASSWORD}@127.0.0.1:${smtpPort}`,
    });
    const result = await send(email(), { through: wrong });
    expect(result).toEqual({
      ok: false,
      permanent: true,
      statusCode: 535,
      error: 'SMTP 535 Authentication failed',
    });
  });

  it('retries when the server cannot be reached or never greets', async () => {
    const port = await closedPort();
    const refused = sendersWith({ smtpUrl: `smtp://u:${SMTP_PASSWORD}@127.0.0.1:${port}` });
    expect(await send(email(), { through: refused })).toEqual({
      ok: false,
      permanent: false,
      error: `SMTP ESOCKET: connect ECONNREFUSED 127.0.0.1:${port}`,
    });

    const stuck = sendersWith({ smtpUrl: `smtp://127.0.0.1:${mutePort}`, timeoutMs: 300 });
    const started = performance.now();
    expect(await send(email(), { through: stuck })).toEqual({
      ok: false,
      permanent: false,
      error: 'timed out after 300 ms',
    });
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('webhook', () => {
  it('POSTs the versioned payload, signed, with the delivery headers', async () => {
    const result = await send(webhook('/hook'), { delivery: delivery('dlv_hook', 3) });
    expect(result).toEqual({ ok: true, statusCode: 200 });
    const [request] = http.to('/hook');
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe('MeshHook-Alerts/1');
    expect(request!.headers['meshhook-delivery']).toBe('dlv_hook');
    expect(request!.headers['meshhook-attempt']).toBe('3');
    const signature = request!.headers['meshhook-signature'] as string;
    expect(signature).toMatch(new RegExp(`^t=${NOW.getTime() / 1000},v1=[0-9a-f]{64}$`));
    expect(verifyWebhookSignature(signature, request!.body, WEBHOOK_SECRET, { now: NOW })).toEqual({
      ok: true,
    });
    expect(
      verifyWebhookSignature(signature, `${request!.body} `, WEBHOOK_SECRET, { now: NOW }).ok,
    ).toBe(false);
    expect(JSON.parse(request!.body)).toEqual({
      version: '1',
      type: 'run_failed',
      project_id: 'prj_1',
      workflow: { id: 'wf_1', slug: 'orders' },
      run: { id: 'run_1', url: 'http://meshhook.test/runs/run_1' },
      node_id: 'charge',
      error: { type: 'http_5xx', message: MASKED_MESSAGE },
      attempts: 3,
      covers: 1,
      rule: { id: 'rule_1', name: 'Orders down' },
      at: '2026-12-01T12:00:00.000Z',
    });
  });

  it('reads a stored threshold alert and a workflow without its slug', async () => {
    const alert = {
      type: 'threshold_firing',
      project_id: 'prj_1',
      workflow: { id: 'wf_9', slug: null },
      run: null,
      node_id: null,
      error: null,
      attempts: null,
      covers: 1,
      rule: { id: 'rule_2', name: 'Failure rate' },
      criticality: 'normal',
      template: null,
      at: '2026-12-01T12:00:00.000Z',
      metric: 'failure_rate',
      value: 0.25,
      threshold: 0.1,
      state: 'firing',
    };
    const result = await send(webhook('/threshold'), {
      delivery: { id: 'dlv_threshold', attempt: 1, alert },
    });
    expect(result).toEqual({ ok: true, statusCode: 200 });
    expect(JSON.parse(http.to('/threshold')[0]!.body)).toEqual({
      version: '1',
      type: 'threshold_firing',
      project_id: 'prj_1',
      workflow: { id: 'wf_9', slug: 'wf_9' },
      run: null,
      node_id: null,
      error: null,
      attempts: null,
      covers: 1,
      rule: { id: 'rule_2', name: 'Failure rate' },
      at: '2026-12-01T12:00:00.000Z',
      threshold: {
        metric: 'failure_rate',
        op: '>',
        value: 0.25,
        threshold: 0.1,
        state: 'firing',
        window: null,
      },
    });
  });

  it('sends no signature for a channel without a secret', async () => {
    expect(await send(webhook('/unsigned', null))).toEqual({ ok: true, statusCode: 200 });
    expect(http.to('/unsigned')[0]!.headers['meshhook-signature']).toBeUndefined();
  });

  it('retries on 500, and on 429 after its Retry-After (seconds or a date, ≤ 1 h)', async () => {
    http.on('/500', answer(500, 'boom'));
    expect(await send(webhook('/500'))).toEqual({
      ok: false,
      permanent: false,
      statusCode: 500,
      error: 'HTTP 500: boom',
    });
    http.on('/429', answer(429, '{"error":"slow down"}', { 'retry-after': '120' }));
    expect(await send(webhook('/429'))).toEqual({
      ok: false,
      permanent: false,
      statusCode: 429,
      error: 'HTTP 429: slow down',
      retryAfterMs: 120_000,
    });
    http.on('/429-date', answer(429, '', { 'retry-after': 'Tue, 01 Dec 2026 12:05:30 GMT' }));
    expect(await send(webhook('/429-date'))).toMatchObject({ retryAfterMs: 300_000 });
    http.on('/503', answer(503, '', { 'retry-after': '86400' }));
    expect(await send(webhook('/503'))).toEqual({
      ok: false,
      permanent: false,
      statusCode: 503,
      error: 'HTTP 503',
      retryAfterMs: 3_600_000,
    });
  });

  it('gives up on other 4xx', async () => {
    http.on('/gone', answer(410, 'gone'));
    expect(await send(webhook('/gone'))).toEqual({
      ok: false,
      permanent: true,
      statusCode: 410,
      error: 'HTTP 410: gone',
    });
  });

  it('retries when the connection is refused', async () => {
    const channel = {
      ...webhook('/'),
      config: { url: `http://127.0.0.1:${await closedPort()}/hook` },
    };
    expect(await send(channel)).toEqual({
      ok: false,
      permanent: false,
      error: 'request failed: ECONNREFUSED',
    });
  });

  it('retries a receiver that never answers, once the timeout is up', async () => {
    http.on('/hang', () => {});
    const quick = sendersWith({ timeoutMs: 300 });
    const started = performance.now();
    expect(await send(webhook('/hang'), { through: quick })).toEqual({
      ok: false,
      permanent: false,
      error: 'timed out after 300 ms',
    });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('stops when the caller aborts, to be retried', async () => {
    http.on('/slow', () => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await send(webhook('/slow'), { signal: controller.signal })).toEqual({
      ok: false,
      permanent: false,
      error: 'cancelled before an answer came',
    });
  });

  it('scrubs the secret from an answer that echoes it', async () => {
    http.on(
      '/echo',
      (request, response) =>
        void response
          .writeHead(400)
          .end(`bad signature ${request.headers['meshhook-signature']} for ${WEBHOOK_SECRET}`),
    );
    const result = await send(webhook('/echo'));
    expect(result).toMatchObject({ ok: false, permanent: true, statusCode: 400 });
    expect(result.ok ? '' : result.error).toMatch(
      /^HTTP 400: bad signature t=\d+,v1=[0-9a-f]{64} for \[REDACTED\]$/,
    );
  });
});

describe('slack', () => {
  it('POSTs a Block Kit message within Slack’s limits', async () => {
    expect(await send(slack())).toEqual({ ok: true, statusCode: 200 });
    const [request] = http.to(SLACK_PATH);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toBe('MeshHook-Alerts/1');
    const body = JSON.parse(request!.body);
    expect(body.text).toBe(`${SUMMARY} <http://meshhook.test/runs/run_1|Open the full run>`);
    expect(body.blocks.map((b: any) => b.type)).toEqual([
      'header',
      'section',
      'context',
      'actions',
    ]);
    expect(body.blocks[0].text).toEqual({
      type: 'plain_text',
      text: 'Run failed: orders',
      emoji: true,
    });
    expect(body.blocks[1].text).toEqual({ type: 'mrkdwn', text: SUMMARY });
    expect(body.blocks[1].fields.map((f: any) => f.text)).toEqual([
      '*Workflow*\norders',
      '*Run*\nrun_1',
      '*Step*\ncharge',
      '*Error*\nhttp_5xx',
      '*Attempts*\n3',
    ]);
    expect(body.blocks[3].elements).toEqual([
      {
        type: 'button',
        text: { type: 'plain_text', text: 'Open run' },
        url: 'http://meshhook.test/runs/run_1',
      },
    ]);
    expect(body.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    expect(body.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(body.blocks[0].text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(body.blocks[1].text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(body.blocks[1].fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
    for (const field of body.blocks[1].fields) {
      expect(field.type).toBe('mrkdwn');
      expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    }
  });

  it('gives up on a revoked hook, without naming its URL', async () => {
    http.on('/revoked/T1/B1/404', answer(404, 'no_service'));
    expect(await send(slack('/revoked/T1/B1/404'))).toEqual({
      ok: false,
      permanent: true,
      statusCode: 404,
      error: 'HTTP 404: no_service',
    });
    http.on(
      '/revoked/T1/B1/400',
      (request, response) =>
        void response.writeHead(400).end(`invalid_token for ${http.url}${request.url}?x=1`),
    );
    expect(await send(slack('/revoked/T1/B1/400'))).toEqual({
      ok: false,
      permanent: true,
      statusCode: 400,
      error: `HTTP 400: invalid_token for ${http.url}`,
    });
  });

  it('retries when Slack cannot be reached', async () => {
    const port = await closedPort();
    expect(await send(slack(SLACK_PATH, `http://127.0.0.1:${port}`))).toEqual({
      ok: false,
      permanent: false,
      error: 'request failed: ECONNREFUSED',
    });
  });
});

describe('sms', () => {
  it('POSTs Twilio’s form with Basic auth', async () => {
    http.on(
      SMS_PATH,
      answer(201, '{"sid":"SM1","status":"queued"}', { 'content-type': 'application/json' }),
    );
    expect(await send(sms)).toEqual({ ok: true, statusCode: 201 });
    const [request] = http.to(SMS_PATH);
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.authorization).toBe(
      `Basic ${Buffer.from(`${SMS_SID}:${SMS_TOKEN}`).toString('base64')}`,
    );
    const form = new URLSearchParams(request!.body);
    expect([...form.keys()]).toEqual(['To', 'From', 'Body']);
    expect(form.get('To')).toBe('+33612345678');
    expect(form.get('From')).toBe('+15550001111');
    expect(form.get('Body')).toBe(`MeshHook: ${SUMMARY} http://meshhook.test/runs/run_1`);
  });

  it('uses the channel’s own sender number when it has one', async () => {
    const path = `/own/2010-04-01/Accounts/${SMS_SID}/Messages.json`;
    const own = sendersWith({
      sms: { apiUrl: `${http.url}/own`, accountSid: SMS_SID, authToken: SMS_TOKEN },
    });
    expect(
      await send(
        { ...sms, config: { to: '+33612345678', from: '+33700000000' } },
        { through: own },
      ),
    ).toEqual({
      ok: true,
      statusCode: 200,
    });
    expect(new URLSearchParams(http.to(path)[0]!.body).get('From')).toBe('+33700000000');
    expect(await send(sms, { through: own })).toEqual({
      ok: false,
      permanent: true,
      error: 'the channel has no "from" number and MESHHOOK_SMS_FROM is not set',
    });
  });

  it('gives up on a refused number or without an account, hiding the token', async () => {
    http.on(
      SMS_PATH,
      answer(
        400,
        JSON.stringify({ code: 21211, message: `Invalid 'To' number (token ${SMS_TOKEN})` }),
      ),
    );
    expect(await send(sms)).toEqual({
      ok: false,
      permanent: true,
      statusCode: 400,
      error: "HTTP 400: Invalid 'To' number (token [REDACTED])",
    });
    expect(await send(sms, { through: sendersWith({}) })).toEqual({
      ok: false,
      permanent: true,
      error: 'MESHHOOK_SMS_API_URL is not set',
    });
  });
});

describe('every channel', () => {
  it('refuses a stored alert it cannot render', async () => {
    const result = await send(webhook('/never'), {
      delivery: {
        id: 'dlv_bad',
        attempt: 1,
        alert: { ...storedWith(WEBHOOK_SECRET), type: 'nonsense' },
      },
    });
    expect(result).toEqual({
      ok: false,
      permanent: true,
      error: 'unusable alert: unknown alert type "nonsense"',
    });
    expect(http.to('/never')).toEqual([]);
  });

  it('leaks no planted secret into any byte received or any error', () => {
    // Runs last: every request, mail and result above is in the record by now.
    expect(http.requests.length).toBeGreaterThan(10);
    expect(mails.length).toBeGreaterThan(0);
    const received = [
      ...http.requests.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`),
      ...mails.map((m) => `${m.from} ${m.to.join(',')}\n${m.raw}`),
    ].join('\n');
    const secrets = [WEBHOOK_SECRET, TOKEN, SMS_TOKEN, SMTP_PASSWORD];
    for (const secret of [...secrets, SLACK_URL()]) expect(received).not.toContain(secret);
    for (const secret of [WEBHOOK_SECRET, TOKEN]) {
      expect(received).not.toContain(Buffer.from(secret).toString('base64'));
    }
    const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
    expect(errors.length).toBeGreaterThan(10);
    for (const error of errors) {
      for (const secret of secrets) expect(error).not.toContain(secret);
      // A Slack hook's path is its credential: errors name the host only.
      expect(error).not.toMatch(/\/services\/|\/revoked\//);
    }
  });
});
