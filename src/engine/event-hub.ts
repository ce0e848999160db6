import type pg from 'pg';
import { ERRORS_CHANNEL } from '../db/queries/error-events.ts';
import { RUNS_CHANNEL } from '../db/queries/settle-step.ts';
import { ACCESS_CHANNEL } from '../db/queries/run-logs.ts';
import { readFinishedRuns } from '../db/queries/runs.ts';
import type { Listener } from './listener.ts';
import type { ProcessLog } from './process-log.ts';
import { recheckAccess, type StreamAccess } from './stream-access.ts';

/** Runs of one workflow that finished since the previous event. */
export interface FinishedCounts {
  workflow_id: string;
  succeeded: number;
  failed: number;
  canceled: number;
}

/** What a project's event streams are told: runs finished, or errors captured. */
export type ProjectEvent =
  | { type: 'runs'; at: string; finished: FinishedCounts[] }
  | { type: 'errors'; at: string; project_id: string };

/** The kinds of events a stream asks for. */
export type ProjectEventType = ProjectEvent['type'];

/** Why an event stream ended. */
export type EventStreamEnd = { kind: 'revoked' } | { kind: 'interrupted' };

/** Where a stream's events go (the HTTP layer's SSE response). */
export interface EventSink {
  /** Bytes the client's buffer can still take (0 or less: full). */
  room(): number;
  send(event: ProjectEvent): void;
  heartbeat(): void;
  end(reason: EventStreamEnd): void;
}

interface Stream {
  access: StreamAccess;
  types: ReadonlySet<ProjectEventType>;
  sink: EventSink;
  wroteAt: number;
  closed: boolean;
}

// Dashboards refetch on an event: at most one event per project this often, with every run
// that finished meanwhile, so 600 runs a second cost a dashboard four refetches, not 600.
const MIN_EVENT_GAP_MS = 250;

/**
 * The live project events of one web process: the runs that finished, which is what the
 * metrics dashboard moves on, and the errors captured, which the errors page moves on. Fed by the notifications workers send after their commits,
 * on the process's one LISTEN connection; each batch of finished runs is read once, as the
 * service role, and each project's streams get one event with counts by workflow. Access is
 * decided again whenever it may have changed, as for log streams.
 *
 * A notification lost with a crashed process only delays a dashboard: the next event, or its
 * periodic refresh, brings it up to date, since the numbers come from the rollups, not from
 * the events.
 */
export class EventHub {
  readonly #pool: pg.Pool;
  readonly #listener: Listener;
  readonly #log: ProcessLog;
  readonly #heartbeatMs: number;
  readonly #recheckMs: number;
  readonly #byProject = new Map<string, Set<Stream>>();
  readonly #cleanups: Array<() => void> = [];
  #pending = new Set<string>();
  #erring = new Set<string>();
  #errorsTimer: ReturnType<typeof setTimeout> | undefined;
  #reading: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastReadAt = 0;
  #stopped = false;

  constructor(options: {
    pool: pg.Pool;
    listener: Listener;
    log: ProcessLog;
    heartbeatMs?: number;
    recheckMs?: number;
  }) {
    this.#pool = options.pool;
    this.#listener = options.listener;
    this.#log = options.log;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#recheckMs = options.recheckMs ?? 60_000;
  }

