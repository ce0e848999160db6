import { describe, it, expect } from 'vitest';
import { validateDefinition, type Definition } from './definition.ts';
import {
  isFinalRun,
  isTruthy,
  planRun,
  type RunStatus,
  type StepState,
  type StepStatus,
} from './run-plan.ts';

type NodeSpec = string | { id: string; type: 'branch' };

/**
 * A validated definition: a webhook `hook`, then the given nodes (transforms unless marked as
 * branches), joined by edges written `from>to` or `from>to:true` / `from>to:false`.
 */
function definition(nodes: NodeSpec[], edges: string[]): Definition {
  const result = validateDefinition({
    nodes: [
      { id: 'hook', type: 'webhook', config: {} },
      ...nodes.map((n) =>
        typeof n === 'string'
          ? { id: n, type: 'transform', config: { expression: '@' } }
          : { id: n.id, type: 'branch', config: { condition: '@' } },
      ),
    ],
    edges: edges.map((e) => {
      const [from, rest] = e.split('>') as [string, string];
      const [to, when] = rest.split(':') as [string, string | undefined];
      return when === undefined ? { from, to } : { from, to, when };
    }),
  });
  if (!result.ok) throw new Error(`invalid test definition: ${JSON.stringify(result.error)}`);
  return result.value;
}

const br = (id: string) => ({ id, type: 'branch' as const });

/** Step rows: a status, or a status and an output. */
function steps(rows: Record<string, StepStatus | [StepStatus, unknown]>): Map<string, StepState> {
  return new Map(
    Object.entries(rows).map(([id, row]) => [
      id,
      typeof row === 'string' ? { status: row } : { status: row[0], output: row[1] },
    ]),
  );
}

describe('planRun: a linear chain', () => {
  const chain = definition(['a', 'b', 'c'], ['hook>a', 'a>b', 'b>c']);

  it('schedules nothing while the trigger runs', () => {
    expect(planRun(chain, steps({ hook: 'running' }))).toEqual({ ready: [], skipped: [] });
  });

  it('makes each node ready once its predecessor succeeded', () => {
    expect(planRun(chain, steps({ hook: 'succeeded' }))).toEqual({ ready: ['a'], skipped: [] });
    expect(planRun(chain, steps({ hook: 'succeeded', a: 'succeeded' }))).toEqual({
      ready: ['b'],
      skipped: [],
    });
    expect(planRun(chain, steps({ hook: 'succeeded', a: 'succeeded', b: 'succeeded' }))).toEqual({
      ready: ['c'],
      skipped: [],
    });
  });

  it('does not schedule a node again once it has a row', () => {
    expect(planRun(chain, steps({ hook: 'succeeded', a: 'queued' }))).toEqual({
      ready: [],
      skipped: [],
    });
    expect(planRun(chain, steps({ hook: 'succeeded', a: 'running' }))).toEqual({
      ready: [],
      skipped: [],
    });
  });

  it('finishes once the last node succeeded', () => {
    const all = steps({ hook: 'succeeded', a: 'succeeded', b: 'succeeded', c: 'succeeded' });
    expect(planRun(chain, all)).toEqual({ ready: [], skipped: [], finished: 'succeeded' });
  });

  it('never schedules the trigger itself', () => {
    expect(planRun(chain, steps({})).ready).toEqual([]);
  });

  it('skips the successors of a failed or canceled step', () => {
    for (const status of ['failed', 'canceled'] as const) {
      const plan = planRun(chain, steps({ hook: 'succeeded', a: status }));
      expect(plan.ready).toEqual([]);
      expect(plan.skipped).toEqual(['b', 'c']);
    }
  });

  it('does not modify its input map', () => {
    const rows = steps({ hook: 'succeeded' });
    planRun(chain, rows);
    expect([...rows.keys()]).toEqual(['hook']);
  });
});

