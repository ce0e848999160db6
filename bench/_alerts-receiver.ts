// The alerts benchmark's side of its receiver thread (bench/_alerts-receiver-thread.ts).
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Receipt, ReceiverAnswer, ReceiverCommand } from './_alerts-receiver-thread.ts';

export type { Receipt } from './_alerts-receiver-thread.ts';

/** A loopback webhook receiver in a thread: every request answered 200 and stamped on arrival. */
export class AlertReceiver {
  /** Base URL: `http://127.0.0.1:<port>`; any path is accepted. */
  readonly url: string;
  readonly #thread: Worker;
  readonly #waiting = new Map<number, (answer: ReceiverAnswer) => void>();
  #seq = 0;

  private constructor(thread: Worker, port: number) {
    this.#thread = thread;
    this.url = `http://127.0.0.1:${port}`;
    thread.on('message', (answer: ReceiverAnswer) => {
      if (!('seq' in answer)) return;
      this.#waiting.get(answer.seq)?.(answer);
      this.#waiting.delete(answer.seq);
    });
  }

  /** Starts the thread and waits for its server to listen. */
  static async start(): Promise<AlertReceiver> {
    const thread = new Worker(new URL('./_alerts-receiver-thread.ts', import.meta.url));
    const [answer] = (await once(thread, 'message')) as [ReceiverAnswer];
    if (answer.type !== 'listening') throw new Error('the receiver thread did not start');
    return new AlertReceiver(thread, answer.port);
  }

  /** Requests received since the thread started. */
  async count(): Promise<number> {
    const answer = await this.#ask({ type: 'count' });
    return answer.type === 'count' ? answer.count : 0;
  }

  /** The requests received since the previous collect, in arrival order. */
  async collect(): Promise<Receipt[]> {
    const answer = await this.#ask({ type: 'collect' });
    return answer.type === 'collect' ? answer.receipts : [];
  }

  /** Waits until `total` requests have arrived since the start; false at the deadline. */
  async waitFor(total: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.count()) >= total) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return (await this.count()) >= total;
  }

  /** Closes the server and ends the thread. */
  async close(): Promise<void> {
    await this.#ask({ type: 'close' });
    await this.#thread.terminate();
  }

  #ask(command: ReceiverCommand): Promise<ReceiverAnswer> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      this.#waiting.set(seq, resolve);
      this.#thread.postMessage({ ...command, seq });
    });
  }
}
