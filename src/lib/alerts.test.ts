import { describe, expect, it } from 'vitest';
import { validateRule } from '../core/alert-rules.ts';
import { channelBody, channelDraft, numberField, ruleBody, ruleDraft } from './alerts-forms.ts';
import {
  channelTarget,
  describeThreshold,
  describeTrigger,
  formatMetricValue,
  formatUntil,
  isCurrentSilence,
  logViewParams,
  problemsAt,
  problemsElsewhere,
  problemsOf,
  readLogView,
  readMuteReason,
  timeZones,
} from './alerts.ts';
import { ApiError } from './api.ts';
import type { AlertChannel, AlertRule, AlertSilence, AlertThreshold } from './types.ts';

const CHANNEL_ID = '0b7c2a4e-8f5d-4c1a-9e3b-6d2f1a0c9e88';

const threshold = (t: Partial<AlertThreshold> = {}): AlertThreshold => ({
  metric: 'failure_rate',
  op: '>',
  value: 0.2,
  window: '5m',
  for: '0s',
  resolve_value: 0.2,
  source: null,
  type: null,
  severity: null,
  ...t,
});

describe('rules in words', () => {
  it('joins events with "or"', () => {
    expect(describeTrigger({ events: ['run_failed'], threshold: null })).toBe('When a run fails');
    expect(
      describeTrigger({
        events: ['run_failed', 'step_failed', 'run_timed_out'],
        threshold: null,
      }),
    ).toBe('When a run fails, a step fails or a run times out');
  });

  it('reads a threshold with rates as percentages, and only the parts that differ', () => {
    expect(describeThreshold(threshold())).toBe('Failure rate over 5m > 20%');
    expect(
      describeThreshold(
        threshold({
          metric: 'consecutive_failures',
          op: '>=',
          value: 3,
          resolve_value: 1,
          for: '2m',
        }),
      ),
    ).toBe('Failures in a row over 5m ≥ 3, for 2m; resolves at 1');
    expect(formatMetricValue('error_rate', 0.125)).toBe('12.5%');
    expect(formatMetricValue('failure_count', null)).toBe('—');
  });
});

describe('channel targets', () => {
  const base = {
    id: CHANNEL_ID,
    name: 'ops',
    has_secret: false,
    created_at: '',
    updated_at: '',
    last_status: null,
    last_attempt_at: null,
    last_error: null,
    failing_since: null,
  };
  it('shows where each type sends', () => {
    expect(channelTarget({ ...base, type: 'email', config: { to: ['a@x.io', 'b@x.io'] } })).toBe(
      'a@x.io, b@x.io',
    );
    expect(
      channelTarget({ ...base, type: 'sms', config: { to: '+33612345678', from: '+15550100' } }),
    ).toBe('+33612345678 (from +15550100)');
    expect(
      channelTarget({
        ...base,
        type: 'slack',
        config: { webhook_url: 'https://hooks.slack.com/…WXYZ' },
      }),
    ).toBe('https://hooks.slack.com/…WXYZ');
  });
});

describe('the log address', () => {
  it('reads known filters and writes them back in a stable order', () => {
    const view = readLogView(
      new URLSearchParams('event=run_failed&status=sent&rule=r1&junk=1&channel=c1'),
    );
    expect(view).toEqual({
      status: 'sent',
      rule: 'r1',
      channel: 'c1',
      event: 'run_failed',
      workflow: '',
      run: '',
    });
    expect(new URLSearchParams(logViewParams(view)).toString()).toBe(
      'status=sent&rule=r1&channel=c1&event=run_failed',
    );
  });

  it('drops an unknown status or event', () => {
    const view = readLogView(new URLSearchParams('status=lost&event=nope'));
    expect(logViewParams(view)).toEqual({});
  });
});

