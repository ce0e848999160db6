import { describe, expect, it } from 'vitest';
import {
  maskChannelConfig,
  maskSecret,
  maskUrl,
  restoreMaskedSecrets,
} from './mask-channel-config.ts';

const SECRET = 'whsec_0123456789abcdef';
const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXWXYZ';
const webhook = {
  type: 'webhook' as const,
  config: { url: 'https://x.example/h', secret: SECRET },
};
const slack = { type: 'slack' as const, config: { webhook_url: SLACK } };

describe('maskChannelConfig', () => {
  it('shows the last four characters of a webhook secret and a Slack URL, with the host', () => {
    expect(maskSecret(SECRET)).toBe('••••cdef');
    expect(maskUrl(SLACK)).toBe('https://hooks.slack.com/…WXYZ');
    expect(maskUrl('http://127.0.0.1:4000/hook/abcdef')).toBe('http://127.0.0.1:4000/…cdef');
    expect(maskChannelConfig(webhook)).toEqual({
      config: { url: 'https://x.example/h', secret: '••••cdef' },
      hasSecret: true,
    });
    expect(maskChannelConfig(slack)).toEqual({
      config: { webhook_url: 'https://hooks.slack.com/…WXYZ' },
      hasSecret: true,
    });
  });

  it('leaves configs without credentials as they are', () => {
    const noSecret = {
      type: 'webhook' as const,
      config: { url: 'https://x.example/h', secret: null },
    };
    expect(maskChannelConfig(noSecret)).toEqual({ config: noSecret.config, hasSecret: false });
    const email = { type: 'email' as const, config: { to: ['a@x'] } };
    expect(maskChannelConfig(email)).toEqual({ config: { to: ['a@x'] }, hasSecret: false });
  });
});

describe('restoreMaskedSecrets', () => {
  it('puts the stored credential back where its mask was sent unchanged', () => {
    const sent = {
      name: 'n',
      type: 'webhook',
      config: { url: 'https://y.example', secret: '••••cdef' },
    };
    const restored = restoreMaskedSecrets(sent, { stored: webhook });
    expect(restored).toEqual({
      value: { name: 'n', type: 'webhook', config: { url: 'https://y.example', secret: SECRET } },
      problems: [],
    });
    expect(sent.config.secret).toBe('••••cdef');
    const url = restoreMaskedSecrets(
      { type: 'slack', config: { webhook_url: 'https://hooks.slack.com/…WXYZ' } },
      { stored: slack },
    );
    expect(url.value).toEqual({ type: 'slack', config: { webhook_url: SLACK } });
  });

  it('refuses a mask that matches nothing stored, of this type', () => {
    const wrong = { type: 'webhook', config: { url: 'https://y.example', secret: '••••0000' } };
    expect(restoreMaskedSecrets(wrong, { stored: webhook }).problems).toEqual([
      { path: 'config.secret', message: expect.stringContaining('masked') },
    ]);
    const noStored = { type: 'webhook', config: { url: 'https://y.example', secret: '••••cdef' } };
    expect(restoreMaskedSecrets(noStored, { stored: undefined }).problems).toHaveLength(1);
    const otherType = { type: 'slack', config: { webhook_url: 'https://hooks.slack.com/…WXYZ' } };
    expect(restoreMaskedSecrets(otherType, { stored: webhook }).problems).toHaveLength(1);
  });

  it('passes through whole values and bodies that are not channels', () => {
    const whole = { type: 'webhook', config: { url: 'https://y.example', secret: 'x'.repeat(20) } };
    expect(restoreMaskedSecrets(whole, { stored: webhook })).toEqual({
      value: whole,
      problems: [],
    });
    expect(restoreMaskedSecrets('nope', { stored: webhook })).toEqual({
      value: 'nope',
      problems: [],
    });
  });
});
