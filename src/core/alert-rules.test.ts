import { describe, it, expect } from 'vitest';
import {
  ALERT_EVENT_TYPES,
  CHANNEL_TYPES,
  DEFAULT_THROTTLE,
  THRESHOLD_METRICS,
  matchesEvent,
  validateRule,
  type AlertRule,
  type FieldProblem,
} from './alert-rules.ts';

const CHANNEL = '0b9c1f3e-5d2a-4c8b-9e7f-1a2b3c4d5e6f';
const OTHER_CHANNEL = '7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910';
const WORKFLOW = '3d5e7f90-1a2b-4c3d-8e9f-0a1b2c3d4e5f';

/** The problems of a rule body that must be refused. */
function problemsOf(input: unknown): FieldProblem[] {
  const result = validateRule(input);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** The normalised rule of a body that must be accepted. */
function accepted(input: unknown): AlertRule {
  const result = validateRule(input);
  if (!result.ok) throw new Error(`expected acceptance, got ${JSON.stringify(result.error)}`);
  return result.value;
}

const eventRule = {
  name: 'Orders down',
  workflow_id: null,
  events: ['run_failed'],
  channels: [CHANNEL],
};
const thresholdRule = {
  name: 'Failure rate',
  workflow_id: WORKFLOW,
  threshold: { metric: 'failure_rate', op: '>', value: 0.1, window: '5m' },
  channels: [CHANNEL],
};

/** A threshold rule body with these threshold fields. */
const withThreshold = (threshold: Record<string, unknown>) => ({
  ...thresholdRule,
  threshold: { ...thresholdRule.threshold, ...threshold },
});

describe('constants', () => {
  it('names the event types, metrics and channel types of the API', () => {
    expect(ALERT_EVENT_TYPES).toEqual([
      'run_failed',
      'step_failed',
      'webhook_rejected',
      'run_timed_out',
      'worker_missing',
      'queue_stalled',
    ]);
    expect(THRESHOLD_METRICS).toEqual([
      'failure_rate',
      'failure_count',
      'consecutive_failures',
      'error_rate',
    ]);
    expect(CHANNEL_TYPES).toEqual(['email', 'webhook', 'slack', 'sms']);
  });
});

describe('validateRule: accepted bodies', () => {
  it('fills in the defaults of an event rule', () => {
    expect(accepted(eventRule)).toEqual({
      name: 'Orders down',
      workflow_id: null,
      events: ['run_failed'],
      threshold: null,
      channels: [CHANNEL],
      throttle: {
        group_wait: '30s',
        group_wait_ms: 30_000,
        group_interval: '5m',
        group_interval_ms: 300_000,
        repeat_interval: '4h',
        repeat_interval_ms: 14_400_000,
      },
      template: null,
      quiet_hours: null,
      criticality: 'normal',
      enabled: true,
    });
  });

  it('fills in for and resolve_value of a threshold, with durations in ms', () => {
    expect(accepted(thresholdRule)).toMatchObject({
      events: null,
      workflow_id: WORKFLOW,
      threshold: {
        metric: 'failure_rate',
        op: '>',
        value: 0.1,
        window: '5m',
        window_ms: 300_000,
        for: '0s',
        for_ms: 0,
        resolve_value: 0.1,
        source: null,
        type: null,
        severity: null,
      },
    });
  });

  it('keeps every field given, normalised', () => {
    const rule = accepted({
      name: '  Payments  ',
      workflow_id: WORKFLOW.toUpperCase(),
      threshold: {
        metric: 'error_rate',
        op: '>=',
        value: 0.5,
        window: '1h',
        for: '10m',
        resolve_value: 0.25,
        source: 'worker',
        type: 'http_5xx',
        severity: 'high',
      },
      channels: [CHANNEL, OTHER_CHANNEL, CHANNEL.toUpperCase()],
      throttle: { group_wait: '0s', group_interval: '1m', repeat_interval: '1d' },
      template: '{{ workflow.slug }} is failing: {{error.message}} {{more}}',
      quiet_hours: { start: '22:00', end: '07:00', time_zone: 'europe/paris', days: [5, 1, 5] },
      criticality: 'critical',
      enabled: false,
    });
    expect(rule).toEqual({
      name: 'Payments',
      workflow_id: WORKFLOW,
      events: null,
      threshold: {
        metric: 'error_rate',
        op: '>=',
        value: 0.5,
        window: '1h',
        window_ms: 3_600_000,
        for: '10m',
        for_ms: 600_000,
        resolve_value: 0.25,
        source: 'worker',
        type: 'http_5xx',
        severity: 'high',
      },
      channels: [CHANNEL, OTHER_CHANNEL],
      throttle: {
        group_wait: '0s',
        group_wait_ms: 0,
        group_interval: '1m',
        group_interval_ms: 60_000,
        repeat_interval: '1d',
        repeat_interval_ms: 86_400_000,
      },
      template: '{{ workflow.slug }} is failing: {{error.message}} {{more}}',
      quiet_hours: { start: '22:00', end: '07:00', time_zone: 'Europe/Paris', days: [1, 5] },
      criticality: 'critical',
      enabled: false,
    });
  });

  it('takes a partial throttle, drops duplicate events and reads null as absent', () => {
    const rule = accepted({
      ...eventRule,
      events: ['step_failed', 'run_failed', 'step_failed'],
      threshold: null,
      throttle: { group_wait: '1m' },
      template: null,
      quiet_hours: null,
    });
    expect(rule.events).toEqual(['step_failed', 'run_failed']);
    expect(rule.throttle).toEqual({ ...DEFAULT_THROTTLE, group_wait: '1m', group_wait_ms: 60_000 });
    expect(rule.quiet_hours).toBeNull();
  });

  it('accepts a rule without workflow_id as one of every workflow', () => {
    const { workflow_id: _, ...body } = eventRule;
    expect(accepted(body).workflow_id).toBeNull();
  });

  it('accepts the bounds of every duration', () => {
    for (const [window, forText] of [
      ['1m', '0s'],
      ['7d', '1d'],
      ['60s', '24h'],
    ]) {
      accepted(withThreshold({ window, for: forText }));
    }
    accepted({
      ...eventRule,
      throttle: { group_wait: '1h', group_interval: '1d', repeat_interval: '7d' },
    });
    accepted({
      ...eventRule,
      throttle: { group_wait: '0s', group_interval: '0s', repeat_interval: '1m' },
    });
  });
});

describe('validateRule: refused bodies', () => {
  it('reports every problem at once, with dotted paths', () => {
    expect(
      problemsOf({
        name: '',
        workflow_id: 'orders',
        threshold: {
          metric: 'failure_rate',
          op: '<',
          value: 1.5,
          window: '30s',
          for: '2d',
          resolve_value: 2,
          severity: 'high',
          bogus: true,
        },
        channels: [CHANNEL, 'nope'],
        throttle: { group_wait: '2h', group_interval: 'soon', repeat_interval: '8d' },
        template: 'x'.repeat(2001),
        quiet_hours: { start: '25:00', end: '07:00', time_zone: 'Mars/Olympus_Mons', days: [7] },
        criticality: 'urgent',
        enabled: 'yes',
        owner: 'me',
      }),
    ).toEqual([
      { path: 'owner', message: 'is not a known field' },
      { path: 'name', message: 'must not be empty' },
      { path: 'workflow_id', message: 'must be a UUID' },
      { path: 'channels[1]', message: 'must be a UUID' },
      { path: 'template', message: 'must be at most 2000 characters' },
      { path: 'criticality', message: 'must be one of low, normal, critical' },
      { path: 'enabled', message: 'must be true or false' },
      { path: 'threshold.bogus', message: 'is not a known field' },
      { path: 'threshold.op', message: 'must be one of >, >=' },
      { path: 'threshold.window', message: 'must be between 1m and 7d' },
      { path: 'threshold.for', message: 'must be between 0s and 1d' },
      { path: 'threshold.value', message: 'must be a fraction from 0 to 1' },
      { path: 'threshold.resolve_value', message: 'must be a fraction from 0 to 1' },
      { path: 'threshold.severity', message: 'only applies to error_rate' },
      { path: 'throttle.group_wait', message: 'must be between 0s and 1h' },
      { path: 'throttle.group_interval', message: 'must be a duration such as 30s, 5m, 4h or 1d' },
      { path: 'throttle.repeat_interval', message: 'must be between 1m and 7d' },
      { path: 'quiet_hours.start', message: 'must be a time HH:MM from 00:00 to 23:59' },
      { path: 'quiet_hours.time_zone', message: 'must be an IANA time zone such as Europe/Paris' },
      { path: 'quiet_hours.days[0]', message: 'must be a weekday, 0 (Sunday) to 6 (Saturday)' },
    ]);
  });

  it('needs exactly one of events and threshold', () => {
    const { events: _, ...neither } = eventRule;
    expect(problemsOf(neither)).toEqual([
      { path: 'events', message: 'give either events (a list of event types) or a threshold' },
    ]);
    expect(problemsOf({ ...eventRule, threshold: thresholdRule.threshold })).toEqual([
      { path: 'threshold', message: 'give either events or threshold, not both' },
    ]);
  });

  it('refuses what is not an object, and names missing fields', () => {
    expect(problemsOf(null)).toEqual([{ path: '(root)', message: 'must be an object' }]);
    expect(problemsOf([eventRule])).toEqual([{ path: '(root)', message: 'must be an object' }]);
    expect(problemsOf({ events: ['run_failed'] })).toEqual([
      { path: 'name', message: 'is required' },
      { path: 'channels', message: 'is required' },
    ]);
    expect(problemsOf({ ...thresholdRule, threshold: { metric: 'failure_rate' } })).toEqual([
      { path: 'threshold.op', message: 'is required' },
      { path: 'threshold.value', message: 'is required' },
      { path: 'threshold.window', message: 'is required' },
    ]);
    expect(problemsOf({ ...thresholdRule, threshold: 'high' })).toEqual([
      { path: 'threshold', message: 'must be an object' },
    ]);
  });

  it('refuses an empty or unknown event list', () => {
    expect(problemsOf({ ...eventRule, events: [] })).toEqual([
      { path: 'events', message: 'must name at least one event type' },
    ]);
    expect(problemsOf({ ...eventRule, events: 'run_failed' })).toEqual([
      { path: 'events', message: 'must be a list of event types' },
    ]);
  });

  it('needs 1 to 10 channels', () => {
    expect(problemsOf({ ...eventRule, channels: [] })).toEqual([
      { path: 'channels', message: 'must name at least one channel' },
    ]);
    const eleven = Array.from(
      { length: 11 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    expect(problemsOf({ ...eventRule, channels: eleven })).toEqual([
      { path: 'channels', message: 'must name at most 10 channels' },
    ]);
  });

  it('refuses durations that are not durations', () => {
    for (const window of ['5', '5 m', '5min', '-5m', '1w', 5]) {
      expect(problemsOf(withThreshold({ window }))).toEqual([
        { path: 'threshold.window', message: 'must be a duration such as 30s, 5m, 4h or 1d' },
      ]);
    }
  });

  it('keeps repeat_interval at least group_interval', () => {
    expect(
      problemsOf({ ...eventRule, throttle: { group_interval: '1h', repeat_interval: '30m' } }),
    ).toEqual([
      { path: 'throttle.repeat_interval', message: 'must be at least group_interval (1h)' },
    ]);
  });

  it('refuses unknown template placeholders, so typos surface', () => {
    expect(problemsOf({ ...eventRule, template: '{{workflow.slgu}} {{ run.url }}' })).toEqual([
      {
        path: 'template',
        message:
          'unknown placeholder {{workflow.slgu}}; known: type, project.id, workflow.id, workflow.slug, run.id, run.url, node_id, error.type, error.message, attempts, covers, more, rule.id, rule.name, at, threshold.metric, threshold.op, threshold.value, threshold.threshold, threshold.state',
      },
    ]);
  });

  it('checks quiet hours: times, zone, days, and a start distinct from the end', () => {
    const quiet = (q: Record<string, unknown>) =>
      problemsOf({
        ...eventRule,
        quiet_hours: { start: '22:00', end: '07:00', time_zone: 'UTC', ...q },
      });
    expect(quiet({ end: '22:00' })).toEqual([
      { path: 'quiet_hours.end', message: 'must differ from start' },
    ]);
    expect(quiet({ time_zone: '+01:00' })).toEqual([
      { path: 'quiet_hours.time_zone', message: 'must be an IANA time zone such as Europe/Paris' },
    ]);
    expect(quiet({ days: [] })).toEqual([
      {
        path: 'quiet_hours.days',
        message: 'must name at least one day; leave it out for every day',
      },
    ]);
    expect(quiet({ start: '7:00' })).toEqual([
      { path: 'quiet_hours.start', message: 'must be a time HH:MM from 00:00 to 23:59' },
    ]);
    expect(quiet({ time_zone: undefined })).toEqual([
      { path: 'quiet_hours.time_zone', message: 'is required' },
    ]);
  });
});

describe('matchesEvent', () => {
  const rule = accepted({ ...eventRule, events: ['run_failed', 'worker_missing'] });
  const scoped = accepted({ ...eventRule, workflow_id: WORKFLOW });

  it('covers the listed event types of every workflow when workflow_id is null', () => {
    expect(matchesEvent(rule, { type: 'run_failed', workflowId: WORKFLOW })).toBe(true);
    expect(matchesEvent(rule, { type: 'worker_missing', workflowId: null })).toBe(true);
    expect(matchesEvent(rule, { type: 'step_failed', workflowId: WORKFLOW })).toBe(false);
  });

  it('covers only its own workflow when it names one', () => {
    expect(matchesEvent(scoped, { type: 'run_failed', workflowId: WORKFLOW.toUpperCase() })).toBe(
      true,
    );
    expect(matchesEvent(scoped, { type: 'run_failed', workflowId: CHANNEL })).toBe(false);
    expect(matchesEvent(scoped, { type: 'run_failed', workflowId: null })).toBe(false);
  });

  it('covers nothing when disabled or a threshold rule', () => {
    expect(
      matchesEvent({ ...rule, enabled: false }, { type: 'run_failed', workflowId: null }),
    ).toBe(false);
    expect(
      matchesEvent(accepted(thresholdRule), { type: 'run_failed', workflowId: WORKFLOW }),
    ).toBe(false);
  });
});
