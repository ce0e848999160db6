import { describe, it, expect } from 'vitest';
import { MAX_SUBJECT_LENGTH, emailMessage, escapeHtml, oneLine } from './alert-email.ts';
import type { Alert } from './alert-text.ts';

const alert: Alert = {
  type: 'run_failed',
  project: { id: 'p1', name: 'Shop' },
  workflow: { id: 'w1', slug: 'orders' },
  run: { id: 'r1', url: 'https://mesh.example/runs/r1?tab=steps&step=charge' },
  node_id: 'charge',
  error: { type: 'http_5xx', message: 'upstream answered 502' },
  attempts: 3,
  covers: 38,
  rule: { id: 'ru1', name: 'Orders down' },
  at: new Date('2026-05-01T10:00:00Z'),
};

describe('emailMessage', () => {
  it('writes the subject, the text and the HTML', () => {
    expect(emailMessage(alert)).toEqual({
      subject: '[MeshHook] Run failed: orders (and 37 more failures)',
      text: [
        'orders: run r1 failed at step charge with http_5xx: upstream answered 502 (and 37 more failures)',
        '',
        'Workflow: orders',
        'Run: r1',
        'Step: charge',
        'Error: http_5xx',
        'Message: upstream answered 502',
        'Attempts: 3',
        'Failures: 38',
        'Rule: Orders down',
        'At: 2026-05-01T10:00:00.000Z',
        '',
        'Open the run: https://mesh.example/runs/r1?tab=steps&step=charge',
        '',
        '-- ',
        'Sent by MeshHook for project Shop.',
        '',
      ].join('\n'),
      html: [
        '<!doctype html>',
        '<html><body style="font-family: sans-serif">',
        '<h2>Run failed: orders</h2>',
        '<p>orders: run r1 failed at step charge with http_5xx: upstream answered 502 (and 37 more failures)</p>',
        '<table cellpadding="4">',
        '<tr><th align="left" valign="top">Workflow</th><td>orders</td></tr>',
        '<tr><th align="left" valign="top">Run</th><td>r1</td></tr>',
        '<tr><th align="left" valign="top">Step</th><td>charge</td></tr>',
        '<tr><th align="left" valign="top">Error</th><td>http_5xx</td></tr>',
        '<tr><th align="left" valign="top">Message</th><td>upstream answered 502</td></tr>',
        '<tr><th align="left" valign="top">Attempts</th><td>3</td></tr>',
        '<tr><th align="left" valign="top">Failures</th><td>38</td></tr>',
        '<tr><th align="left" valign="top">Rule</th><td>Orders down</td></tr>',
        '<tr><th align="left" valign="top">At</th><td>2026-05-01T10:00:00.000Z</td></tr>',
        '</table>',
        '<p><a href="https://mesh.example/runs/r1?tab=steps&amp;step=charge">Open the run</a></p>',
        '<p style="color: #666">Sent by MeshHook for project Shop.</p>',
        '</body></html>',
        '',
      ].join('\n'),
    });
  });

  it('escapes every value in the HTML', () => {
    const { html, text } = emailMessage({
      ...alert,
      covers: 1,
      workflow: { id: 'w1', slug: `<img src=x onerror="alert('x')">` },
      error: { type: 'http_5xx', message: '<script>alert(1)</script> & "quotes"\nsecond line' },
    });
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain(
      '<h2>Run failed: &lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;</h2>',
    );
    expect(html).toContain(
      '<tr><th align="left" valign="top">Message</th><td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;<br>second line</td></tr>',
    );
    // The text part is plain text: nothing to escape.
    expect(text).toContain('Message: <script>alert(1)</script> & "quotes"\nsecond line');
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('links only to web URLs', () => {
    const { html, text } = emailMessage({
      ...alert,
      run: { id: 'r1', url: 'javascript:alert(1)' },
    });
    expect(html).not.toContain('href');
    expect(text).not.toContain('Open the run');
  });

  it('keeps the subject on one line of at most 200 characters', () => {
    const { subject } = emailMessage({
      ...alert,
      workflow: { id: 'w1', slug: `orders\r\nBcc: victim@example.com ${'x'.repeat(300)}` },
    });
    expect(subject.length).toBe(MAX_SUBJECT_LENGTH);
    expect(subject).not.toMatch(/[\r\n]/);
    expect(subject.startsWith('[MeshHook] Run failed: orders Bcc: victim@example.com xxx')).toBe(
      true,
    );
    expect(subject.endsWith('x…')).toBe(true);
    expect(oneLine(' a\r\n\tb\u2028c ')).toBe('a b c');
  });

  it('writes a threshold alert with its reading', () => {
    const { subject, text } = emailMessage({
      type: 'threshold',
      project: { id: 'p1' },
      workflow: { id: 'w1', slug: 'orders' },
      covers: 1,
      rule: { id: 'ru1', name: 'Orders failing' },
      at: new Date('2026-05-01T10:00:00Z'),
      threshold: {
        metric: 'failure_count',
        op: '>=',
        value: 12,
        threshold: 10,
        state: 'firing',
        window: '15m',
      },
    });
    expect(subject).toBe('[MeshHook] Firing: Orders failing');
    expect(text).toBe(
      [
        'Orders failing: failure_count is 12 (>= 10)',
        '',
        'Workflow: orders',
        'Metric: failure_count over 15m',
        'Value: 12',
        'Threshold: >= 10',
        'Rule: Orders failing',
        'At: 2026-05-01T10:00:00.000Z',
        '',
        '-- ',
        'Sent by MeshHook for project p1.',
        '',
      ].join('\n'),
    );
  });
});
