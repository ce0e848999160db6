import { describe, expect, it } from 'vitest';
import { layoutGraph, nodeDepths, readGraph } from './dag-layout.ts';

describe('readGraph', () => {
  it('keeps well-formed nodes and edges of a draft and drops the rest', () => {
    const graph = readGraph({
      nodes: [
        { id: 'hook', type: 'webhook' },
        { id: 'hook', type: 'log' },
        { type: 'x' },
        7,
        { id: 'a' },
      ],
      edges: [{ from: 'hook', to: 'a', when: 'true' }, { from: 'hook', to: 'ghost' }, null],
    });
    expect(graph).toEqual({
      nodes: [
        { id: 'hook', type: 'webhook' },
        { id: 'a', type: '?' },
      ],
      edges: [{ from: 'hook', to: 'a', when: 'true' }],
    });
    expect(readGraph('not a definition')).toEqual({ nodes: [], edges: [] });
  });
});

describe('nodeDepths', () => {
  it('places each node one column after its deepest predecessor', () => {
    const nodes = ['hook', 'check', 'yes', 'no', 'join'].map((id) => ({ id, type: 'log' }));
    const edges = [
      { from: 'hook', to: 'check' },
      { from: 'check', to: 'yes', when: 'true' },
      { from: 'check', to: 'no', when: 'false' },
      { from: 'yes', to: 'join' },
      { from: 'hook', to: 'join' },
    ];
    expect(Object.fromEntries(nodeDepths(nodes, edges))).toEqual({
      hook: 0,
      check: 1,
      yes: 2,
      no: 2,
      join: 3,
    });
  });

  it('puts nodes of a cycle past the last column instead of looping', () => {
    const nodes = ['hook', 'a', 'b'].map((id) => ({ id, type: 'log' }));
    const edges = [
      { from: 'hook', to: 'a' },
      { from: 'a', to: 'b' },
      { from: 'b', to: 'a' },
    ];
    expect(Object.fromEntries(nodeDepths(nodes, edges))).toEqual({ hook: 0, a: 1, b: 1 });
  });
});

describe('layoutGraph', () => {
  it('lays columns left to right with every edge pointing right, labels at the middle', () => {
    const layout = layoutGraph(
      readGraph({
        nodes: [
          { id: 'hook', type: 'webhook' },
          { id: 'check', type: 'branch' },
          { id: 'yes', type: 'log' },
          { id: 'no', type: 'log' },
        ],
        edges: [
          { from: 'hook', to: 'check' },
          { from: 'check', to: 'yes', when: 'true' },
          { from: 'check', to: 'no', when: 'false' },
        ],
      }),
    );
    const at = Object.fromEntries(layout.nodes.map((n) => [n.id, n]));
    expect(at.hook!.x).toBeLessThan(at.check!.x);
    expect(at.yes!.x).toBe(at.no!.x);
    expect(at.yes!.y).toBeLessThan(at.no!.y);
    expect(layout.edges.map((e) => e.when)).toEqual([undefined, 'true', 'false']);
    expect(layout.width).toBeGreaterThan(at.yes!.x);
    for (const node of layout.nodes) expect(node.y).toBeGreaterThanOrEqual(0);
  });
});
