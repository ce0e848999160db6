import type pg from 'pg';
import { compileLogFilter, LoweredMessage, type LogFilter } from '../core/log-filter.ts';
import { LogHorizon } from '../core/log-horizon.ts';
import { withTenant } from '../db/client.ts';
import {
  ACCESS_CHANNEL,
  findFinishedRuns,
  listRunLogs,
  LOGS_CHANNEL,
  readLogHorizon,
  readNewRunLogs,
  tailRunLogs,
  type RunLog,
} from '../db/queries/run-logs.ts';
import { RUNS_CHANNEL } from '../db/queries/settle-step.ts';
import type { Listener } from './listener.ts';
import type { ProcessLog } from './process-log.ts';
import { recheckAccess, type StreamAccess } from './stream-access.ts';

/** A line on its way out, encoded once for every stream that gets it. */
export interface OutgoingLine {
  log: RunLog;
  bytes: Uint8Array;
}

/** Why a stream ended. */
export type StreamEnd =
  | { kind: 'finished'; runId: string; status: string }
  /** The client read too slowly; it resumes after lastId. */
  | { kind: 'lagged'; lastId: string }
  | { kind: 'revoked' }
  /** A read failed or the process is stopping: the client should simply reconnect. */
  | { kind: 'interrupted' };

/** Where a stream's events go (the HTTP layer's SSE response). */
export interface LogSink {
  /** Bytes the client's buffer can still take (0 or less: full). */
  room(): number;
  write(lines: readonly OutgoingLine[]): void;
  heartbeat(): void;
  /** Resolves once the client's buffer has drained enough for another backlog page. */
  drained(): Promise<void>;
  /** Sends the closing event (if any) and closes. */
  end(reason: StreamEnd): void;
}

/** What a stream reads, and on whose behalf. */
export interface StreamRequest extends StreamAccess {
  filter: LogFilter;
  /** A run's stream: ends with its run, once all its lines were sent. */
  endWithRun?: boolean;
  /** Resume after this id (Last-Event-ID or ?after=). */
  afterId?: string;
  /** Without afterId: start with only the last `tail` matching lines (project tails). */
  tail?: number;
}

/** An open stream, for its HTTP handler to close when the client leaves. */
export interface StreamHandle {
  close(): void;
}

interface Stream {
  request: StreamRequest;
  sink: LogSink;
  matches: ReturnType<typeof compileLogFilter>;
  /** Fed by the hub's fan-out once its backlog caught up. */
  live: boolean;
  /** Live lines up to this id were already covered by the backlog. */
  floor: bigint;
  lastSent: string;
  /** When the stream last sent anything (Date.now()), for heartbeats. */
  wroteAt: number;
  /** Set once the run is final: the stream ends when it is past this id. */
  endAt?: { id: bigint; status: string };
  batch: OutgoingLine[];
  closed: boolean;
}

const HUB_PAGE = 2_000;
// Under load, fan-outs at most every 10 ms: each then carries more lines per stream and the hub
// reads the horizon less often (10,000 streams at 10,000 lines/s: 35,700 → 41,800 deliveries/s).
const MIN_TICK_GAP_MS = 10;
const BACKLOG_PAGE = 500;

/**
 * The live-log fan-out of one web process. One LISTEN connection (the process's Listener)
 * wakes it when a batch of lines commits; it then reads the new lines once, as the service
 * role, up to the final horizon (src/core/log-horizon.ts), and hands each line to every open
 * stream that matches it, encoded once. A stream first reads its backlog under the caller's
 * claims, so RLS decides what it may see, and joins the fan-out when it has caught up.
 *
 * Measured (npm run bench -- log-stream, docs/benchmarks.md): reading each batch once and
 * fanning out in memory lets one process feed 10,000 streams 35,000–55,000 lines a second,
 * where one authorised query per stream per line gets 1,000 streams two lines a second.
 */
