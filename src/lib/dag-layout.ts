// Lays out a workflow definition for the read-only DAG view: columns by depth from the trigger
// (the longest path, so every edge points right), rows in definition order within a column.

/** A node as the view needs it. */
export interface GraphNode {
  id: string;
  type: string;
}

/** An edge as the view needs it. */
export interface GraphEdge {
  from: string;
  to: string;
  when?: string;
}

export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
  depth: number;
}

export interface PlacedEdge extends GraphEdge {
  /** SVG path data from the source's right side to the target's left side. */
  path: string;
  labelX: number;
  labelY: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 46;
const COLUMN_GAP = 64;
const ROW_GAP = 22;
const MARGIN = 12;

/**
 * Reads the nodes and edges of any value shaped like a definition, skipping what is not: the
 * editor shows drafts that do not validate yet. Edges to unknown nodes are dropped.
 */
export function readGraph(definition: unknown): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const raw = (definition ?? {}) as { nodes?: unknown; edges?: unknown };
  const nodes: GraphNode[] = [];
  const seen = new Set<string>();
  for (const node of Array.isArray(raw.nodes) ? raw.nodes : []) {
    const { id, type } = (node ?? {}) as { id?: unknown; type?: unknown };
    if (typeof id !== 'string' || seen.has(id)) continue;
    seen.add(id);
    nodes.push({ id, type: typeof type === 'string' ? type : '?' });
  }
  const edges: GraphEdge[] = [];
  for (const edge of Array.isArray(raw.edges) ? raw.edges : []) {
    const { from, to, when } = (edge ?? {}) as { from?: unknown; to?: unknown; when?: unknown };
    if (typeof from !== 'string' || typeof to !== 'string') continue;
    if (!seen.has(from) || !seen.has(to)) continue;
    edges.push(typeof when === 'string' ? { from, to, when } : { from, to });
  }
  return { nodes, edges };
}

/**
 * Depth of each node: 0 for nodes nothing points to (the trigger), else one more than its
 * deepest predecessor. Nodes on a cycle (an invalid draft) go one column past the rest.
 */
export function nodeDepths(nodes: GraphNode[], edges: GraphEdge[]): Map<string, number> {
  const incoming = new Map(nodes.map((n) => [n.id, 0]));
  const next = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const edge of edges) {
    incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + 1);
    next.get(edge.from)?.push(edge.to);
  }
  const depth = new Map<string, number>();
  const ready = nodes.filter((n) => incoming.get(n.id) === 0).map((n) => n.id);
  for (const id of ready) depth.set(id, 0);
  while (ready.length > 0) {
    const id = ready.shift()!;
    for (const to of next.get(id) ?? []) {
      depth.set(to, Math.max(depth.get(to) ?? 0, depth.get(id)! + 1));
      const left = incoming.get(to)! - 1;
      incoming.set(to, left);
      if (left === 0) ready.push(to);
    }
  }
  const stuck = nodes.filter((n) => incoming.get(n.id)! > 0);
  const settled = nodes.filter((n) => incoming.get(n.id) === 0).map((n) => depth.get(n.id)!);
  const beyond = settled.length > 0 ? Math.max(...settled) + 1 : 0;
  for (const node of stuck) depth.set(node.id, beyond);
  return depth;
}

/** Positions of nodes and edge paths for an SVG of the returned size. */
export function layoutGraph(graph: { nodes: GraphNode[]; edges: GraphEdge[] }): Layout {
  const depths = nodeDepths(graph.nodes, graph.edges);
  const columns: GraphNode[][] = [];
  for (const node of graph.nodes) (columns[depths.get(node.id)!] ??= []).push(node);
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = MARGIN * 2 + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP;

  const placed = new Map<string, PlacedNode>();
  columns.forEach((column, depth) => {
    if (!column) return;
    const columnHeight = column.length * NODE_HEIGHT + (column.length - 1) * ROW_GAP;
    const top = (height - columnHeight) / 2;
    column.forEach((node, row) => {
      placed.set(node.id, {
        ...node,
        depth,
        x: MARGIN + depth * (NODE_WIDTH + COLUMN_GAP),
        y: top + row * (NODE_HEIGHT + ROW_GAP),
      });
    });
  });

  const edges = graph.edges.map((edge): PlacedEdge => {
    const a = placed.get(edge.from)!;
    const b = placed.get(edge.to)!;
    const x1 = a.x + NODE_WIDTH;
    const y1 = a.y + NODE_HEIGHT / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_HEIGHT / 2;
    // An edge to an earlier or the same column (only in a cyclic draft) loops below the nodes.
    const bend = x2 > x1 ? (x2 - x1) / 2 : 60;
    return {
      ...edge,
      path: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
      labelX: (x1 + x2) / 2,
      labelY: (y1 + y2) / 2 - 6,
    };
  });

  const columnsUsed = Math.max(1, columns.length);
  return {
    width: MARGIN * 2 + columnsUsed * NODE_WIDTH + (columnsUsed - 1) * COLUMN_GAP,
    height,
    nodes: graph.nodes.map((n) => placed.get(n.id)!),
    edges,
  };
}
