import { describe, it, expect } from 'vitest';
import { RATE_METRICS, isThresholdBreached, validateThreshold } from './alert-thresholds.ts';

describe('validateThreshold', () => {
  it('reports its problems under the path it is given', () => {
    expect(
      validateThreshold({ metric: 'failure_count', op: '>', value: -1 }, 'rules[2].threshold'),
    ).toEqual({
      problems: [
        { path: 'rules[2].threshold.window', message: 'is required' },
        { path: 'rules[2].threshold.value', message: 'must be a positive whole number' },
      ],
    });
  });

  it('returns the normalised threshold when nothing is wrong', () => {
    expect(
      validateThreshold(
        { metric: 'failure_count', op: '>=', value: 10, window: '15m' },
        'threshold',
      ),
    ).toEqual({
      problems: [],
      threshold: {
        metric: 'failure_count',
        op: '>=',
        value: 10,
        window: '15m',
        window_ms: 900_000,
        for: '0s',
        for_ms: 0,
        resolve_value: 10,
        source: null,
        type: null,
        severity: null,
      },
    });
  });

  it('treats failure_rate and error_rate as rates, the others as counts', () => {
    expect(RATE_METRICS).toEqual(['failure_rate', 'error_rate']);
    const at = 'threshold';
    expect(
      validateThreshold({ metric: 'error_rate', op: '>', value: 0, window: '1m' }, at).threshold
        ?.value,
    ).toBe(0);
    expect(
      validateThreshold({ metric: 'error_rate', op: '>', value: 1, window: '1m' }, at).threshold
        ?.value,
    ).toBe(1);
    expect(
      validateThreshold({ metric: 'failure_count', op: '>', value: 0.5, window: '1m' }, at)
        .problems,
    ).toEqual([{ path: 'threshold.value', message: 'must be a positive whole number' }]);
  });
});

describe('validateThreshold: values by metric', () => {
  const base = { metric: 'failure_rate', op: '>', value: 0.1, window: '5m' };
  const check = (fields: Record<string, unknown>) =>
    validateThreshold({ ...base, ...fields }, 'threshold');

  it('accepts counts as positive whole numbers, resolving at 0', () => {
    expect(
      check({ metric: 'failure_count', value: 5, resolve_value: 0, window: '7d' }).threshold,
    ).toMatchObject({ value: 5, resolve_value: 0, window_ms: 604_800_000 });
    expect(check({ metric: 'consecutive_failures', value: 3, for: '1d' }).threshold).toMatchObject({
      value: 3,
      for_ms: 86_400_000,
    });
  });

  it('refuses counts that are not positive whole numbers', () => {
    expect(check({ metric: 'failure_count', value: 0 }).problems).toEqual([
      { path: 'threshold.value', message: 'must be a positive whole number' },
    ]);
    expect(check({ metric: 'consecutive_failures', value: 2.5 }).problems).toEqual([
      { path: 'threshold.value', message: 'must be a positive whole number' },
    ]);
    expect(check({ metric: 'failure_count', value: 3, resolve_value: -1 }).problems).toEqual([
      { path: 'threshold.resolve_value', message: 'must be a whole number, 0 or more' },
    ]);
    expect(check({ value: Number.NaN }).problems).toEqual([
      { path: 'threshold.value', message: 'must be a number' },
    ]);
  });

  it('keeps resolve_value on the resolving side of value', () => {
    expect(check({ value: 0.1, resolve_value: 0.2 }).problems).toEqual([
      {
        path: 'threshold.resolve_value',
        message: 'must be at most value (0.1): a firing alert resolves once the metric falls to it',
      },
    ]);
    expect(check({ value: 0.1, resolve_value: 0.1 }).threshold?.resolve_value).toBe(0.1);
    expect(check({ value: 0.1, resolve_value: 0.05 }).threshold?.resolve_value).toBe(0.05);
  });

  it('refuses error filters on other metrics and bad filter values', () => {
    expect(check({ source: 'worker', type: 'http_5xx' }).problems).toEqual([
      { path: 'threshold.source', message: 'only applies to error_rate' },
      { path: 'threshold.type', message: 'only applies to error_rate' },
    ]);
    expect(check({ metric: 'error_rate', source: 'moon', type: 'Not Snake' }).problems).toEqual([
      { path: 'threshold.source', message: 'must be one of worker, webhook, api, web, system' },
      {
        path: 'threshold.type',
        message: 'must be a snake_case error type of at most 64 characters',
      },
    ]);
    expect(
      check({
        metric: 'error_rate',
        source: 'webhook',
        type: 'signature_invalid',
        severity: 'high',
      }).threshold,
    ).toMatchObject({ source: 'webhook', type: 'signature_invalid', severity: 'high' });
  });
});

describe('isThresholdBreached', () => {
  const line = { op: '>' as const, value: 0.2, resolve_value: 0.1 };

  it('fires above value when quiet', () => {
    expect(isThresholdBreached(line, { value: 0.2, firing: false })).toBe(false);
    expect(isThresholdBreached(line, { value: 0.21, firing: false })).toBe(true);
  });

  it('holds while firing until the metric falls to resolve_value', () => {
    expect(isThresholdBreached(line, { value: 0.15, firing: true })).toBe(true);
    expect(isThresholdBreached(line, { value: 0.1, firing: true })).toBe(false);
  });

  it('includes the line itself with >=', () => {
    const atLeast = { op: '>=' as const, value: 5, resolve_value: 5 };
    expect(isThresholdBreached(atLeast, { value: 5, firing: false })).toBe(true);
    expect(isThresholdBreached(atLeast, { value: 5, firing: true })).toBe(true);
    expect(isThresholdBreached(atLeast, { value: 4, firing: true })).toBe(false);
  });
});