describe('planRun: fan-out and join', () => {
  const diamond = definition(['a', 'b', 'join'], ['hook>a', 'hook>b', 'a>join', 'b>join']);

  it('fan-out schedules both branches at once', () => {
    expect(planRun(diamond, steps({ hook: 'succeeded' }))).toEqual({
      ready: ['a', 'b'],
      skipped: [],
    });
  });

  it('a join waits until both predecessors settled', () => {
    for (const other of ['queued', 'waiting', 'running'] as const) {
      expect(planRun(diamond, steps({ hook: 'succeeded', a: 'succeeded', b: other }))).toEqual({
        ready: [],
        skipped: [],
      });
      expect(planRun(diamond, steps({ hook: 'succeeded', a: other, b: 'succeeded' }))).toEqual({
        ready: [],
        skipped: [],
      });
    }
  });

  it('a join is scheduled exactly once: when the second predecessor settles', () => {
    const first = planRun(diamond, steps({ hook: 'succeeded', a: 'succeeded', b: 'running' }));
    expect(first.ready).toEqual([]);
    const second = planRun(diamond, steps({ hook: 'succeeded', a: 'succeeded', b: 'succeeded' }));
    expect(second).toEqual({ ready: ['join'], skipped: [] });
    const after = planRun(
      diamond,
      steps({ hook: 'succeeded', a: 'succeeded', b: 'succeeded', join: 'queued' }),
    );
    expect(after).toEqual({ ready: [], skipped: [] });
  });

  it('a join runs when one predecessor failed and the other succeeded', () => {
    expect(planRun(diamond, steps({ hook: 'succeeded', a: 'failed', b: 'succeeded' }))).toEqual({
      ready: ['join'],
      skipped: [],
    });
  });
});

describe('planRun: branch', () => {
  const fork = definition(
    [br('check'), 'yes', 'no'],
    ['hook>check', 'check>yes:true', 'check>no:false'],
  );

  it.each([
    [true, 'yes', 'no'],
    [false, 'no', 'yes'],
    // JMESPath truthiness of raw values: only false, null, '', [] and {} are false.
    [[], 'no', 'yes'],
    [{}, 'no', 'yes'],
    ['', 'no', 'yes'],
    [null, 'no', 'yes'],
    [undefined, 'no', 'yes'],
    [0, 'yes', 'no'],
    ['false', 'yes', 'no'],
    [[false], 'yes', 'no'],
    [{ a: null }, 'yes', 'no'],
  ])('output %j takes the edge to %s and skips %s', (output, taken, untaken) => {
    expect(planRun(fork, steps({ hook: 'succeeded', check: ['succeeded', output] }))).toEqual({
      ready: [taken],
      skipped: [untaken],
    });
  });

  it('a failed branch takes neither edge', () => {
    expect(planRun(fork, steps({ hook: 'succeeded', check: ['failed', true] }))).toMatchObject({
      ready: [],
      skipped: ['yes', 'no'],
    });
  });

  it('does nothing while the branch runs', () => {
    expect(planRun(fork, steps({ hook: 'succeeded', check: 'running' }))).toEqual({
      ready: [],
      skipped: [],
    });
  });

  it('finishes once the taken side succeeded and the other was skipped', () => {
    const rows = steps({
      hook: 'succeeded',
      check: ['succeeded', false],
      no: 'succeeded',
      yes: 'skipped',
    });
    expect(planRun(fork, rows)).toEqual({ ready: [], skipped: [], finished: 'succeeded' });
  });
});

