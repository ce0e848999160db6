import { describe, it, expect } from 'vitest';
import {
  compileExpression,
  evaluate,
  renderTemplate,
  templateExpressions,
  type ExpressionContext,
} from './expression.ts';

const context: ExpressionContext = {
  trigger: {
    body: {
      n: 3,
      f: 1.5,
      neg: -2,
      s: 'hi',
      yes: true,
      no: false,
      nil: null,
      obj: { a: 1, b: [true, null] },
      arr: [1, 'x'],
      empty: '',
      dollars: '$& $1 $$',
      braces: '{{ trigger.body.n }}',
    },
    headers: { 'x-request-id': 'req-7' },
    query: { page: '2' },
  },
  steps: { shape: { output: { id: 42, tags: ['a', 'b'] } } },
};

/** The syntax error compileExpression reports for an expression. */
function syntaxError(expression: string): string {
  const compiled = compileExpression(expression);
  if (compiled.ok) throw new Error(`"${expression}" compiles; the test needs one that does not`);
  return compiled.error;
}

describe('renderTemplate: a string that is exactly one placeholder', () => {
  it.each([
    ['{{ trigger.body.n }}', 3],
    ['{{trigger.body.f}}', 1.5],
    ['{{ trigger.body.neg }}', -2],
    ['{{ trigger.body.s }}', 'hi'],
    ['{{ trigger.body.yes }}', true],
    ['{{ trigger.body.no }}', false],
    ['{{ trigger.body.nil }}', null],
    ['{{ trigger.body.missing }}', null],
    ['{{ trigger.body.obj }}', { a: 1, b: [true, null] }],
    ['{{ trigger.body.arr }}', [1, 'x']],
    ['{{ trigger.body.empty }}', ''],
    ['{{ steps.shape.output.id }}', 42],
    ['{{ steps.shape.output.tags[1] }}', 'b'],
    ['{{ trigger.headers."x-request-id" }}', 'req-7'],
    ['{{ trigger.query.page }}', '2'],
    ['{{ length(steps.shape.output.tags) }}', 2],
    ['{{   trigger.body.n   }}', 3],
    ['{{\n  trigger.body.n\n}}', 3],
  ])('%j keeps the JSON value %j', (template, expected) => {
    expect(renderTemplate(template, context)).toEqual({ ok: true, value: expected });
  });

  it('evaluates a multiselect hash that needs its own braces', () => {
    expect(renderTemplate('{{ {id: steps.shape.output.id} }}', context)).toEqual({
      ok: true,
      value: { id: 42 },
    });
  });

  it('does not render a placeholder found in the value it inserts', () => {
    expect(renderTemplate('{{ trigger.body.braces }}', context)).toEqual({
      ok: true,
      value: '{{ trigger.body.n }}',
    });
  });
});

describe('renderTemplate: placeholders inside text', () => {
  it.each([
    ['n={{ trigger.body.n }}', 'n=3'],
    ['f={{ trigger.body.f }}', 'f=1.5'],
    ['s={{ trigger.body.s }}!', 's=hi!'],
    ['yes={{ trigger.body.yes }}', 'yes=true'],
    ['no={{ trigger.body.no }}', 'no=false'],
    ['[{{ trigger.body.nil }}]', '[]'],
    ['[{{ trigger.body.missing }}]', '[]'],
    ['o={{ trigger.body.obj }}', 'o={"a":1,"b":[true,null]}'],
    ['a={{ trigger.body.arr }}', 'a=[1,"x"]'],
    [' {{ trigger.body.n }}', ' 3'],
    ['{{ trigger.body.n }} ', '3 '],
  ])('%j renders as %j', (template, expected) => {
    expect(renderTemplate(template, context)).toEqual({ ok: true, value: expected });
  });

  it('renders several placeholders in one string', () => {
    expect(
      renderTemplate(
        '/orders/{{ steps.shape.output.id }}?page={{ trigger.query.page }}&s={{ trigger.body.s }}',
        context,
      ),
    ).toEqual({ ok: true, value: '/orders/42?page=2&s=hi' });
  });

  it('renders adjacent placeholders as text, not as one value', () => {
    expect(renderTemplate('{{ trigger.body.n }}{{ trigger.body.n }}', context)).toEqual({
      ok: true,
      value: '33',
    });
  });

  it('inserts replacement patterns such as $& literally', () => {
    expect(renderTemplate('v={{ trigger.body.dollars }}', context)).toEqual({
      ok: true,
      value: 'v=$& $1 $$',
    });
  });
});

