import { describe, it, expect } from 'vitest';
import {
  NODE_TYPES,
  triggerNode,
  validateDefinition,
  type Definition,
  type DefinitionIssue,
} from './definition.ts';
import { compileExpression } from './expression.ts';

/** The issues of a definition that must be rejected. */
function issuesOf(input: unknown): DefinitionIssue[] {
  const result = validateDefinition(input);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** The validated definition of input that must be accepted. */
function accepted(input: unknown): Definition {
  const result = validateDefinition(input);
  if (!result.ok) throw new Error(`expected acceptance, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The message validateDefinition gives for an expression that does not compile. */
function invalidExpression(expression: string): string {
  const compiled = compileExpression(expression);
  if (compiled.ok) throw new Error(`"${expression}" compiles; the test needs one that does not`);
  return `invalid expression "${expression}": ${compiled.error}`;
}

const HOOK = { id: 'hook', type: 'webhook', config: {} };

/** A definition of the trigger followed by one node, so only that node's problems show. */
function afterHook(node: { id: string; type: string; config?: unknown }): unknown {
  return { nodes: [HOOK, node], edges: [{ from: 'hook', to: node.id }] };
}

const transform = (id: string, expression = '@') => ({
  id,
  type: 'transform',
  config: { expression },
});
const branch = (id: string, condition = 'trigger.body.ok') => ({
  id,
  type: 'branch',
  config: { condition },
});
const terminate = (id: string) => ({ id, type: 'terminate', config: { status: 'succeeded' } });

describe('validateDefinition: a valid definition', () => {
  const input = {
    nodes: [
      {
        id: 'hook',
        type: 'webhook',
        config: { signature: { scheme: 'github', secret: 'it-is-a-secret', tolerance_s: 300 } },
      },
      { id: 'shape', type: 'transform', config: { expression: '{id: trigger.body.id}' } },
      { id: 'has_id', type: 'branch', config: { condition: 'steps.shape.output.id' } },
      {
        id: 'call-api',
        type: 'http_call',
        config: {
          method: 'post',
          url: 'https://api.example.com/orders/{{ steps.shape.output.id }}',
          headers: { 'X-Request-Id': '{{ trigger.headers."x-request-id" }}' },
          body: { order: '{{ steps.shape.output }}', tags: ['a', '{{ trigger.query.tag }}'] },
          timeout_ms: 5000,
          retry: { max_attempts: 5, backoff_ms: 250 },
        },
      },
      { id: 'pause', type: 'delay', config: { ms: 60000 } },
      {
        id: 'note',
        type: 'log',
        config: {
          level: 'info',
          message: 'order {{ steps.shape.output.id }} sent',
          fields: { status: '{{ steps."call-api".output.status }}' },
        },
      },
      { id: 'give_up', type: 'terminate', config: { status: 'failed', message: 'no id' } },
    ],
    edges: [
      { from: 'hook', to: 'shape' },
      { from: 'shape', to: 'has_id' },
      { from: 'has_id', to: 'call-api', when: 'true' },
      { from: 'has_id', to: 'give_up', when: 'false' },
      { from: 'call-api', to: 'pause' },
      { from: 'pause', to: 'note' },
    ],
  };

  it('uses every node type', () => {
    expect(new Set(input.nodes.map((n) => n.type))).toEqual(new Set(NODE_TYPES));
  });

  it('passes and returns the normalised definition, http_call method upper-cased', () => {
    const expected = structuredClone(input);
    // Only the method of the http_call node (nodes[3]) changes.
    Object.assign(expected.nodes[3]!.config, { method: 'POST' });
    expect(validateDefinition(input)).toEqual({ ok: true, value: expected });
  });

  it('does not modify its input', () => {
    const before = structuredClone(input);
    validateDefinition(input);
    expect(input).toEqual(before);
  });

  it.each([
    ['get', 'GET'],
    ['Patch', 'PATCH'],
    ['DELETE', 'DELETE'],
    ['options', 'OPTIONS'],
    ['head', 'HEAD'],
    ['put', 'PUT'],
  ])('upper-cases http method %s to %s', (method, expected) => {
    const definition = accepted(
      afterHook({ id: 'call', type: 'http_call', config: { method, url: 'https://x.test/' } }),
    );
    expect(definition.nodes[1]).toEqual({
      id: 'call',
      type: 'http_call',
      config: { method: expected, url: 'https://x.test/' },
    });
  });

  it('defaults a missing config to {} and missing edges to []', () => {
    expect(validateDefinition({ nodes: [{ id: 'hook', type: 'webhook' }] })).toEqual({
      ok: true,
      value: { nodes: [{ id: 'hook', type: 'webhook', config: {} }], edges: [] },
    });
  });

  it('accepts config values at the edges of their ranges', () => {
    const definition = accepted({
      nodes: [
        HOOK,
        {
          id: 'a',
          type: 'http_call',
          config: { method: 'GET', url: 'u', timeout_ms: 300_000, retry: { max_attempts: 20 } },
        },
        { id: 'b', type: 'http_call', config: { method: 'GET', url: 'u', timeout_ms: 1 } },
        { id: 'c', type: 'delay', config: { ms: 0 } },
        { id: 'd', type: 'delay', config: { ms: 30 * 24 * 3600 * 1000 } },
      ],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'hook', to: 'b' },
        { from: 'hook', to: 'c' },
        { from: 'hook', to: 'd' },
      ],
    });
    expect(definition.nodes.map((n) => n.id)).toEqual(['hook', 'a', 'b', 'c', 'd']);
  });

  it('accepts ids of letters, digits, _ and -, up to 64 characters', () => {
    const long = 'n' + '0'.repeat(63);
    const definition = accepted({
      nodes: [HOOK, transform('_x-1'), transform(long)],
      edges: [
        { from: 'hook', to: '_x-1' },
        { from: '_x-1', to: long },
      ],
    });
    expect(definition.nodes.map((n) => n.id)).toEqual(['hook', '_x-1', long]);
  });
});

describe('triggerNode', () => {
  it('returns the webhook node of a validated definition', () => {
    const definition = accepted({
      nodes: [transform('first'), { id: 'in', type: 'webhook', config: {} }],
      edges: [{ from: 'in', to: 'first' }],
    });
    expect(triggerNode(definition)).toEqual({ id: 'in', type: 'webhook', config: {} });
    expect(triggerNode(definition)).toBe(definition.nodes[1]);
  });

  it('throws for a definition without a webhook node', () => {
    const definition = { nodes: [], edges: [] } as Definition;
    expect(() => triggerNode(definition)).toThrow(
      'definition has no webhook node; it was not validated',
    );
  });
});

describe('validateDefinition: node types and configs', () => {
  it('rejects an unknown node type', () => {
    expect(issuesOf(afterHook({ id: 'mail', type: 'email', config: {} }))).toEqual([
      {
        path: 'nodes[1].type',
        node_id: 'mail',
        message:
          'unknown node type "email"; expected one of webhook, transform, http_call, branch, ' +
          'delay, log, terminate',
      },
    ]);
  });

  it('rejects a transform without expression', () => {
    expect(issuesOf(afterHook({ id: 'x', type: 'transform', config: {} }))).toEqual([
      { path: 'nodes[1].config.expression', node_id: 'x', message: expect.any(String) },
    ]);
  });

  it('rejects a transform with an empty expression', () => {
    expect(issuesOf(afterHook(transform('x', '')))).toEqual([
      { path: 'nodes[1].config.expression', node_id: 'x', message: expect.any(String) },
    ]);
  });

  it('rejects an http_call without url', () => {
    expect(
      issuesOf(afterHook({ id: 'call', type: 'http_call', config: { method: 'GET' } })),
    ).toEqual([{ path: 'nodes[1].config.url', node_id: 'call', message: expect.any(String) }]);
  });

  it('rejects an http_call with an unknown method', () => {
    expect(
      issuesOf(afterHook({ id: 'call', type: 'http_call', config: { method: 'fetch', url: 'u' } })),
    ).toEqual([{ path: 'nodes[1].config.method', node_id: 'call', message: expect.any(String) }]);
  });

  it.each([0, 300_001, 1.5, -1])('rejects http_call timeout_ms %s', (timeout) => {
    const node = { id: 'call', type: 'http_call', config: { method: 'GET', url: 'u' } };
    Object.assign(node.config, { timeout_ms: timeout });
    expect(issuesOf(afterHook(node))).toEqual([
      { path: 'nodes[1].config.timeout_ms', node_id: 'call', message: expect.any(String) },
    ]);
  });

  it('rejects bad retry settings with a path into retry', () => {
    const config = { method: 'GET', url: 'u', retry: { max_attempts: 0, backoff_ms: 3_600_001 } };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      {
        path: 'nodes[1].config.retry.max_attempts',
        node_id: 'call',
        message: expect.any(String),
      },
      { path: 'nodes[1].config.retry.backoff_ms', node_id: 'call', message: expect.any(String) },
    ]);
  });

  it('rejects a header that is not a string, naming the header', () => {
    const config = { method: 'GET', url: 'u', headers: { 'X-Count': 3 } };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      { path: 'nodes[1].config.headers.X-Count', node_id: 'call', message: expect.any(String) },
    ]);
  });

  it('rejects an unknown config key, naming it', () => {
    const config = { method: 'GET', urll: 'https://x.test/', url: 'u' };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      { path: 'nodes[1].config', node_id: 'call', message: expect.stringContaining('"urll"') },
    ]);
  });

  it('rejects an unknown key in a nested config object', () => {
    const config = { method: 'GET', url: 'u', retry: { attempts: 3 } };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      {
        path: 'nodes[1].config.retry',
        node_id: 'call',
        message: expect.stringContaining('"attempts"'),
      },
    ]);
  });

  it('rejects a log node with a bad level', () => {
    expect(
      issuesOf(afterHook({ id: 'note', type: 'log', config: { level: 'trace', message: 'm' } })),
    ).toEqual([{ path: 'nodes[1].config.level', node_id: 'note', message: expect.any(String) }]);
  });

  it('rejects a terminate node with a bad status', () => {
    expect(issuesOf(afterHook({ id: 'end', type: 'terminate', config: { status: 'ok' } }))).toEqual(
      [{ path: 'nodes[1].config.status', node_id: 'end', message: expect.any(String) }],
    );
  });

  it.each([-1, 1.5, 30 * 24 * 3600 * 1000 + 1])('rejects a delay of %s ms', (ms) => {
    expect(issuesOf(afterHook({ id: 'wait', type: 'delay', config: { ms } }))).toEqual([
      { path: 'nodes[1].config.ms', node_id: 'wait', message: expect.any(String) },
    ]);
  });

  it('rejects a webhook signature with a short secret or unknown scheme', () => {
    const config = { signature: { scheme: 'md5', secret: 'short' } };
    expect(issuesOf({ nodes: [{ id: 'hook', type: 'webhook', config }] })).toEqual([
      { path: 'nodes[0].config.signature.scheme', node_id: 'hook', message: expect.any(String) },
      {
        path: 'nodes[0].config.signature.secret',
        node_id: 'hook',
        message: 'a signature secret needs at least 8 characters',
      },
    ]);
  });
});

describe('validateDefinition: expressions', () => {
  it('rejects an invalid JMESPath transform expression', () => {
    expect(issuesOf(afterHook(transform('x', 'foo[')))).toEqual([
      { path: 'nodes[1].config.expression', node_id: 'x', message: invalidExpression('foo[') },
    ]);
  });

  it('rejects an invalid JMESPath branch condition', () => {
    const input = {
      nodes: [HOOK, branch('check', 'a ||'), terminate('end')],
      edges: [
        { from: 'hook', to: 'check' },
        { from: 'check', to: 'end', when: 'true' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'nodes[1].config.condition', node_id: 'check', message: invalidExpression('a ||') },
    ]);
  });

  it('checks a transform expression as a bare expression, not as a template', () => {
    // A literal that holds braces is valid JMESPath; it must not be read as a template.
    const definition = accepted(afterHook(transform('x', "'{{ not[ a template }}'")));
    expect(definition.nodes[1]).toEqual(transform('x', "'{{ not[ a template }}'"));
  });

  it('rejects invalid templates in http_call url, header and body', () => {
    const config = {
      method: 'POST',
      url: 'https://x.test/{{ a[ }}',
      headers: { 'X-Ok': '{{ trigger.headers.ok }}', 'X-Bad': 'Bearer {{ b. }}' },
      body: { list: ['fine', { deep: 'v={{ ) }}' }] },
    };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      { path: 'nodes[1].config.url', node_id: 'call', message: invalidExpression('a[') },
      { path: 'nodes[1].config.headers.X-Bad', node_id: 'call', message: invalidExpression('b.') },
      {
        path: 'nodes[1].config.body.list[1].deep',
        node_id: 'call',
        message: invalidExpression(')'),
      },
    ]);
  });

  it('rejects a string body that is one invalid template', () => {
    const config = { method: 'POST', url: 'u', body: '{{ x[ }}' };
    expect(issuesOf(afterHook({ id: 'call', type: 'http_call', config }))).toEqual([
      { path: 'nodes[1].config.body', node_id: 'call', message: invalidExpression('x[') },
    ]);
  });

  it('rejects an invalid template in a log message and in log fields', () => {
    const config = { level: 'warn', message: 'got {{ ( }}', fields: { n: '{{ [ }}' } };
    expect(issuesOf(afterHook({ id: 'note', type: 'log', config }))).toEqual([
      { path: 'nodes[1].config.message', node_id: 'note', message: invalidExpression('(') },
      { path: 'nodes[1].config.fields.n', node_id: 'note', message: invalidExpression('[') },
    ]);
  });

  it('reports each invalid placeholder of one string', () => {
    const config = { level: 'info', message: '{{ ( }} and {{ ok }} and {{ ] }}' };
    expect(issuesOf(afterHook({ id: 'note', type: 'log', config }))).toEqual([
      { path: 'nodes[1].config.message', node_id: 'note', message: invalidExpression('(') },
      { path: 'nodes[1].config.message', node_id: 'note', message: invalidExpression(']') },
    ]);
  });

  it('rejects an empty placeholder', () => {
    const config = { status: 'failed', message: 'because {{ }}' };
    expect(issuesOf(afterHook({ id: 'end', type: 'terminate', config }))).toEqual([
      { path: 'nodes[1].config.message', node_id: 'end', message: invalidExpression('') },
    ]);
  });
});

describe('validateDefinition: graph', () => {
  it('rejects duplicate node ids', () => {
    const input = {
      nodes: [HOOK, transform('a'), transform('a')],
      edges: [{ from: 'hook', to: 'a' }],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'nodes[2].id', node_id: 'a', message: 'duplicate node id "a"' },
    ]);
  });

  it('rejects a definition without webhook node', () => {
    const issues = issuesOf({
      nodes: [transform('a'), transform('b')],
      edges: [{ from: 'a', to: 'b' }],
    });
    expect(issues).toStrictEqual([
      { path: 'nodes', message: 'a definition needs exactly one node of type webhook, found 0' },
    ]);
  });

  it('rejects two webhook nodes, naming the second', () => {
    const input = {
      nodes: [HOOK, transform('a'), { id: 'hook2', type: 'webhook', config: {} }],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'hook2', to: 'a' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      {
        path: 'nodes',
        node_id: 'hook2',
        message: 'a definition needs exactly one node of type webhook, found 2',
      },
    ]);
  });

  it('rejects edges from and to unknown nodes', () => {
    const input = {
      nodes: [HOOK, transform('a')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'ghost' },
        { from: 'phantom', to: 'a' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges[1].to', node_id: 'ghost', message: 'edge to unknown node "ghost"' },
      { path: 'edges[2].from', node_id: 'phantom', message: 'edge from unknown node "phantom"' },
    ]);
  });

  it('rejects an edge into the webhook', () => {
    const input = {
      nodes: [HOOK, transform('a')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'hook' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges[1].to', node_id: 'hook', message: 'nothing can lead to the webhook trigger' },
    ]);
  });

  it('rejects an edge out of a terminate node', () => {
    const input = {
      nodes: [HOOK, terminate('end'), transform('after')],
      edges: [
        { from: 'hook', to: 'end' },
        { from: 'end', to: 'after' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      {
        path: 'edges[1].from',
        node_id: 'end',
        message: 'a terminate node ends the run; it has no successors',
      },
    ]);
  });

  it('rejects a branch edge without when', () => {
    const input = {
      nodes: [HOOK, branch('check'), transform('yes'), transform('no')],
      edges: [
        { from: 'hook', to: 'check' },
        { from: 'check', to: 'yes', when: 'true' },
        { from: 'check', to: 'no' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      {
        path: 'edges[2]',
        node_id: 'check',
        message: 'edges from a branch node need "when": "true" or "false"',
      },
    ]);
  });

  it('rejects when on an edge from a node that is not a branch', () => {
    const input = {
      nodes: [HOOK, transform('a'), transform('b')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'b', when: 'false' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      {
        path: 'edges[1].when',
        node_id: 'a',
        message: '"when" is only for edges from a branch node',
      },
    ]);
  });

  it('rejects a when value other than "true" or "false"', () => {
    const input = {
      nodes: [HOOK, branch('check'), transform('a')],
      edges: [
        { from: 'hook', to: 'check' },
        { from: 'check', to: 'a', when: 'yes' },
      ],
    };
    expect(issuesOf(input)).toStrictEqual([{ path: 'edges[1].when', message: expect.any(String) }]);
  });

  it('rejects a duplicate edge', () => {
    const input = {
      nodes: [HOOK, transform('a')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'hook', to: 'a' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges[1]', node_id: 'hook', message: 'duplicate edge hook → a' },
    ]);
  });

  it('rejects two edges from a branch to the same node even with different when', () => {
    const input = {
      nodes: [HOOK, branch('check'), transform('a')],
      edges: [
        { from: 'hook', to: 'check' },
        { from: 'check', to: 'a', when: 'true' },
        { from: 'check', to: 'a', when: 'false' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges[2]', node_id: 'check', message: 'duplicate edge check → a' },
    ]);
  });

  it('rejects a self loop', () => {
    const input = {
      nodes: [HOOK, transform('a')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'a' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges[1]', node_id: 'a', message: 'a node cannot lead to itself' },
    ]);
  });

  it('rejects a cycle, naming its path', () => {
    const input = {
      nodes: [HOOK, transform('a'), transform('b'), transform('c'), transform('out')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
        { from: 'c', to: 'a' },
        { from: 'c', to: 'out' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges', node_id: 'a', message: 'the graph has a cycle: a → b → c → a' },
    ]);
  });

  it('rejects a cycle that the trigger does not reach', () => {
    const input = {
      nodes: [HOOK, transform('a'), transform('x'), transform('y')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'x', to: 'y' },
        { from: 'y', to: 'x' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'edges', node_id: 'x', message: 'the graph has a cycle: x → y → x' },
    ]);
  });

  it('rejects unreachable nodes, including those reached only from unreachable ones', () => {
    const input = {
      nodes: [HOOK, transform('a'), transform('lonely'), transform('after_lonely')],
      edges: [
        { from: 'hook', to: 'a' },
        { from: 'lonely', to: 'after_lonely' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      {
        path: 'nodes[2]',
        node_id: 'lonely',
        message: 'node "lonely" cannot be reached from the webhook trigger',
      },
      {
        path: 'nodes[3]',
        node_id: 'after_lonely',
        message: 'node "after_lonely" cannot be reached from the webhook trigger',
      },
    ]);
  });

  it('reports several issues together', () => {
    const input = {
      nodes: [
        HOOK,
        { id: 'call', type: 'http_call', config: { method: 'GET' } },
        transform('shape', 'foo['),
        transform('shape'),
        terminate('end'),
        branch('check'),
      ],
      edges: [
        { from: 'hook', to: 'call' },
        { from: 'call', to: 'end', when: 'true' },
        { from: 'end', to: 'check' },
        { from: 'check', to: 'nowhere', when: 'false' },
      ],
    };
    expect(issuesOf(input)).toEqual([
      { path: 'nodes[1].config.url', node_id: 'call', message: expect.any(String) },
      { path: 'nodes[2].config.expression', node_id: 'shape', message: invalidExpression('foo[') },
      { path: 'nodes[3].id', node_id: 'shape', message: 'duplicate node id "shape"' },
      {
        path: 'edges[1].when',
        node_id: 'call',
        message: '"when" is only for edges from a branch node',
      },
      {
        path: 'edges[2].from',
        node_id: 'end',
        message: 'a terminate node ends the run; it has no successors',
      },
      { path: 'edges[3].to', node_id: 'nowhere', message: 'edge to unknown node "nowhere"' },
    ]);
  });
});

describe('validateDefinition: shape', () => {
  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'nodes'],
    ['an array', [{ id: 'hook', type: 'webhook' }]],
    ['undefined', undefined],
  ])('rejects %s at the root', (_name, input) => {
    expect(issuesOf(input)).toStrictEqual([{ path: '(root)', message: expect.any(String) }]);
  });

  it('rejects a definition without nodes array', () => {
    expect(issuesOf({ edges: [] })).toStrictEqual([{ path: 'nodes', message: expect.any(String) }]);
    expect(issuesOf({ nodes: { hook: { type: 'webhook' } } })).toStrictEqual([
      { path: 'nodes', message: expect.any(String) },
    ]);
  });

  it('rejects an empty nodes array', () => {
    expect(issuesOf({ nodes: [] })).toStrictEqual([{ path: 'nodes', message: expect.any(String) }]);
  });

  it('rejects an unknown top-level key', () => {
    expect(issuesOf({ nodes: [HOOK], edge: [] })).toStrictEqual([
      { path: '(root)', message: expect.stringContaining('"edge"') },
    ]);
  });

  it.each(['1st', 'has space', 'dot.id', 'slash/id', '', 'é', 'n'.repeat(65)])(
    'rejects node id %j',
    (id) => {
      expect(issuesOf({ nodes: [HOOK, { id, type: 'transform', config: {} }] })).toEqual([
        {
          path: 'nodes[1].id',
          node_id: id,
          message: 'node ids are 1-64 letters, digits, _ or -, starting with a letter or _',
        },
      ]);
    },
  );

  it('rejects a node id that is not a string, without node_id', () => {
    expect(issuesOf({ nodes: [{ id: 7, type: 'webhook' }] })).toStrictEqual([
      { path: 'nodes[0].id', message: expect.any(String) },
    ]);
  });

  it('rejects a node config that is not an object', () => {
    expect(issuesOf({ nodes: [{ id: 'hook', type: 'webhook', config: 'x' }] })).toStrictEqual([
      { path: 'nodes[0].config', node_id: 'hook', message: expect.any(String) },
    ]);
  });
});
