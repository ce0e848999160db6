import { describe, expect, it } from 'vitest';
import { formatLogLine, shouldColor, type LogLine } from './format-log-line.ts';

const line: LogLine = {
  id: '42',
  run_id: '0b7c2f4e-1d7a-4c1e-9a57-3f1f8e0c9d21',
  workflow_id: '5d0e7c1a-2b3c-4d5e-8f90-112233445566',
  node_id: 'notify',
  ts: '2026-12-01T07:14:57.123Z',
  level: 'error',
  message: 'upstream said no',
  fields: { status: 502 },
};

describe('formatLogLine', () => {
  it('shows time, level, node, message and fields on one line', () => {
    expect(formatLogLine(line, { color: false, showRun: false })).toBe(
      '2026-12-01T07:14:57.123Z ERROR [notify] upstream said no {"status":502}',
    );
  });

  it('names the run by its first eight characters when runs mix, and leaves out what is empty', () => {
    expect(
      formatLogLine(
        { ...line, level: 'info', node_id: null, fields: {} },
        { color: false, showRun: true },
      ),
    ).toBe('2026-12-01T07:14:57.123Z INFO  0b7c2f4e upstream said no');
  });

  it('escapes newlines and terminal control sequences from the message and the fields', () => {
    const text = formatLogLine(
      { ...line, message: 'a\nb\r\x1b[2Jc\u009bd\te', fields: { k: '\x1b]0;x\x07' } },
      { color: false, showRun: false },
    );
    expect(text).toBe(
      '2026-12-01T07:14:57.123Z ERROR [notify] a\\nb\\r\\u001b[2Jc\\u009bd\te {"k":"\\u001b]0;x\\u0007"}',
    );
    const controls = [...text].filter((c) => c !== '\t' && /\p{Cc}/u.test(c));
    expect(controls).toEqual([]);
  });

  it('colours error red, warn yellow and debug dim, and info not at all', () => {
    const as = (level: LogLine['level']) =>
      formatLogLine({ ...line, level }, { color: true, showRun: false });
    const plain = (level: LogLine['level']) =>
      formatLogLine({ ...line, level }, { color: false, showRun: false });
    expect(as('error')).toBe(`\x1b[31m${plain('error')}\x1b[0m`);
    expect(as('warn')).toBe(`\x1b[33m${plain('warn')}\x1b[0m`);
    expect(as('debug')).toBe(`\x1b[2m${plain('debug')}\x1b[0m`);
    expect(as('info')).toBe(plain('info'));
  });
});

describe('shouldColor', () => {
  it('colours a terminal unless NO_COLOR is set or TERM is dumb', () => {
    expect(shouldColor({}, true)).toBe(true);
    expect(shouldColor({}, false)).toBe(false);
    expect(shouldColor({ NO_COLOR: '1' }, true)).toBe(false);
    expect(shouldColor({ NO_COLOR: '' }, true)).toBe(true);
    expect(shouldColor({ TERM: 'dumb' }, true)).toBe(false);
  });

  it('follows FORCE_COLOR when it is set, over NO_COLOR and the terminal', () => {
    expect(shouldColor({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(shouldColor({ FORCE_COLOR: '' }, false)).toBe(true);
    expect(shouldColor({ FORCE_COLOR: '1', NO_COLOR: '1' }, false)).toBe(true);
    expect(shouldColor({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(shouldColor({ FORCE_COLOR: 'false' }, true)).toBe(false);
  });
});