describe('renderTemplate: structures', () => {
  it('renders every string of nested objects and arrays, leaving other values alone', () => {
    const config = {
      url: 'https://x.test/{{ steps.shape.output.id }}',
      headers: { 'X-Id': '{{ trigger.headers."x-request-id" }}', Accept: 'application/json' },
      body: {
        id: '{{ steps.shape.output.id }}',
        items: ['{{ trigger.body.arr }}', { tag: 'tag-{{ steps.shape.output.tags[0] }}' }, 7],
        flag: true,
        none: null,
        count: 0,
      },
    };
    expect(renderTemplate(config, context)).toEqual({
      ok: true,
      value: {
        url: 'https://x.test/42',
        headers: { 'X-Id': 'req-7', Accept: 'application/json' },
        body: {
          id: 42,
          items: [[1, 'x'], { tag: 'tag-a' }, 7],
          flag: true,
          none: null,
          count: 0,
        },
      },
    });
  });

  it('does not modify the config it renders', () => {
    const config = { body: { id: '{{ steps.shape.output.id }}' }, list: ['{{ trigger.body.n }}'] };
    const before = structuredClone(config);
    renderTemplate(config, context);
    expect(config).toEqual(before);
  });

  it('leaves keys alone', () => {
    expect(renderTemplate({ '{{ trigger.body.s }}': 1 }, context)).toEqual({
      ok: true,
      value: { '{{ trigger.body.s }}': 1 },
    });
  });

  it.each([[42], [true], [false], [null], [undefined], [[]], [{}]])('returns %j as is', (v) => {
    expect(renderTemplate(v, context)).toEqual({ ok: true, value: v });
  });
});

describe('renderTemplate: strings without placeholders', () => {
  it.each([
    'plain text',
    '  padded  ',
    '',
    '{ single } braces',
    '{{ unclosed',
    'closed only }}',
    '}} backwards {{',
    '{ {not} }',
  ])('returns %j as is', (text) => {
    expect(renderTemplate(text, context)).toEqual({ ok: true, value: text });
  });
});

describe('renderTemplate: failures', () => {
  it('reports a syntax error in a whole-string placeholder, naming the expression', () => {
    expect(renderTemplate('{{ foo[ }}', context)).toEqual({
      ok: false,
      error: `expression "foo[": ${syntaxError('foo[')}`,
    });
  });

  it('reports a runtime error inside text, naming the expression', () => {
    const result = renderTemplate('n={{ abs(trigger.body.s) }}', context);
    expect(result).toEqual({
      ok: false,
      error: expect.stringMatching(/^expression "abs\(trigger\.body\.s\)": .*abs\(\)/),
    });
  });

  it('reports the first failing placeholder of a string', () => {
    expect(renderTemplate('{{ trigger.body.n }} {{ a[ }} {{ b. }}', context)).toEqual({
      ok: false,
      error: `expression "a[": ${syntaxError('a[')}`,
    });
  });

  it('reports an empty placeholder', () => {
    expect(renderTemplate('x{{ }}', context)).toEqual({
      ok: false,
      error: `expression "": ${syntaxError('')}`,
    });
  });

  it('reports a failure deep inside a structure', () => {
    const config = { body: { list: ['ok', { deep: '{{ ) }}' }] }, after: '{{ trigger.body.n }}' };
    expect(renderTemplate(config, context)).toEqual({
      ok: false,
      error: `expression ")": ${syntaxError(')')}`,
    });
  });
});

describe('evaluate', () => {
  it('evaluates over any JSON value', () => {
    expect(evaluate('a.b[1]', { a: { b: [1, 2] } })).toEqual({ ok: true, value: 2 });
    expect(evaluate('missing', { a: 1 })).toEqual({ ok: true, value: null });
    expect(evaluate('@', 'text')).toEqual({ ok: true, value: 'text' });
    expect(evaluate('`0` || `"x"`', null)).toEqual({ ok: true, value: 0 });
    expect(evaluate('[] || `"x"`', null)).toEqual({ ok: true, value: 'x' });
  });

  it('returns a syntax error as a value', () => {
    expect(evaluate('foo[', {})).toEqual({ ok: false, error: syntaxError('foo[') });
  });

  it('returns a runtime type error as a value', () => {
    expect(evaluate('length(@)', 5)).toEqual({
      ok: false,
      error: expect.stringContaining('length()'),
    });
    expect(evaluate('abs(@)', 'x')).toEqual({ ok: false, error: expect.stringContaining('abs()') });
  });

  it('returns an unknown function as a value', () => {
    expect(evaluate('no_such_function(@)', {})).toEqual({
      ok: false,
      error: expect.stringContaining('no_such_function'),
    });
  });
});

describe('compileExpression', () => {
  it('compiles a valid expression, reusing the compiled form', () => {
    const first = compileExpression('trigger.body.id');
    const second = compileExpression('trigger.body.id');
    expect(first.ok).toBe(true);
    expect(second).toEqual(first);
    if (first.ok && second.ok) expect(second.value).toBe(first.value);
  });

  it.each(['', 'foo[', 'a ||', ')', 'a.', '{a: }', '`{bad json`'])(
    'returns a syntax error for %j',
    (expression) => {
      const result = compileExpression(expression);
      expect(result).toEqual({ ok: false, error: expect.stringMatching(/\S/) });
    },
  );

  it('does not cache a failure as a success', () => {
    expect(compileExpression('x[').ok).toBe(false);
    expect(compileExpression('x[').ok).toBe(false);
  });
});

describe('templateExpressions', () => {
  it.each([
    ['no placeholders', []],
    ['{{ a }}', ['a']],
    ['x {{ a.b }} y {{c}} z', ['a.b', 'c']],
    ['{{ a }}{{ b }}', ['a', 'b']],
    ['{{ }}', ['']],
    ['{{ unclosed', []],
    ['{{\n  steps.x.output\n}}', ['steps.x.output']],
    ['{{ a }} {{ b', ['a']],
    ['{{ "x-id" }}', ['"x-id"']],
  ])('%j gives %j', (text, expected) => {
    expect(templateExpressions(text)).toEqual(expected);
  });
});
