import { z } from 'zod';
import { compileExpression, templateExpressions } from './expression.ts';
import { err, ok, type Result } from './result.ts';
import { SIGNATURE_SCHEMES, type SignatureScheme } from './verify-signature.ts';

/** The node types a definition may use. */
export const NODE_TYPES = [
  'webhook',
  'transform',
  'http_call',
  'branch',
  'delay',
  'log',
  'terminate',
] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;

const signatureSchema = z.strictObject({
  scheme: z.enum(SIGNATURE_SCHEMES as readonly [SignatureScheme, ...SignatureScheme[]]),
  secret: z.string().min(8, 'a signature secret needs at least 8 characters'),
  header: z.string().min(1).optional(),
  tolerance_s: z.number().int().min(1).max(86_400).optional(),
});

/** Config schema of each node type. Unknown keys are refused so typos surface at publish. */
export const nodeConfigSchemas = {
  webhook: z.strictObject({ signature: signatureSchema.optional() }),
  transform: z.strictObject({ expression: z.string().min(1) }),
  http_call: z.strictObject({
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .pipe(z.enum(HTTP_METHODS)),
    url: z.string().min(1),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
    timeout_ms: z.number().int().min(1).max(300_000).optional(),
    retry: z
      .strictObject({
        max_attempts: z.number().int().min(1).max(20).optional(),
        // backoffDelay caps any one wait at five minutes; a larger base would be silently cut.
        backoff_ms: z.number().int().min(0).max(300_000).optional(),
      })
      .optional(),
  }),
  branch: z.strictObject({ condition: z.string().min(1) }),
  delay: z.strictObject({ ms: z.number().int().min(0).max(MAX_DELAY_MS) }),
  log: z.strictObject({
    level: z.enum(LOG_LEVELS),
    message: z.string(),
    fields: z.record(z.string(), z.unknown()).optional(),
  }),
  terminate: z.strictObject({
    status: z.enum(['succeeded', 'failed']),
    message: z.string().optional(),
  }),
} satisfies Record<NodeType, z.ZodType>;

/** The validated config of each node type. */
export type NodeConfig<T extends NodeType> = z.output<(typeof nodeConfigSchemas)[T]>;

/** A node of a validated definition. */
export type DefinitionNode = {
  [T in NodeType]: { id: string; type: T; config: NodeConfig<T> };
}[NodeType];

/** An edge; `when` selects a branch node's outcome. */
export interface Edge {
  from: string;
  to: string;
  when?: 'true' | 'false';
}

/** A validated workflow definition. */
export interface Definition {
  nodes: DefinitionNode[];
  edges: Edge[];
}

/** One problem with a definition, pointing at the node or edge at fault. */
export interface DefinitionIssue {
  /** JSON path into the definition, e.g. `nodes[2].config.url`. */
  path: string;
  node_id?: string;
  message: string;
}

const shapeSchema = z.strictObject({
  nodes: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, {
          message: 'node ids are 1-64 letters, digits, _ or -, starting with a letter or _',
        }),
        type: z.string(),
        config: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .min(1)
    .max(500),
  edges: z
    .array(
      z.strictObject({
        from: z.string(),
        to: z.string(),
        when: z.enum(['true', 'false']).optional(),
      }),
    )
    .max(2000)
    .default([]),
});

/**
 * Checks a definition before it is stored or published: known node types, per-type config,
 * valid expressions, edges between existing nodes, one webhook trigger, no cycle, every node
 * reachable from the trigger, branch edges labelled. Every issue is reported, not only the first.
 */
export function validateDefinition(input: unknown): Result<Definition, DefinitionIssue[]> {
  const shape = shapeSchema.safeParse(input);
  if (!shape.success) return err(shape.error.issues.map((i) => zodIssue(i, input)));

  const issues: DefinitionIssue[] = [];
  const nodes: DefinitionNode[] = [];
  const seen = new Set<string>();
  shape.data.nodes.forEach((raw, index) => {
    const at = `nodes[${index}]`;
    if (seen.has(raw.id)) {
      issues.push({ path: `${at}.id`, node_id: raw.id, message: `duplicate node id "${raw.id}"` });
    }
    seen.add(raw.id);
    if (!(NODE_TYPES as readonly string[]).includes(raw.type)) {
      issues.push({
        path: `${at}.type`,
        node_id: raw.id,
        message: `unknown node type "${raw.type}"; expected one of ${NODE_TYPES.join(', ')}`,
      });
      return;
    }
    const type = raw.type as NodeType;
    const config = nodeConfigSchemas[type].safeParse(raw.config);
    if (!config.success) {
      for (const issue of config.error.issues) {
        const path = [`${at}.config`, ...issue.path.map(String)].join('.');
        issues.push({ path, node_id: raw.id, message: issue.message });
      }
      return;
    }
    issues.push(...expressionIssues(type, config.data, at, raw.id));
    nodes.push({ id: raw.id, type, config: config.data } as DefinitionNode);
  });

  const edges = shape.data.edges as Edge[];
  issues.push(...graphIssues(shape.data.nodes, edges));
  return issues.length > 0 ? err(issues) : ok({ nodes, edges });
}

