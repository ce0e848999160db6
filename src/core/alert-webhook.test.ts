import { createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import type { Alert } from './alert-text.ts';
import {
  WEBHOOK_SIGNATURE_HEADER,
  signWebhookPayload,
  verifyWebhookSignature,
  webhookPayload,
} from './alert-webhook.ts';

const alert: Alert = {
  type: 'step_failed',
  project: { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'Shop' },
  workflow: { id: 'c0ffee00-0000-4000-8000-000000000002', slug: 'orders' },
  run: {
    id: 'c0ffee00-0000-4000-8000-000000000003',
    url: 'https://mesh.example/runs/c0ffee00-0000-4000-8000-000000000003',
  },
  node_id: 'charge',
  error: { type: 'http_5xx', message: 'POST https://pay.example/charge answered 502' },
  attempts: 3,
  covers: 5,
  rule: { id: 'c0ffee00-0000-4000-8000-000000000004', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00.250Z'),
};

const SECRET = 'whsec-0123456789abcdef';
const AT = new Date('2026-05-01T10:00:00.900Z');
const T = 1777629600; // AT in whole seconds

describe('webhookPayload', () => {
  it('is the versioned body of API.md, keys in order', () => {
    expect(JSON.stringify(webhookPayload(alert))).toBe(
      '{"version":"1","type":"step_failed","project_id":"c0ffee00-0000-4000-8000-000000000001",' +
        '"workflow":{"id":"c0ffee00-0000-4000-8000-000000000002","slug":"orders"},' +
        '"run":{"id":"c0ffee00-0000-4000-8000-000000000003","url":"https://mesh.example/runs/c0ffee00-0000-4000-8000-000000000003"},' +
        '"node_id":"charge","error":{"type":"http_5xx","message":"POST https://pay.example/charge answered 502"},' +
        '"attempts":3,"covers":5,"rule":{"id":"c0ffee00-0000-4000-8000-000000000004","name":"Orders down"},' +
        '"at":"2026-05-01T10:00:00.250Z"}',
    );
  });

  it('keeps every key, null where the alert has no such part', () => {
    expect(
      webhookPayload({ type: 'test', project: { id: 'p' }, covers: 1, at: new Date(0) }),
    ).toEqual({
      version: '1',
      type: 'test',
      project_id: 'p',
      workflow: null,
      run: null,
      node_id: null,
      error: null,
      attempts: null,
      covers: 1,
      rule: null,
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('carries the reading of a threshold alert', () => {
    const payload = webhookPayload({
      type: 'threshold',
      project: { id: 'p' },
      workflow: { id: 'w', slug: 'orders' },
      covers: 1,
      rule: { id: 'r', name: 'Failure rate' },
      at: new Date(0),
      threshold: { metric: 'failure_rate', value: 0.04, threshold: 0.05, state: 'resolved' },
    });
    expect(payload.type).toBe('threshold_resolved');
    expect(payload.threshold).toEqual({
      metric: 'failure_rate',
      op: '>',
      value: 0.04,
      threshold: 0.05,
      state: 'resolved',
      window: null,
    });
  });
});

describe('signWebhookPayload', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const body = JSON.stringify(webhookPayload(alert));
    const expected = createHmac('sha256', SECRET).update(`${T}.${body}`).digest('hex');
    expect(signWebhookPayload(body, SECRET, AT)).toBe(`t=${T},v1=${expected}`);
    expect(signWebhookPayload('{"a":1}', SECRET, AT)).toBe(
      `t=${T},v1=${createHmac('sha256', SECRET).update(`${T}.{"a":1}`).digest('hex')}`,
    );
    expect(signWebhookPayload(new TextEncoder().encode('{"a":1}'), SECRET, AT)).toBe(
      signWebhookPayload('{"a":1}', SECRET, AT),
    );
    expect(WEBHOOK_SIGNATURE_HEADER).toBe('MeshHook-Signature');
  });
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify(webhookPayload(alert));
  const header = signWebhookPayload(body, SECRET, AT);
  const now = new Date(AT.getTime() + 60_000);

  it('accepts what was signed, as text or bytes', () => {
    expect(verifyWebhookSignature(header, body, SECRET, { now })).toEqual({ ok: true });
    expect(verifyWebhookSignature(header, new TextEncoder().encode(body), SECRET, { now })).toEqual(
      { ok: true },
    );
  });

  it('refuses a tampered body, another secret and a tampered timestamp', () => {
    const invalid = {
      ok: false,
      error: {
        code: 'signature_invalid',
        message: 'no v1 signature in MeshHook-Signature matches',
      },
    };
    expect(
      verifyWebhookSignature(header, body.replace('"covers":5', '"covers":6'), SECRET, { now }),
    ).toEqual(invalid);
    expect(verifyWebhookSignature(header, body, 'another-secret-0000', { now })).toEqual(invalid);
    expect(
      verifyWebhookSignature(header.replace(`t=${T}`, `t=${T + 1}`), body, SECRET, { now }),
    ).toEqual(invalid);
  });

  it('refuses a signature outside the tolerance, 300 s by default', () => {
    expect(
      verifyWebhookSignature(header, body, SECRET, { now: new Date(AT.getTime() + 300_000) }),
    ).toEqual({ ok: true });
    expect(
      verifyWebhookSignature(header, body, SECRET, { now: new Date(AT.getTime() + 301_000) }),
    ).toEqual({
      ok: false,
      error: {
        code: 'signature_expired',
        message: 'timestamp is 301s from now, beyond the 300s tolerance',
      },
    });
    expect(
      verifyWebhookSignature(header, body, SECRET, {
        now: new Date(AT.getTime() + 20_000),
        toleranceS: 10,
      }).ok,
    ).toBe(false);
  });

  it('refuses a missing or malformed header', () => {
    expect(verifyWebhookSignature(undefined, body, SECRET, { now })).toEqual({
      ok: false,
      error: { code: 'signature_missing', message: 'missing MeshHook-Signature header' },
    });
    expect(verifyWebhookSignature('', body, SECRET, { now }).ok).toBe(false);
    expect(verifyWebhookSignature(`v1=${'0'.repeat(64)}`, body, SECRET, { now })).toEqual({
      ok: false,
      error: {
        code: 'signature_malformed',
        message: 'MeshHook-Signature needs exactly one t=<unix seconds>',
      },
    });
    expect(verifyWebhookSignature(`t=${T}`, body, SECRET, { now })).toEqual({
      ok: false,
      error: { code: 'signature_malformed', message: 'MeshHook-Signature has no v1 signature' },
    });
  });

  it('accepts any matching v1, for a secret being rotated', () => {
    const rotated = `${header},v1=${createHmac('sha256', 'old-secret-000000').update(`${T}.${body}`).digest('hex')}`;
    expect(verifyWebhookSignature(rotated, body, SECRET, { now })).toEqual({ ok: true });
    expect(verifyWebhookSignature(rotated, body, 'old-secret-000000', { now })).toEqual({
      ok: true,
    });
  });
});