describe('muted and silenced', () => {
  it("reads the engine's reasons", () => {
    const id = '4f1c0a7e-2b9d-4e8a-b6c3-1d5e7f9a0b2c';
    expect(readMuteReason(`silence ${id} until 2026-03-01T10:00:00.000Z`)).toEqual({
      kind: 'silence',
      silenceId: id,
      until: '2026-03-01T10:00:00.000Z',
    });
    expect(readMuteReason('quiet hours until 2026-03-01T06:00:00.000Z')).toEqual({
      kind: 'quiet_hours',
      until: '2026-03-01T06:00:00.000Z',
    });
    expect(readMuteReason('quiet hours')).toEqual({ kind: 'quiet_hours', until: undefined });
    expect(readMuteReason('something else')).toEqual({ kind: 'other', text: 'something else' });
    expect(readMuteReason(null)).toBeUndefined();
  });

  it('counts a silence as current while it mutes or will', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const silence = (active: boolean, ends: string) => ({ active, ends_at: ends }) as AlertSilence;
    expect(isCurrentSilence(silence(true, '2026-03-01T13:00:00Z'), now)).toBe(true);
    expect(isCurrentSilence(silence(false, '2026-03-02T00:00:00Z'), now)).toBe(true);
    expect(isCurrentSilence(silence(false, '2026-03-01T11:00:00Z'), now)).toBe(false);
    expect(formatUntil('2026-03-01T12:30:00Z', now)).toBe('in 30 min');
    expect(formatUntil('2026-03-01T11:00:00Z', now)).toBe('now');
  });
});

describe('field problems', () => {
  const refused = new ApiError(422, 'validation_failed', 'invalid body', {
    issues: [
      { path: 'threshold.window', message: 'must be between 1m and 7d' },
      { path: 'config.to[1]', message: 'must be an email address' },
      { path: 'threshold', message: 'give either events or threshold, not both' },
      { path: 'odd' },
    ],
  });

  it('reads a 422 and nothing else', () => {
    expect(problemsOf(refused)?.map((p) => p.path)).toEqual([
      'threshold.window',
      'config.to[1]',
      'threshold',
    ]);
    expect(problemsOf(new ApiError(409, 'conflict', 'taken'))).toBeUndefined();
    expect(problemsOf(new Error('x'))).toBeUndefined();
  });

  it('places each at its field, naming the part, and keeps the rest for the top', () => {
    const problems = problemsOf(refused)!;
    expect(problemsAt(problems, 'threshold.window')).toEqual(['must be between 1m and 7d']);
    expect(problemsAt(problems, 'config.to')).toEqual(['item 2: must be an email address']);
    // threshold.windows is another field, not a part of threshold.window.
    expect(problemsAt([{ path: 'threshold.windows', message: 'x' }], 'threshold.window')).toEqual(
      [],
    );
    expect(problemsElsewhere(problems, ['threshold.window', 'config.to'])).toEqual([
      { path: 'threshold', message: 'give either events or threshold, not both' },
    ]);
  });
});

describe('channel forms', () => {
  it('sends the config of the chosen type only, optional fields as null', () => {
    const draft = { ...channelDraft(), name: 'ops', url: ' https://x.io/hook ', recipients: 'a@x' };
    expect(channelBody(draft)).toEqual({
      name: 'ops',
      type: 'webhook',
      config: { url: 'https://x.io/hook', secret: null },
    });
    expect(
      channelBody({ ...draft, type: 'email', recipients: 'a@x.io, b@x.io\nc@x.io;' }).config,
    ).toEqual({ to: ['a@x.io', 'b@x.io', 'c@x.io'] });
    expect(channelBody({ ...draft, type: 'sms', phone: '+33612345678' }).config).toEqual({
      to: '+33612345678',
      from: null,
    });
  });

  it('sends a masked secret back as it was read, so the server keeps it', () => {
    const channel: AlertChannel = {
      id: CHANNEL_ID,
      name: 'hook',
      type: 'webhook',
      config: { url: 'https://x.io/hook', secret: '••••cdef' },
      has_secret: true,
      created_at: '',
      updated_at: '',
      last_status: null,
      last_attempt_at: null,
      last_error: null,
      failing_since: null,
    };
    expect(channelBody(channelDraft(channel)).config).toEqual({
      url: 'https://x.io/hook',
      secret: '••••cdef',
    });
  });
});