function expressionIssues(
  type: NodeType,
  config: Record<string, unknown>,
  at: string,
  nodeId: string,
): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const check = (expression: string, path: string) => {
    const compiled = compileExpression(expression);
    if (!compiled.ok) {
      issues.push({
        path,
        node_id: nodeId,
        message: `invalid expression "${expression}": ${compiled.error}`,
      });
    }
  };
  // transform and branch hold a bare expression; every other string may hold {{ … }} templates.
  const bare = type === 'transform' ? 'expression' : type === 'branch' ? 'condition' : undefined;
  walkStrings(config, `${at}.config`, (text, path) => {
    if (bare && path === `${at}.config.${bare}`) check(text, path);
    else for (const expression of templateExpressions(text)) check(expression, path);
  });
  return issues;
}

function walkStrings(value: unknown, path: string, visit: (text: string, path: string) => void) {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${path}[${i}]`, visit));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walkStrings(v, `${path}.${k}`, visit);
  }
}

function graphIssues(nodes: Array<{ id: string; type: string }>, edges: Edge[]): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const triggers = nodes.filter((n) => n.type === 'webhook');
  if (triggers.length !== 1) {
    issues.push({
      path: 'nodes',
      message: `a definition needs exactly one node of type webhook, found ${triggers.length}`,
      ...(triggers[1] ? { node_id: triggers[1].id } : {}),
    });
  }

  const pairs = new Set<string>();
  edges.forEach((edge, index) => {
    const at = `edges[${index}]`;
    for (const end of ['from', 'to'] as const) {
      if (!byId.has(edge[end])) {
        issues.push({
          path: `${at}.${end}`,
          node_id: edge[end],
          message: `edge ${end} unknown node "${edge[end]}"`,
        });
      }
    }
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (!from || !to) return;
    if (edge.from === edge.to) {
      issues.push({ path: at, node_id: edge.from, message: 'a node cannot lead to itself' });
    }
    if (to.type === 'webhook') {
      issues.push({
        path: `${at}.to`,
        node_id: to.id,
        message: 'nothing can lead to the webhook trigger',
      });
    }
    if (from.type === 'terminate') {
      issues.push({
        path: `${at}.from`,
        node_id: from.id,
        message: 'a terminate node ends the run; it has no successors',
      });
    }
    if (from.type === 'branch' && edge.when === undefined) {
      issues.push({
        path: at,
        node_id: from.id,
        message: 'edges from a branch node need "when": "true" or "false"',
      });
    }
    if (from.type !== 'branch' && edge.when !== undefined) {
      issues.push({
        path: `${at}.when`,
        node_id: from.id,
        message: '"when" is only for edges from a branch node',
      });
    }
    const pair = `${edge.from}\u0000${edge.to}`;
    if (pairs.has(pair)) {
      issues.push({
        path: at,
        node_id: edge.from,
        message: `duplicate edge ${edge.from} → ${edge.to}`,
      });
    }
    pairs.add(pair);
  });
  if (issues.length > 0) return issues;

  const cycle = findCycle(nodes, edges);
  if (cycle) {
    issues.push({
      path: 'edges',
      node_id: cycle[0],
      message: `the graph has a cycle: ${cycle.join(' → ')}`,
    });
    return issues;
  }
  const trigger = triggers[0];
  if (trigger) {
    const reached = reachableFrom(trigger.id, edges);
    nodes.forEach((node, index) => {
      if (!reached.has(node.id)) {
        issues.push({
          path: `nodes[${index}]`,
          node_id: node.id,
          message: `node "${node.id}" cannot be reached from the webhook trigger`,
        });
      }
    });
  }
  return issues;
}

function successorsOf(edges: Edge[]): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  return next;
}

function reachableFrom(start: string, edges: Edge[]): Set<string> {
  const next = successorsOf(edges);
  const seen = new Set([start]);
  const stack = [start];
  while (stack.length > 0) {
    for (const to of next.get(stack.pop()!) ?? []) {
      if (!seen.has(to)) {
        seen.add(to);
        stack.push(to);
      }
    }
  }
  return seen;
}

function findCycle(nodes: Array<{ id: string }>, edges: Edge[]): string[] | undefined {
  const next = successorsOf(edges);
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    path.push(id);
    for (const to of next.get(id) ?? []) {
      if (state.get(to) === 'open') return [...path.slice(path.indexOf(to)), to];
      if (!state.has(to)) {
        const found = visit(to);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of nodes) {
    if (!state.has(node.id)) {
      const found = visit(node.id);
      if (found) return found;
    }
  }
  return undefined;
}

function zodIssue(issue: z.core.$ZodIssue, input: unknown): DefinitionIssue {
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  const nodeIndex =
    issue.path[0] === 'nodes' && typeof issue.path[1] === 'number' ? issue.path[1] : -1;
  const nodes = (input as { nodes?: Array<{ id?: unknown }> } | null)?.nodes;
  const id = nodeIndex >= 0 && Array.isArray(nodes) ? nodes[nodeIndex]?.id : undefined;
  return {
    path: path || '(root)',
    message: issue.message,
    ...(typeof id === 'string' ? { node_id: id } : {}),
  };
}

/** The trigger node of a validated definition. */
export function triggerNode(definition: Definition): DefinitionNode {
  const node = definition.nodes.find((n) => n.type === 'webhook');
  if (!node) throw new Error('definition has no webhook node; it was not validated');
  return node;
}
