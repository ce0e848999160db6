// The log-stream benchmark's subscribers: who follows what, and the worker threads that hold
// their connections (on two cores one thread cannot read 10,000 sockets at full rate).
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { LogLevel } from '../src/core/definition.ts';
import { Q_WORD, type LogFixture } from './_log-fixture.ts';
import type { ThreadCollect, ThreadCommand } from './_subscriber-thread.ts';

/** One subscriber: the request it sends and what it should therefore receive. */
export interface SubscriberSpec {
  path: string;
  key: string;
  kind: 'run' | 'tail';
  /** The filter in words, for the report: `run`, `tail level=warn`, … */
  label: string;
  runId?: string;
  workflowId?: string;
  level?: LogLevel;
  q?: string;
}

/**
 * Most subscribers follow one run each (several per run, one in ten with `level=info`); `tails`
 * are project-wide: one unfiltered, a tenth `workflow=` of the smaller workflow, the rest split
 * between `level=warn` and `q=<word in ~3% of lines>`. Keys rotate so claims vary.
 */
export function planSubscribers(options: {
  count: number;
  tails: number;
  fixture: LogFixture;
}): SubscriberSpec[] {
  const { count, fixture } = options;
  const tails = Math.min(options.tails, count);
  const key = (i: number) => fixture.keys[i % fixture.keys.length]!;
  const specs: SubscriberSpec[] = [];
  const workflowTails = Math.max(1, Math.round(tails * 0.1));
  const qTails = Math.ceil((tails - 1 - workflowTails) / 2);
  for (let t = 0; t < tails; t++) {
    const k = key(t);
    if (t === 0) {
      specs.push({ path: '/api/logs/stream', key: k, kind: 'tail', label: 'tail (all lines)' });
    } else if (t <= workflowTails) {
      const workflowId = fixture.workflowIds[1];
      specs.push({
        path: `/api/logs/stream?workflow=${workflowId}`,
        key: k,
        kind: 'tail',
        label: 'tail workflow=',
        workflowId,
      });
    } else if (t <= workflowTails + qTails) {
      specs.push({
        path: `/api/logs/stream?q=${Q_WORD}`,
        key: k,
        kind: 'tail',
        label: `tail q=${Q_WORD}`,
        q: Q_WORD,
      });
    } else {
      specs.push({
        path: '/api/logs/stream?level=warn',
        key: k,
        kind: 'tail',
        label: 'tail level=warn',
        level: 'warn',
      });
    }
  }
  for (let i = 0; specs.length < count; i++) {
    const run = fixture.runs[i % fixture.runs.length]!;
    const filtered = i % 10 === 9;
    specs.push({
      path: `/api/runs/${run.id}/logs/stream${filtered ? '?level=info' : ''}`,
      key: key(i),
      kind: 'run',
      label: filtered ? 'run level=info' : 'run',
      runId: run.id,
      ...(filtered ? { level: 'info' as const } : {}),
    });
  }
  return specs;
}

/** Counters per subscriber (in spec order) and every delivery, merged over the threads. */
export interface Collected extends Omit<ThreadCollect, 'utilisation'> {
  /** Event loop utilisation of each thread since the previous collect, 0–1. */
  utilisation: number[];
}

type Answer<T> = T & { seq: number };

/** Subscriber connections spread round-robin over worker threads. */
export class SubscriberThreads {
  readonly #threads: Worker[];
  #seq = 0;
  /** For each thread, the spec indexes it holds, in the order it opened them. */
  #held: number[][];
  #count = 0;

  private constructor(threads: Worker[]) {
    this.#threads = threads;
    this.#held = threads.map(() => []);
  }

  /** Starts `count` threads. */
  static async start(count: number): Promise<SubscriberThreads> {
    const threads = Array.from(
      { length: count },
      () => new Worker(new URL('./_subscriber-thread.ts', import.meta.url)),
    );
    await Promise.all(threads.map((t) => once(t, 'online')));
    return new SubscriberThreads(threads);
  }

  get threads(): number {
    return this.#threads.length;
  }

  /** Opens the subscribers, `concurrency` requests in flight per thread; returns the failures. */
  async open(options: {
    port: number;
    specs: SubscriberSpec[];
    concurrency: number;
  }): Promise<string[]> {
    const parts = this.#threads.map(() => [] as Array<{ path: string; key: string }>);
    options.specs.forEach((spec, i) => {
      const t = i % this.#threads.length;
      parts[t]!.push({ path: spec.path, key: spec.key });
      this.#held[t]!.push(this.#count + i);
    });
    this.#count += options.specs.length;
    const answers = await Promise.all(
      this.#threads.map((_, t) =>
        this.#ask<{ problems: string[] }>(t, {
          type: 'open',
          port: options.port,
          subscribers: parts[t]!,
          concurrency: options.concurrency,
        }),
      ),
    );
    return answers.flatMap((a) => a.problems);
  }

  /** Deliveries received so far and streams open, over all threads. */
  async total(): Promise<{ total: number; open: number }> {
    const answers = await Promise.all(
      this.#threads.map((_, t) => this.#ask<{ total: number; open: number }>(t, { type: 'total' })),
    );
    return {
      total: answers.reduce((a, b) => a + b.total, 0),
      open: answers.reduce((a, b) => a + b.open, 0),
    };
  }

  /** Every subscriber's counters and the deliveries since the previous collect. */
  async collect(): Promise<Collected> {
    const answers = await Promise.all(
      this.#threads.map((_, t) => this.#ask<ThreadCollect>(t, { type: 'collect' })),
    );
    const n = this.#count;
    const out: Collected = {
      count: new Float64Array(n),
      sum: new Float64Array(n),
      outOfOrder: new Float64Array(n),
      lagged: new Float64Array(n),
      reconnects: new Float64Array(n),
      errors: new Array<string>(n).fill(''),
      ids: new Float64Array(answers.reduce((a, b) => a + b.ids.length, 0)),
      times: new Float64Array(answers.reduce((a, b) => a + b.times.length, 0)),
      utilisation: answers.map((a) => a.utilisation),
    };
    let offset = 0;
    answers.forEach((answer, t) => {
      this.#held[t]!.forEach((specIndex, local) => {
        out.count[specIndex] = answer.count[local]!;
        out.sum[specIndex] = answer.sum[local]!;
        out.outOfOrder[specIndex] = answer.outOfOrder[local]!;
        out.lagged[specIndex] = answer.lagged[local]!;
        out.reconnects[specIndex] = answer.reconnects[local]!;
        out.errors[specIndex] = answer.errors[local]!;
      });
      out.ids.set(answer.ids, offset);
      out.times.set(answer.times, offset);
      offset += answer.ids.length;
    });
    return out;
  }

  /** Closes every connection; the threads then hold nothing but their counters. */
  async close(): Promise<void> {
    await Promise.all(this.#threads.map((_, t) => this.#ask(t, { type: 'close' })));
  }

  /** Stops the threads. */
  async terminate(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.terminate()));
  }

  #ask<T>(thread: number, request: ThreadCommand): Promise<Answer<T>> {
    const seq = ++this.#seq;
    const worker = this.#threads[thread]!;
    return new Promise((resolve, reject) => {
      const onMessage = (message: Answer<T>) => {
        if (message.seq !== seq) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(message);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage({ ...request, seq });
    });
  }
}