  start(): void {
    const l = this.#listener;
    this.#cleanups.push(
      l.on(RUNS_CHANNEL, (payload) => {
        if (this.#byProject.size === 0) return; // nobody is watching
        for (const id of payload.split(',')) if (id) this.#pending.add(id);
        this.#schedule();
      }),
      l.on(ERRORS_CHANNEL, (payload) => {
        for (const id of payload.split(',')) if (this.#byProject.has(id)) this.#erring.add(id);
        if (this.#erring.size > 0) this.#scheduleErrors();
      }),
      l.on(ACCESS_CHANNEL, (payload) => void this.#recheck(payload.split(','))),
      l.onConnect(() => void this.#recheck()),
    );
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.#cleanups.push(() => clearInterval(timer));
    };
    every(Math.min(1_000, this.#heartbeatMs / 2), () => {
      const quietSince = Date.now() - this.#heartbeatMs;
      for (const stream of this.#streams()) {
        if (stream.wroteAt > quietSince) continue;
        stream.sink.heartbeat();
        stream.wroteAt = Date.now();
      }
    });
    every(this.#recheckMs, () => void this.#recheck());
  }

  /** Open streams, for /metrics and tests. */
  get size(): number {
    let n = 0;
    for (const set of this.#byProject.values()) n += set.size;
    return n;
  }

  /**
   * Opens a stream of the project's events of the given types; access was decided by the
   * caller, under RLS.
   */
  open(
    access: StreamAccess,
    sink: EventSink,
    types: readonly ProjectEventType[] = ['runs'],
  ): { close(): void } {
    const stream: Stream = {
      access,
      types: new Set(types),
      sink,
      wroteAt: Date.now(),
      closed: false,
    };
    let set = this.#byProject.get(access.projectId);
    if (!set) this.#byProject.set(access.projectId, (set = new Set()));
    set.add(stream);
    return { close: () => this.#remove(stream) };
  }

  /** Ends every stream (clients reconnect elsewhere) and stops listening. */
  stop(): void {
    this.#stopped = true;
    for (const cleanup of this.#cleanups) cleanup();
    clearTimeout(this.#timer);
    clearTimeout(this.#errorsTimer);
    for (const stream of [...this.#streams()]) this.#end(stream, { kind: 'interrupted' });
  }

  *#streams(): Iterable<Stream> {
    for (const set of this.#byProject.values()) yield* set;
  }

  #schedule(): void {
    if (this.#reading || this.#timer || this.#stopped) return;
    const wait = Math.max(0, this.#lastReadAt + MIN_EVENT_GAP_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reading = this.#read()
        .catch((error: unknown) => {
          this.#log.warn('reading finished runs failed', { error: String(error) });
        })
        .finally(() => {
          this.#reading = undefined;
          if (this.#pending.size > 0) this.#schedule();
        });
    }, wait);
  }

  async #read(): Promise<void> {
    const ids = [...this.#pending];
    this.#pending = new Set();
    this.#lastReadAt = Date.now();
    const runs = await readFinishedRuns(this.#pool, ids);
    const byProject = new Map<string, Map<string, FinishedCounts>>();
    for (const run of runs) {
      if (!this.#byProject.has(run.projectId)) continue;
      let workflows = byProject.get(run.projectId);
      if (!workflows) byProject.set(run.projectId, (workflows = new Map()));
      let counts = workflows.get(run.workflowId);
      if (!counts) {
        counts = { workflow_id: run.workflowId, succeeded: 0, failed: 0, canceled: 0 };
        workflows.set(run.workflowId, counts);
      }
      counts[run.status]++;
    }
    const at = new Date().toISOString();
    for (const [projectId, workflows] of byProject) {
      this.#deliver(projectId, { type: 'runs', at, finished: [...workflows.values()] });
    }
  }

  // Errors carry no payload to read: the page refetches its issues and counts, so one event
  // per project per gap says all there is.
  #scheduleErrors(): void {
    if (this.#errorsTimer || this.#stopped) return;
    this.#errorsTimer = setTimeout(() => {
      this.#errorsTimer = undefined;
      const projects = this.#erring;
      this.#erring = new Set();
      const at = new Date().toISOString();
      for (const projectId of projects) {
        this.#deliver(projectId, { type: 'errors', at, project_id: projectId });
      }
    }, MIN_EVENT_GAP_MS);
  }

  #deliver(projectId: string, event: ProjectEvent): void {
    for (const stream of [...(this.#byProject.get(projectId) ?? [])]) {
      if (!stream.types.has(event.type)) continue;
      // A client that stopped reading gets no more; it reconnects and refetches.
      if (stream.sink.room() <= 0) {
        this.#end(stream, { kind: 'interrupted' });
        continue;
      }
      stream.sink.send(event);
      stream.wroteAt = Date.now();
    }
  }

  async #recheck(identities?: string[]): Promise<void> {
    await recheckAccess(this.#streams(), (stream) => stream.access, {
      ...(identities ? { identities } : {}),
      revoke: (stream) => this.#end(stream, { kind: 'revoked' }),
      log: this.#log,
      what: 'event stream',
    });
  }

  #end(stream: Stream, reason: EventStreamEnd): void {
    if (stream.closed) return;
    this.#remove(stream);
    stream.sink.end(reason);
  }

  #remove(stream: Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    const set = this.#byProject.get(stream.access.projectId);
    set?.delete(stream);
    if (set?.size === 0) this.#byProject.delete(stream.access.projectId);
  }
}