describe('rule forms', () => {
  const fresh = () => ({ ...ruleDraft(undefined, { timeZone: 'Europe/Paris' }), name: 'r' });

  it('starts with the defaults, which the server accepts as they are', () => {
    const body = ruleBody({ ...fresh(), channels: [CHANNEL_ID] });
    expect(body).toEqual({
      name: 'r',
      workflow_id: null,
      channels: [CHANNEL_ID],
      throttle: { group_wait: '30s', group_interval: '5m', repeat_interval: '4h' },
      template: null,
      quiet_hours: null,
      criticality: 'normal',
      enabled: true,
      events: ['run_failed'],
    });
    expect(validateRule(body).ok).toBe(true);
  });

  it('sends a threshold with numbers typed, text the server will name, and no empty fields', () => {
    const body = ruleBody({
      ...fresh(),
      kind: 'threshold',
      value: '0.25',
      window: '10m',
      channels: [CHANNEL_ID],
    });
    expect(body.threshold).toEqual({
      metric: 'failure_rate',
      op: '>',
      value: 0.25,
      window: '10m',
      for: '0s',
    });
    expect(body.events).toBeUndefined();
    expect(validateRule(body).ok).toBe(true);
    expect(numberField('abc')).toBe('abc');
    expect(numberField(' ')).toBeUndefined();

    const bad = validateRule(
      ruleBody({ ...fresh(), kind: 'threshold', value: '1', window: '30s' }),
    );
    expect(bad.ok ? [] : bad.error.map((p) => p.path)).toContain('threshold.window');
  });

  it('sends quiet hours, leaving the days out for every day', () => {
    const draft = { ...fresh(), channels: [CHANNEL_ID], quiet: true };
    expect(ruleBody(draft).quiet_hours).toEqual({
      start: '22:00',
      end: '07:00',
      time_zone: 'Europe/Paris',
    });
    expect(ruleBody({ ...draft, days: [5, 1] }).quiet_hours).toMatchObject({ days: [1, 5] });
    expect(validateRule(ruleBody({ ...draft, days: [5, 1] })).ok).toBe(true);
  });

  it('reads a stored rule back into the same body', () => {
    const rule: AlertRule = {
      id: CHANNEL_ID,
      name: 'slow',
      workflow_id: null,
      kind: 'threshold',
      enabled: false,
      events: null,
      threshold: threshold({ value: 0.5, resolve_value: 0.1, for: '1m' }),
      channels: [CHANNEL_ID],
      throttle: { group_wait: '0s', group_interval: '1m', repeat_interval: '1h' },
      template: '{{rule.name}}',
      quiet_hours: { start: '01:00', end: '02:00', time_zone: 'UTC', days: [0] },
      criticality: 'critical',
      state: 'ok',
      state_since: null,
      last_value: null,
      last_evaluated_at: null,
      created_at: '',
      updated_at: '',
    };
    expect(ruleBody(ruleDraft(rule, { timeZone: 'Europe/Paris' }))).toEqual({
      name: 'slow',
      workflow_id: null,
      channels: [CHANNEL_ID],
      throttle: rule.throttle,
      template: '{{rule.name}}',
      quiet_hours: { start: '01:00', end: '02:00', time_zone: 'UTC', days: [0] },
      criticality: 'critical',
      enabled: false,
      threshold: {
        metric: 'failure_rate',
        op: '>',
        value: 0.5,
        window: '5m',
        for: '1m',
        resolve_value: 0.1,
      },
    });
  });
});

describe('time zones', () => {
  it('puts UTC first and keeps a zone the list lacks', () => {
    const zones = timeZones('Mars/Olympus_Mons');
    expect(zones[0]).toBe('UTC');
    expect(zones).toContain('Europe/Paris');
    expect(zones.at(-1)).toBe('Mars/Olympus_Mons');
  });
});
