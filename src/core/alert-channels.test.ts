import { describe, it, expect } from 'vitest';
import { channelSecrets, validateChannel, type AlertChannel } from './alert-channels.ts';
import type { FieldProblem } from './field-problems.ts';

function problemsOf(input: unknown): FieldProblem[] {
  const result = validateChannel(input);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return result.error;
}

function accepted(input: unknown): AlertChannel {
  const result = validateChannel(input);
  if (!result.ok) throw new Error(`expected acceptance, got ${JSON.stringify(result.error)}`);
  return result.value;
}

describe('validateChannel: email', () => {
  it('takes 1 to 20 addresses, dropping duplicates case-insensitively', () => {
    expect(
      accepted({
        name: ' Ops ',
        type: 'email',
        config: { to: ['ops@example.com', 'a@x', 'OPS@example.com'] },
      }),
    ).toEqual({ name: 'Ops', type: 'email', config: { to: ['ops@example.com', 'a@x'] } });
  });

  it('refuses bad addresses by index, and empty or long lists', () => {
    expect(
      problemsOf({
        name: 'Ops',
        type: 'email',
        config: { to: ['ok@example.com', 'no at sign', 'a@b@c', '<x>@y'] },
      }),
    ).toEqual([
      { path: 'config.to[1]', message: 'must be an email address' },
      { path: 'config.to[2]', message: 'must be an email address' },
      { path: 'config.to[3]', message: 'must be an email address' },
    ]);
    expect(problemsOf({ name: 'Ops', type: 'email', config: { to: [] } })).toEqual([
      { path: 'config.to', message: 'must name at least one address' },
    ]);
    const many = Array.from({ length: 21 }, (_, i) => `u${i}@example.com`);
    expect(problemsOf({ name: 'Ops', type: 'email', config: { to: many } })).toEqual([
      { path: 'config.to', message: 'must name at most 20 addresses' },
    ]);
    expect(problemsOf({ name: 'Ops', type: 'email', config: { to: 'ops@example.com' } })).toEqual([
      { path: 'config.to', message: 'must be a list of email addresses' },
    ]);
  });
});

describe('validateChannel: webhook', () => {
  it('takes an http(s) URL and an optional secret of 16 characters or more', () => {
    expect(
      accepted({ name: 'Hook', type: 'webhook', config: { url: 'https://hooks.example/in' } }),
    ).toEqual({
      name: 'Hook',
      type: 'webhook',
      config: { url: 'https://hooks.example/in', secret: null },
    });
    const secret = '0123456789abcdef';
    expect(
      accepted({
        name: 'Hook',
        type: 'webhook',
        config: { url: 'http://10.0.0.5:8080/in', secret },
      }).config,
    ).toEqual({
      url: 'http://10.0.0.5:8080/in',
      secret,
    });
  });

  it('refuses other schemes, junk URLs, short secrets and unknown keys', () => {
    expect(
      problemsOf({
        name: 'Hook',
        type: 'webhook',
        config: { url: 'ftp://x.example/', secret: 'short', headers: {} },
      }),
    ).toEqual([
      { path: 'config.headers', message: 'is not a known field' },
      { path: 'config.url', message: 'must be an http(s) URL' },
      { path: 'config.secret', message: 'must be at least 16 characters' },
    ]);
    expect(problemsOf({ name: 'Hook', type: 'webhook', config: { url: 'not a url' } })).toEqual([
      { path: 'config.url', message: 'must be an http(s) URL' },
    ]);
  });
});

describe('validateChannel: slack', () => {
  it('takes https, and http only on loopback', () => {
    for (const webhook_url of [
      'https://hooks.slack.com/services/T000/B000/XXXX',
      'http://127.0.0.1:4000/slack',
      'http://localhost/slack',
      'http://[::1]:9000/slack',
    ]) {
      expect(accepted({ name: 'Slack', type: 'slack', config: { webhook_url } }).config).toEqual({
        webhook_url,
      });
    }
  });

  it('refuses http elsewhere', () => {
    for (const webhook_url of [
      'http://hooks.slack.com/services/x',
      'http://127.0.0.2/x',
      'http://localhost.evil.example/x',
    ]) {
      expect(problemsOf({ name: 'Slack', type: 'slack', config: { webhook_url } })).toEqual([
        {
          path: 'config.webhook_url',
          message: 'must be an https URL (http only for 127.0.0.1 or localhost)',
        },
      ]);
    }
  });
});

describe('validateChannel: sms', () => {
  it('takes E.164 numbers, from being optional', () => {
    expect(
      accepted({ name: 'On call', type: 'sms', config: { to: '+33612345678' } }).config,
    ).toEqual({
      to: '+33612345678',
      from: null,
    });
    expect(
      accepted({
        name: 'On call',
        type: 'sms',
        config: { to: '+14155550100', from: '+14155550199' },
      }).config,
    ).toEqual({
      to: '+14155550100',
      from: '+14155550199',
    });
  });

  it('refuses numbers in other forms', () => {
    expect(
      problemsOf({ name: 'On call', type: 'sms', config: { to: '06 12 34 56 78', from: '+0123' } }),
    ).toEqual([
      { path: 'config.to', message: 'must be a phone number in E.164 form, such as +33612345678' },
      {
        path: 'config.from',
        message: 'must be a phone number in E.164 form, such as +33612345678',
      },
    ]);
  });
});

describe('validateChannel: the envelope', () => {
  it('reports name and type problems, and checks no config for an unknown type', () => {
    expect(problemsOf({ name: '', type: 'pager', config: { anything: 1 }, extra: true })).toEqual([
      { path: 'extra', message: 'is not a known field' },
      { path: 'name', message: 'must not be empty' },
      { path: 'type', message: 'must be one of email, webhook, slack, sms' },
    ]);
    expect(problemsOf({ name: 'x', type: 'sms' })).toEqual([
      { path: 'config', message: 'must be an object' },
    ]);
    expect(problemsOf('sms')).toEqual([{ path: '(root)', message: 'must be an object' }]);
  });

  it('reports envelope and config problems together', () => {
    expect(problemsOf({ name: 7, type: 'sms', config: {} })).toEqual([
      { path: 'name', message: 'must be a string' },
      { path: 'config.to', message: 'is required' },
    ]);
  });
});

describe('channelSecrets', () => {
  it('names the webhook secret and the Slack URL, nothing for email and sms', () => {
    const secret = 'whsec-0123456789abcdef';
    expect(
      channelSecrets(
        accepted({ name: 'h', type: 'webhook', config: { url: 'https://h.example', secret } }),
      ),
    ).toEqual([secret]);
    expect(
      channelSecrets(
        accepted({ name: 'h', type: 'webhook', config: { url: 'https://h.example' } }),
      ),
    ).toEqual([]);
    const url = 'https://hooks.slack.com/services/T000/B000/XXXX';
    expect(
      channelSecrets(accepted({ name: 's', type: 'slack', config: { webhook_url: url } })),
    ).toEqual([url]);
    expect(
      channelSecrets(accepted({ name: 'm', type: 'sms', config: { to: '+33612345678' } })),
    ).toEqual([]);
  });
});
