import { describe, it, expect } from 'vitest';
import { fingerprintOf, inAppFrames, normaliseMessage } from './error-fingerprint.ts';

const RUN_A = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const RUN_B = '9b2d1c4e-0a7f-4d3b-8e6a-51f0c2d7e9ab';

describe('normaliseMessage', () => {
  it('makes repeats that differ in run id, number and timestamp equal', () => {
    const a = normaliseMessage(`run ${RUN_A} failed at 2025-03-01T12:00:00.123Z after 3 attempts`);
    const b = normaliseMessage(`run ${RUN_B} failed at 2025-03-02T08:15:09Z after 5 attempts`);
    expect(a).toBe('run <uuid> failed at <time> after <n> attempts');
    expect(b).toBe(a);
  });

  it('keeps what tells failures apart', () => {
    expect(normaliseMessage('GET https://api.example.com/orders answered 503')).not.toBe(
      normaliseMessage('GET https://api.example.com/orders answered 404'),
    );
    expect(normaliseMessage('relation "runs" does not exist')).not.toBe(
      normaliseMessage('relation "users" does not exist'),
    );
    expect(normaliseMessage('step exceeded its timeout')).not.toBe(
      normaliseMessage('step exceeded its budget'),
    );
  });

  it.each([
    [
      'GET https://api.example.com/orders/8812?page=2&sort=asc answered 503',
      'GET https://api.example.com/orders/<n>?<query> answered 503',
    ],
    ['no reply from ops@example.com', 'no reply from <email>'],
    ['job 0a1b2c3d4e5f failed, tx 0xDEADBEEF01', 'job <hex> failed, tx <hex>'],
    ['connect ECONNREFUSED 10.0.0.3:5432', 'connect ECONNREFUSED <ip>:<n>'],
    [
      'took 250 ms, then 120ms, then 1.5 s; 99% done',
      'took <n> ms, then <n>ms, then <n> s; <n>% done',
    ],
    ['exceeded its 30000 ms timeout on 2025-03-01', 'exceeded its <n> ms timeout on <time>'],
    ['status 500 after 600 tries', 'status 500 after <n> tries'],
    [
      'duplicate key value violates unique constraint "workflow_versions_workflow_id_key"',
      'duplicate key value violates unique constraint "workflow_versions_workflow_id_key"',
    ],
    [
      'Unexpected token "this body is not json, order 1234" in payload',
      'Unexpected token "<str>" in payload',
    ],
    [
      'http_5xx with sha256 over utf-8 from v1.2.3 at step_2',
      'http_5xx with sha256 over utf-8 from v1.2.3 at step_2',
    ],
    ['  two\n\tlines   here ', 'two lines here'],
    ['the word deadbeefcafe and decade stay', 'the word deadbeefcafe and decade stay'],
  ])('normalises %j', (input, expected) => {
    expect(normaliseMessage(input)).toBe(expected);
  });

  it('is stable when applied twice', () => {
    const once = normaliseMessage(
      `run ${RUN_A} at 2025-03-01T12:00:00Z: "a long quoted value with spaces" 42 0xabc12345`,
    );
    expect(normaliseMessage(once)).toBe(once);
  });
});

const STACK = [
  'Error: claim failed',
  '    at claimStepJobs (file:///srv/meshhook/src/engine/claim.ts:41:11)',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  '    at async BoundPool.query (/srv/meshhook/node_modules/pg-pool/index.js:45:11)',
  '    at async Worker.#tick (file:///srv/meshhook/src/engine/worker.ts:120:7)',
  '    at async Promise.all (index 0)',
  '    at eval (eval at <anonymous> (file:///srv/meshhook/src/core/expression.ts:5:1), <anonymous>:1:1)',
  '    at file:///srv/meshhook/src/cli.ts:88:3',
  '    at new Settler (file:///srv/meshhook/src/engine/settler.ts:20:5)',
  '    at Object.run (/home/me/src/meshhook/src/engine/run.ts:7:1)',
].join('\n');

describe('inAppFrames', () => {
  it('keeps the frames of src/, top first, without line numbers', () => {
    expect(inAppFrames(STACK)).toEqual([
      'claimStepJobs (src/engine/claim.ts)',
      'Worker.#tick (src/engine/worker.ts)',
      '<anonymous> (src/cli.ts)',
      'new Settler (src/engine/settler.ts)',
      'Object.run (src/engine/run.ts)',
    ]);
  });

  it('stops at max', () => {
    expect(inAppFrames(STACK, 2)).toEqual([
      'claimStepJobs (src/engine/claim.ts)',
      'Worker.#tick (src/engine/worker.ts)',
    ]);
  });

  it('reads Windows paths and dev-server URLs, and skips bundles outside src/', () => {
    const stack = [
      'TypeError: x is undefined',
      '    at render (http://localhost:5173/src/lib/chart.ts?t=1718000000000:12:9)',
      '    at C:\\meshhook\\src\\http\\api.ts:3:4',
      '    at h (https://meshhook.example.com/_app/immutable/chunks/Bx7a9.js:1:2044)',
    ].join('\n');
    expect(inAppFrames(stack)).toEqual([
      'render (src/lib/chart.ts)',
      '<anonymous> (src/http/api.ts)',
    ]);
  });

  it('gives nothing for a missing stack or one without frames', () => {
    expect(inAppFrames(undefined)).toEqual([]);
    expect(inAppFrames('Error: boom')).toEqual([]);
  });
});

describe('fingerprintOf', () => {
  const base = {
    source: 'worker' as const,
    errorType: 'http_5xx',
    workflowId: 'wf-1',
    nodeId: 'charge',
    message: 'POST https://pay.example.com/charge answered 503',
    frames: [] as string[],
  };

  it('is 32 hex characters and the same for the same parts', () => {
    expect(fingerprintOf(base)).toMatch(/^[0-9a-f]{32}$/);
    expect(fingerprintOf({ ...base })).toBe(fingerprintOf(base));
  });

  it('ignores what normalisation removes and keeps every other part', () => {
    const fp = fingerprintOf({ ...base, message: `run ${RUN_A}: attempt 3 failed` });
    expect(fingerprintOf({ ...base, message: `run ${RUN_B}: attempt 4 failed` })).toBe(fp);
    const others = [
      fingerprintOf(base),
      fingerprintOf({ ...base, source: 'system' }),
      fingerprintOf({ ...base, errorType: 'http_4xx' }),
      fingerprintOf({ ...base, workflowId: 'wf-2' }),
      fingerprintOf({ ...base, nodeId: 'refund' }),
      fingerprintOf({ ...base, nodeId: null }),
      fingerprintOf({ ...base, message: 'POST https://pay.example.com/charge answered 502' }),
      fingerprintOf({ ...base, frames: ['charge (src/engine/nodes/http-call.ts)'] }),
    ];
    expect(new Set([fp, ...others]).size).toBe(others.length + 1);
  });

  it('keeps parts apart, so moving text between them changes the fingerprint', () => {
    expect(fingerprintOf({ ...base, workflowId: 'a', nodeId: 'bc' })).not.toBe(
      fingerprintOf({ ...base, workflowId: 'ab', nodeId: 'c' }),
    );
  });
});