export class LogHub {
  readonly #pool: pg.Pool;
  readonly #listener: Listener;
  readonly #log: ProcessLog;
  readonly #encode: (log: RunLog) => Uint8Array;
  readonly #heartbeatMs: number;
  readonly #recheckMs: number;
  readonly #streams = new Set<Stream>();
  readonly #byRun = new Map<string, Set<Stream>>();
  readonly #byProject = new Map<string, Set<Stream>>();
  /** Run streams whose run is final, waiting for the fan-out to pass its last line. */
  readonly #ending = new Set<Stream>();
  readonly #cleanups: Array<() => void> = [];
  #liveCount = 0;
  #laggedCount = 0;
  #horizon = new LogHorizon(0n);
  /** Every id up to here was read and fanned out (or skipped while no stream was live). */
  #delivered = 0n;
  #ready: Promise<void>;
  #markReady: () => void = () => {};
  #isReady = false;
  #ticking: Promise<void> | undefined;
  #tickAgain = false;
  #followUp: ReturnType<typeof setTimeout> | undefined;
  #followUpMs = 2;
  #stopped = false;

  constructor(options: {
    pool: pg.Pool;
    listener: Listener;
    log: ProcessLog;
    /** Encodes one line as its stream event (SSE frame). */
    encode: (log: RunLog) => Uint8Array;
    heartbeatMs?: number;
    /** How often every open stream's access is decided again, besides on change. */
    recheckMs?: number;
  }) {
    this.#pool = options.pool;
    this.#listener = options.listener;
    this.#log = options.log;
    this.#encode = options.encode;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#recheckMs = options.recheckMs ?? 60_000;
    this.#ready = new Promise((resolve) => (this.#markReady = resolve));
  }

