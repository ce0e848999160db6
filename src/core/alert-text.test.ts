import { describe, it, expect } from 'vitest';
import {
  DEFAULT_TEMPLATES,
  detailsOf,
  formatMetric,
  moreFailures,
  prepareAlert,
  renderSafe,
  summaryOf,
  titleOf,
  type Alert,
} from './alert-text.ts';

const failed: Alert = {
  type: 'run_failed',
  project: { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'Shop' },
  workflow: { id: 'c0ffee00-0000-4000-8000-000000000002', slug: 'orders' },
  run: {
    id: 'c0ffee00-0000-4000-8000-000000000003',
    url: 'https://mesh.example/runs/c0ffee00-0000-4000-8000-000000000003',
  },
  node_id: 'charge',
  error: { type: 'http_5xx', message: 'POST https://pay.example/charge answered 502' },
  attempts: 3,
  covers: 1,
  rule: { id: 'c0ffee00-0000-4000-8000-000000000004', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00Z'),
};

const firing: Alert = {
  type: 'threshold',
  project: { id: 'p' },
  workflow: { id: 'w', slug: 'orders' },
  covers: 1,
  rule: { id: 'r', name: 'Orders failing' },
  at: new Date('2026-05-01T10:00:00Z'),
  threshold: {
    metric: 'failure_rate',
    op: '>',
    value: 0.25,
    threshold: 0.1,
    state: 'firing',
    window: '5m',
  },
};

const safe = (alert: Alert) => prepareAlert(alert);

describe('moreFailures and formatMetric', () => {
  it('words the failures a message covers beyond its first', () => {
    expect(moreFailures(1)).toBe('');
    expect(moreFailures(2)).toBe('and 1 more failure');
    expect(moreFailures(38)).toBe('and 37 more failures');
  });

  it('shows rates in percent and counts as they are', () => {
    expect(formatMetric('failure_rate', 0.25)).toBe('25%');
    expect(formatMetric('error_rate', 0.12345)).toBe('12.3%');
    expect(formatMetric('failure_rate', 1)).toBe('100%');
    expect(formatMetric('failure_count', 12)).toBe('12');
    expect(formatMetric('consecutive_failures', 3)).toBe('3');
  });
});

describe('prepareAlert', () => {
  it('fills absent parts with null and derives the payload type', () => {
    const a = prepareAlert({
      type: 'worker_missing',
      project: { id: 'p' },
      covers: 1,
      at: new Date(0),
    });
    expect({ ...a, mask: undefined }).toEqual({
      type: 'worker_missing',
      project: { id: 'p', name: null },
      workflow: null,
      run: null,
      node_id: null,
      error: null,
      attempts: null,
      covers: 1,
      rule: null,
      at: '1970-01-01T00:00:00.000Z',
      threshold: null,
      mask: undefined,
    });
    expect(safe(firing).type).toBe('threshold_firing');
    expect(
      safe({ ...firing, threshold: { ...firing.threshold!, state: 'resolved' } } as Alert).type,
    ).toBe('threshold_resolved');
  });

  it('masks secrets in every string and caps the error message at 4,000 characters', () => {
    const a = prepareAlert(
      {
        ...failed,
        run: { id: 'r', url: 'https://mesh.example/runs/r?token=abc123' },
        error: {
          type: 'http_4xx',
          message: `Authorization: Bearer eyJhbGciOi.payload.sig ${'x'.repeat(5000)}`,
        },
        rule: { id: 'r', name: 'uses hunter2-hunter2' },
      },
      { redact: { secrets: ['hunter2-hunter2'] } },
    );
    expect(a.run?.url).toBe('https://mesh.example/runs/r?token=[REDACTED]');
    expect(a.error?.message.startsWith('Authorization: Bearer [REDACTED] xxx')).toBe(true);
    expect(a.error?.message.length).toBe(4000);
    expect(a.error?.message.endsWith('…')).toBe(true);
    expect(a.rule?.name).toBe('uses [REDACTED]');
  });

  it('counts a message as covering at least one failure', () => {
    expect(safe({ ...failed, covers: 0 }).covers).toBe(1);
    expect(safe({ ...failed, covers: 2.5 }).covers).toBe(1);
  });
});

describe('renderSafe', () => {
  it('fills every placeholder', () => {
    const a = safe({ ...failed, covers: 3 });
    expect(
      renderSafe(
        '{{type}}|{{project.id}}|{{workflow.id}}|{{workflow.slug}}|{{run.id}}|{{run.url}}|{{node_id}}|{{error.type}}|{{error.message}}|{{attempts}}|{{covers}}|{{more}}|{{rule.id}}|{{rule.name}}|{{at}}',
        a,
      ),
    ).toBe(
      'run_failed|c0ffee00-0000-4000-8000-000000000001|c0ffee00-0000-4000-8000-000000000002|orders|c0ffee00-0000-4000-8000-000000000003|https://mesh.example/runs/c0ffee00-0000-4000-8000-000000000003|charge|http_5xx|POST https://pay.example/charge answered 502|3|3|and 2 more failures|c0ffee00-0000-4000-8000-000000000004|Orders down|2026-05-01T10:00:00.000Z',
    );
    expect(
      renderSafe(
        '{{threshold.metric}} {{threshold.op}} {{threshold.value}} {{threshold.threshold}} {{threshold.state}}',
        safe(firing),
      ),
    ).toBe('failure_rate > 25% 10% firing');
  });

  it('turns unknown placeholders, prototype names and absent values into empty text', () => {
    const a = safe({ type: 'queue_stalled', project: { id: 'p' }, covers: 1, at: new Date(0) });
    expect(
      renderSafe(
        '[{{nope}}][{{constructor}}][{{__proto__}}][{{toString}}][{{ run.url }}][{{attempts}}]',
        a,
      ),
    ).toBe('[][][][][][]');
  });

  it('evaluates nothing and leaves other braces alone', () => {
    const a = safe(failed);
    expect(renderSafe('[{{ process.exit(1) }}][{{workflow.slug + 1}}] {single} {{ {x} }}', a)).toBe(
      '[][] {single} {{ {x} }}',
    );
  });

  it('does not expand placeholders that arrive inside values', () => {
    const a = safe({ ...failed, error: { type: 'x', message: '{{rule.name}}' } });
    expect(renderSafe('{{error.message}}', a)).toBe('{{rule.name}}');
  });

  it('masks what the template itself says', () => {
    const a = prepareAlert(failed, { redact: { secrets: ['sk-literal-secret'] } });
    expect(renderSafe('key sk-literal-secret; auth Bearer {{run.id}}', a)).toBe(
      'key [REDACTED]; auth Bearer [REDACTED]',
    );
  });
});

describe('titles and summaries', () => {
  const base = { project: { id: 'p' }, covers: 1, at: new Date(0) };
  const workflow = { id: 'w', slug: 'orders' };
  const error = { type: 'step_timeout', message: 'no answer in 30s' };

  it('has a default summary and title for every type', () => {
    const cases: Array<[Alert, string, string]> = [
      [
        failed,
        'Run failed: orders',
        `orders: run ${failed.run!.id} failed at step charge with http_5xx: POST https://pay.example/charge answered 502`,
      ],
      [
        { ...failed, type: 'step_failed' },
        'Step failed: orders',
        'orders: step charge failed after 3 attempts with http_5xx: POST https://pay.example/charge answered 502',
      ],
      [
        {
          ...base,
          type: 'webhook_rejected',
          workflow,
          error: { type: 'signature_invalid', message: 'bad signature' },
        },
        'Webhook rejected: orders',
        'orders: a webhook delivery was rejected with signature_invalid: bad signature',
      ],
      [
        {
          ...base,
          type: 'run_timed_out',
          workflow,
          run: { id: 'r9', url: 'https://m/r9' },
          node_id: 'wait',
          error,
        },
        'Run timed out: orders',
        'orders: run r9 timed out at step wait: no answer in 30s',
      ],
      [
        {
          ...base,
          type: 'worker_missing',
          error: { type: 'lease_lost', message: 'worker w-3 silent for 2m' },
        },
        'Worker missing',
        'A worker stopped reporting: worker w-3 silent for 2m',
      ],
      [{ ...base, type: 'worker_missing' }, 'Worker missing', 'A worker stopped reporting'],
      [
        {
          ...base,
          type: 'queue_stalled',
          error: { type: 'internal', message: '120 jobs waiting' },
        },
        'Queue stalled',
        'The queue is stalled: 120 jobs waiting',
      ],
      [firing, 'Firing: Orders failing', 'Orders failing: failure_rate is 25% (> 10%)'],
      [
        { ...firing, threshold: { ...firing.threshold!, value: 0.05, state: 'resolved' } } as Alert,
        'Resolved: Orders failing',
        'Orders failing: failure_rate is back to 5% (threshold 10%)',
      ],
      [{ ...base, type: 'test' }, 'Test alert', 'Test alert from MeshHook: this channel works.'],
    ];
    for (const [alert, title, summary] of cases) {
      const a = safe(alert);
      expect([titleOf(a), summaryOf(a)]).toEqual([title, summary]);
    }
    expect(Object.keys(DEFAULT_TEMPLATES)).toHaveLength(cases.length - 1);
  });

  it('adds "and N more failures" unless the template places it', () => {
    const many = safe({ ...failed, covers: 38 });
    expect(summaryOf(many)).toBe(
      `orders: run ${failed.run!.id} failed at step charge with http_5xx: POST https://pay.example/charge answered 502 (and 37 more failures)`,
    );
    expect(summaryOf(many, '{{workflow.slug}} is down')).toBe(
      'orders is down (and 37 more failures)',
    );
    expect(summaryOf(many, '{{workflow.slug}} is down, {{more}}')).toBe(
      'orders is down, and 37 more failures',
    );
    expect(summaryOf(many, '{{covers}} failures in {{workflow.slug}}')).toBe(
      '38 failures in orders',
    );
    expect(summaryOf(safe(failed), '{{workflow.slug}} is down {{more}}')).toBe('orders is down');
    expect(summaryOf(many, '   ')).toBe(summaryOf(many));
  });
});

describe('detailsOf', () => {
  it('lists what is known, in reading order', () => {
    expect(detailsOf(safe({ ...failed, covers: 4 }))).toEqual([
      ['Workflow', 'orders'],
      ['Run', failed.run!.id],
      ['Step', 'charge'],
      ['Error', 'http_5xx'],
      ['Attempts', '3'],
      ['Failures', '4'],
      ['Rule', 'Orders down'],
      ['At', '2026-05-01T10:00:00.000Z'],
    ]);
    expect(detailsOf(safe(firing))).toEqual([
      ['Workflow', 'orders'],
      ['Metric', 'failure_rate over 5m'],
      ['Value', '25%'],
      ['Threshold', '> 10%'],
      ['Rule', 'Orders failing'],
      ['At', '2026-05-01T10:00:00.000Z'],
    ]);
  });
});
