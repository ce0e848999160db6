import type { Definition, Edge } from './definition.ts';

/** Statuses of a step; a step row exists once the step was scheduled or skipped. */
export type StepStatus =
  'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'canceled';

/** Statuses of a run. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

const FINAL_STEP: ReadonlySet<StepStatus> = new Set(['succeeded', 'failed', 'skipped', 'canceled']);
const FINAL_RUN: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'canceled']);

/** Whether a run status is final. */
export const isFinalRun = (status: RunStatus): boolean => FINAL_RUN.has(status);

/** What the planner needs to know of a step. */
export interface StepState {
  status: StepStatus;
  output?: unknown;
}

/** What to do after a step settled. */
export interface RunPlan {
  /** Nodes whose predecessors have all settled with at least one edge taken. */
  ready: string[];
  /** Nodes none of whose incoming edges can be taken any more (dead-path elimination). */
  skipped: string[];
  /** Set when nothing is left to run. */
  finished?: 'succeeded';
}

/**
 * Decides which nodes become runnable once the given steps are in the given states. A node runs
 * when every predecessor has settled and at least one incoming edge was taken; when none can be
 * taken it is skipped, which may in turn settle its successors. Pure, so the same plan is made
 * on replay.
 */
export function planRun(definition: Definition, steps: ReadonlyMap<string, StepState>): RunPlan {
  const incoming = new Map<string, Edge[]>();
  for (const edge of definition.edges) {
    incoming.set(edge.to, [...(incoming.get(edge.to) ?? []), edge]);
  }
  const state = new Map(steps);
  const ready: string[] = [];
  const skipped: string[] = [];

  let changed = true;
  while (changed) {
    changed = false;
    for (const node of definition.nodes) {
      if (state.has(node.id)) continue;
      const edges = incoming.get(node.id) ?? [];
      if (edges.length === 0) continue; // the trigger: scheduled at intake
      const froms = edges.map((e) => state.get(e.from));
      if (froms.some((s) => s === undefined || !FINAL_STEP.has(s.status))) continue;
      const taken = edges.some((edge) => isTaken(edge, state.get(edge.from)!));
      if (taken) {
        ready.push(node.id);
        state.set(node.id, { status: 'queued' });
      } else {
        skipped.push(node.id);
        state.set(node.id, { status: 'skipped' });
        changed = true;
      }
    }
  }

  const pending = [...state.values()].some((s) => !FINAL_STEP.has(s.status));
  return pending ? { ready, skipped } : { ready, skipped, finished: 'succeeded' };
}

function isTaken(edge: Edge, from: StepState): boolean {
  if (from.status !== 'succeeded') return false;
  if (edge.when === undefined) return true;
  return String(isTruthy(from.output)) === edge.when;
}

/** JMESPath truthiness: false, null, '', [] and {} are false; everything else is true. */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