describe('planRun: dead-path elimination', () => {
  // hook → check ─true→ a1 → a2 ─┐
  //              └false→ b1 → b2 ─┴→ join → last
  // Listed downstream-first, so skipping must propagate over several passes.
  const graph = definition(
    ['last', 'join', 'b2', 'a2', 'b1', 'a1', br('check')],
    [
      'hook>check',
      'check>a1:true',
      'check>b1:false',
      'a1>a2',
      'b1>b2',
      'a2>join',
      'b2>join',
      'join>last',
    ],
  );

  it('skips the untaken side and its whole chain, up to a join that waits', () => {
    const plan = planRun(graph, steps({ hook: 'succeeded', check: ['succeeded', true] }));
    expect(plan.ready).toEqual(['a1']);
    expect([...plan.skipped].sort()).toEqual(['b1', 'b2']);
    expect(plan.finished).toBeUndefined();
  });

  it('skips the other side for a false outcome', () => {
    const plan = planRun(graph, steps({ hook: 'succeeded', check: ['succeeded', false] }));
    expect(plan.ready).toEqual(['b1']);
    expect([...plan.skipped].sort()).toEqual(['a1', 'a2']);
  });

  it('runs a join of a taken and an untaken path', () => {
    const rows = steps({
      hook: 'succeeded',
      check: ['succeeded', true],
      a1: 'succeeded',
      a2: 'succeeded',
      b1: 'skipped',
      b2: 'skipped',
    });
    expect(planRun(graph, rows)).toEqual({ ready: ['join'], skipped: [] });
  });

  it('runs the join once the taken path succeeded, in the same call that skips the other', () => {
    // A branch output settles the untaken side; the taken side was already done.
    const g = definition(
      [br('check'), 'join', 'x'],
      ['hook>check', 'check>x:false', 'check>join:true', 'x>join'],
    );
    expect(planRun(g, steps({ hook: 'succeeded', check: ['succeeded', true] }))).toEqual({
      ready: ['join'],
      skipped: ['x'],
    });
  });

  it('skips a join all of whose inputs are untaken, and everything after it', () => {
    const g = definition(
      [br('check'), 'x', 'y', 'z', 'join', 'after'],
      [
        'hook>check',
        'check>x:true',
        'check>y:false',
        'check>z:false',
        'y>join',
        'z>join',
        'join>after',
      ],
    );
    expect(planRun(g, steps({ hook: 'succeeded', check: ['succeeded', 1] }))).toEqual({
      ready: ['x'],
      skipped: ['y', 'z', 'join', 'after'],
    });
  });

  it('finishes when a skip settles the last open nodes', () => {
    // A branch with only a false edge: a true outcome ends the run.
    const g = definition([br('check'), 'y', 'z'], ['hook>check', 'check>y:false', 'y>z']);
    const rows = steps({ hook: 'succeeded', check: ['succeeded', true] });
    expect(planRun(g, rows)).toEqual({ ready: [], skipped: ['y', 'z'], finished: 'succeeded' });
  });
});

describe('planRun: finished', () => {
  const chain = definition(['a', 'b'], ['hook>a', 'a>b']);

  it.each(['queued', 'waiting', 'running'] as const)('is unset while a row is %s', (status) => {
    const rows = steps({ hook: 'succeeded', a: 'succeeded', b: status });
    expect(planRun(chain, rows)).toEqual({ ready: [], skipped: [] });
    expect(planRun(chain, steps({ hook: status }))).toEqual({ ready: [], skipped: [] });
  });

  it.each(['succeeded', 'skipped'] as const)(
    'is set when every row is final, the last one %s',
    (status) => {
      const rows = steps({ hook: 'succeeded', a: 'succeeded', b: status });
      expect(planRun(chain, rows)).toEqual({ ready: [], skipped: [], finished: 'succeeded' });
    },
  );

  it('is unset when it schedules a node', () => {
    expect(planRun(chain, steps({ hook: 'succeeded', a: 'succeeded' }))).toEqual({
      ready: ['b'],
      skipped: [],
    });
  });
});

describe('isTruthy', () => {
  it.each([
    [false, false],
    [null, false],
    [undefined, false],
    ['', false],
    [[], false],
    [{}, false],
    [true, true],
    [0, true],
    [-1, true],
    [0.5, true],
    ['0', true],
    ['false', true],
    [' ', true],
    [[null], true],
    [[[]], true],
    [{ a: false }, true],
  ])('isTruthy(%j) is %s', (value, expected) => {
    expect(isTruthy(value)).toBe(expected);
  });
});

describe('isFinalRun', () => {
  it.each([
    ['queued', false],
    ['running', false],
    ['succeeded', true],
    ['failed', true],
    ['canceled', true],
  ] as Array<[RunStatus, boolean]>)('isFinalRun(%s) is %s', (status, expected) => {
    expect(isFinalRun(status)).toBe(expected);
  });
});