  /** Subscribes to the notifications and finds the first horizon. */
  start(): void {
    const l = this.#listener;
    this.#cleanups.push(
      // Without streams there is nothing to fan out: the horizon is read when one opens.
      l.on(LOGS_CHANNEL, () => this.#streams.size > 0 && this.#tick()),
      l.on(RUNS_CHANNEL, (payload) => void this.#checkRuns(payload.split(','))),
      l.on(ACCESS_CHANNEL, (payload) => void this.#recheck(payload.split(','))),
      // Notifications sent while the connection was down are lost: catch up on everything.
      l.onConnect(() => {
        this.#tick();
        void this.#checkRuns([...this.#byRun.keys()]);
        void this.#recheck();
      }),
    );
    const every = (ms: number, fn: () => void) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.#cleanups.push(() => clearInterval(timer));
    };
    // A stream gets a heartbeat once it has been quiet for the interval, so the heartbeats of
    // many streams spread over time instead of all leaving at once (10,000 writes in one go
    // held the event loop for half a second), and a busy stream needs none.
    every(Math.min(1_000, this.#heartbeatMs / 2), () => {
      const quietSince = Date.now() - this.#heartbeatMs;
      for (const stream of this.#streams) {
        if (stream.wroteAt > quietSince || stream.sink.room() <= 0) continue;
        stream.sink.heartbeat();
        stream.wroteAt = Date.now();
      }
    });
    // Safety nets: an announcement dies with a process that crashes between commit and notify,
    // and the first horizon is retried until the database answers.
    every(1_000, () => (this.#streams.size > 0 || !this.#isReady) && this.#tick());
    every(5_000, () => void this.#checkRuns([...this.#byRun.keys()]));
    every(this.#recheckMs, () => void this.#recheck());
    this.#tick();
  }

  /** Open streams, for /metrics and tests. */
  get size(): number {
    return this.#streams.size;
  }

  /** Streams ended as lagged since the hub started, for /metrics and tests. */
  get lagged(): number {
    return this.#laggedCount;
  }

  /** Every id up to this one has been fanned out. */
  get delivered(): string {
    return this.#delivered.toString();
  }

  /** Opens a stream: its backlog first, then live lines, in id order. */
  async open(request: StreamRequest, sink: LogSink): Promise<StreamHandle> {
    await this.#ready;
    // The first stream after a quiet spell starts from a fresh horizon, not from where the hub
    // stopped looking, so the hub never reads the lines nobody was watching.
    if (this.#streams.size === 0) await this.#caughtUp();
    const stream: Stream = {
      request,
      sink,
      matches: compileLogFilter(request.filter),
      live: false,
      floor: 0n,
      lastSent: request.afterId ?? '0',
      wroteAt: Date.now(),
      batch: [],
      closed: false,
    };
    this.#streams.add(stream);
    const [index, key] =
      request.filter.runId !== undefined
        ? [this.#byRun, request.filter.runId]
        : [this.#byProject, request.projectId];
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(stream);
    void this.#catchUp(stream).catch((error: unknown) => {
      this.#log.warn('log stream backlog read failed', { error: String(error) });
      this.#end(stream, { kind: 'interrupted' });
    });
    return { close: () => this.#remove(stream) };
  }

  /** Ends every stream (clients reconnect elsewhere) and stops listening. */
  stop(): void {
    this.#stopped = true;
    for (const cleanup of this.#cleanups) cleanup();
    clearTimeout(this.#followUp);
    for (const stream of [...this.#streams]) this.#end(stream, { kind: 'interrupted' });
  }

  /** Reads the backlog under the caller's claims, page by page, until it meets the fan-out. */
  async #catchUp(stream: Stream): Promise<void> {
    const { request, sink } = stream;
    const read = { ...request.filter, projectId: request.projectId };
    let position = request.afterId === undefined ? 0n : BigInt(request.afterId);
    if (request.afterId === undefined && request.tail !== undefined) {
      const upTo = this.#delivered;
      const lines = await withTenant(this.#pool, request.claims, (db) =>
        tailRunLogs(db, { ...read, upToId: upTo.toString(), limit: request.tail! }),
      );
      this.#sendBacklog(stream, lines);
      position = upTo;
    }
    for (;;) {
      if (stream.closed) return;
      const upTo = this.#delivered;
      if (position >= upTo) {
        // Nothing can slip in between: the fan-out only runs between awaits.
        stream.floor = position;
        stream.live = true;
        this.#liveCount++;
        this.#endIfDone(stream);
        return;
      }
      await sink.drained();
      const { finished, lines } = await withTenant(this.#pool, request.claims, async (db) => {
        // The run's status first: a run's final status commits with its last lines.
        const runId = request.filter.runId;
        const finished =
          request.endWithRun && runId
            ? (await findFinishedRuns(db, [runId])).get(runId)
            : undefined;
        const lines = await listRunLogs(db, {
          ...read,
          afterId: position.toString(),
          upToId: upTo.toString(),
          limit: BACKLOG_PAGE,
        });
        return { finished, lines };
      });
      if (stream.closed) return;
      if (finished) stream.endAt = { id: BigInt(finished.lastLogId), status: finished.status };
      this.#sendBacklog(stream, lines);
      position = lines.length === BACKLOG_PAGE ? BigInt(lines.at(-1)!.id) : upTo;
    }
  }

  #sendBacklog(stream: Stream, lines: RunLog[]): void {
    if (lines.length === 0 || stream.closed) return;
    stream.sink.write(lines.map((log) => ({ log, bytes: this.#encode(log) })));
    stream.lastSent = lines.at(-1)!.id;
    stream.wroteAt = Date.now();
  }

  /** Reads the horizon now and resolves once the hub has moved up to it. */
  async #caughtUp(): Promise<void> {
    this.#tick();
    while (this.#ticking) await this.#ticking;
  }

  /** Coalesces wake-ups: one horizon reading at a time, and one more if any came meanwhile. */
  #tick(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#tickAgain = true;
      return;
    }
    clearTimeout(this.#followUp);
    const started = Date.now();
    this.#ticking = this.#advance()
      .catch((error: unknown) => {
        this.#log.warn('reading new log lines failed', { error: String(error) });
      })
      .finally(() => {
        this.#ticking = undefined;
        if (this.#tickAgain) {
          this.#tickAgain = false;
          const gap = started + MIN_TICK_GAP_MS - Date.now();
          if (gap <= 0) this.#tick();
          else this.#followUp = setTimeout(() => this.#tick(), gap);
        } else if (this.#horizon.waiting && !this.#stopped) {
          // Lines are committed but other transactions may still hold lower ids: look again
          // soon, backing off while nothing else wakes us.
          this.#followUp = setTimeout(() => this.#tick(), this.#followUpMs);
          this.#followUpMs = Math.min(this.#followUpMs * 2, 200);
        }
      });
  }

  async #advance(): Promise<void> {
    const reading = await readLogHorizon(this.#pool);
    const final = this.#horizon.observe(reading.high, reading.running);
    if (!this.#horizon.waiting) this.#followUpMs = 2;
    if (!this.#isReady) {
      if (this.#horizon.waiting) return;
      // Nothing is read from before the hub started: streams catch up on that from the table.
      this.#delivered = final;
      this.#isReady = true;
      this.#markReady();
      return;
    }
    while (this.#delivered < final) {
      if (this.#liveCount === 0) {
        this.#delivered = final;
        break;
      }
      const lines = await readNewRunLogs(this.#pool, {
        afterId: this.#delivered.toString(),
        upToId: final.toString(),
        limit: HUB_PAGE,
      });
      const upTo = lines.length === HUB_PAGE ? BigInt(lines.at(-1)!.id) : final;
      this.#fanOut(lines);
      this.#delivered = upTo;
      for (const stream of this.#ending) this.#endIfDone(stream);
    }
  }

  /** Hands each line to the live streams it matches, one write per stream per batch. */
  #fanOut(lines: RunLog[]): void {
    const now = Date.now();
    const touched = new Set<Stream>();
    const lowered = new LoweredMessage();
    for (const log of lines) {
      const id = BigInt(log.id);
      let out: OutgoingLine | undefined;
      for (const set of [this.#byRun.get(log.runId), this.#byProject.get(log.projectId)]) {
        if (!set) continue;
        for (const stream of set) {
          if (!stream.live || id <= stream.floor) continue;
          if (stream.request.projectId !== log.projectId || !stream.matches(log, lowered)) continue;
          stream.batch.push((out ??= { log, bytes: this.#encode(log) }));
          touched.add(stream);
        }
      }
    }
    for (const stream of touched) {
      const batch = stream.batch;
      stream.batch = [];
      // A client with a full buffer lags. One that has room takes the whole batch, even past
      // the buffer, so a burst does not cut off readers that keep up; a stream holds at most
      // its buffer plus one hub page.
      if (stream.sink.room() <= 0) {
        this.#laggedCount++;
        this.#end(stream, { kind: 'lagged', lastId: stream.lastSent });
        continue;
      }
      stream.sink.write(batch);
      stream.lastSent = batch.at(-1)!.log.id;
      stream.wroteAt = now;
    }
  }

  /** Notes which runs ended, so their streams can end once their last lines went out. */
  async #checkRuns(runIds: string[]): Promise<void> {
    const watched = runIds.filter((id) => this.#byRun.has(id));
    if (watched.length === 0) return;
    try {
      const finished = await findFinishedRuns(this.#pool, watched);
      for (const [runId, end] of finished) {
        for (const stream of this.#byRun.get(runId) ?? []) {
          if (!stream.request.endWithRun || stream.endAt) continue;
          stream.endAt = { id: BigInt(end.lastLogId), status: end.status };
          this.#ending.add(stream);
          this.#endIfDone(stream);
        }
      }
      // The run's last lines may be committed but not yet announced or final: look.
      if (finished.size > 0) this.#tick();
    } catch (error) {
      this.#log.warn('reading run statuses for log streams failed', { error: String(error) });
    }
  }

  #endIfDone(stream: Stream): void {
    if (!stream.live || !stream.endAt || stream.closed) return;
    const position = stream.floor > this.#delivered ? stream.floor : this.#delivered;
    if (position < stream.endAt.id) {
      this.#ending.add(stream);
      return;
    }
    const runId = stream.request.filter.runId!;
    this.#end(stream, { kind: 'finished', runId, status: stream.endAt.status });
  }

  /** Decides access again for the streams of the given identities, or all of them. */
  async #recheck(identities?: string[]): Promise<void> {
    await recheckAccess(this.#streams, (stream) => stream.request, {
      ...(identities ? { identities } : {}),
      revoke: (stream) => this.#end(stream, { kind: 'revoked' }),
      log: this.#log,
      what: 'log stream',
    });
  }

  #end(stream: Stream, reason: StreamEnd): void {
    if (stream.closed) return;
    this.#remove(stream);
    stream.sink.end(reason);
  }

  #remove(stream: Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    if (stream.live) this.#liveCount--;
    this.#streams.delete(stream);
    this.#ending.delete(stream);
    const { runId } = stream.request.filter;
    const [index, key] =
      runId !== undefined ? [this.#byRun, runId] : [this.#byProject, stream.request.projectId];
    const set = index.get(key);
    set?.delete(stream);
    if (set?.size === 0) index.delete(key);
  }
}
