interface Pending<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Groups concurrent requests into batches for one round trip and one commit each: items that
 * arrive while a batch is being written wait for the next. At rest an item goes alone and at
 * once; under load the batches grow by themselves, with no timer adding latency.
 *
 * With `key`, a batch holds at most one item per key and a key is never in two batches in
 * flight at once, so the items of one key are written one after the other, in order.
 */
export class Batcher<In, Out> {
  readonly #write: (items: In[]) => Promise<Out[]>;
  readonly #key: ((item: In) => string) | undefined;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Array<Pending<In, Out>> = [];
  #inFlight = 0;
  readonly #busyKeys = new Set<string>();

  constructor(options: {
    /** Writes a batch; answers one result per item, in order. */
    write: (items: In[]) => Promise<Out[]>;
    key?: (item: In) => string;
    maxBatch?: number;
    maxInFlight?: number;
  }) {
    this.#write = options.write;
    this.#key = options.key;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#maxInFlight = options.maxInFlight ?? 2;
  }

  /** Adds an item; resolves with its result once its batch committed. */
  add(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) return; // every pending item waits for a key in flight
      const keys = this.#key ? batch.map((p) => this.#key!(p.item)) : [];
      this.#inFlight++;
      this.#write(batch.map((p) => p.item))
        .then(
          (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
          (error: unknown) => batch.forEach((p) => p.reject(error)),
        )
        .finally(() => {
          this.#inFlight--;
          for (const key of keys) this.#busyKeys.delete(key);
          this.#pump();
        });
    }
  }

  #take(): Array<Pending<In, Out>> {
    if (!this.#key) return this.#pending.splice(0, this.#maxBatch);
    const batch: Array<Pending<In, Out>> = [];
    const rest: Array<Pending<In, Out>> = [];
    for (const p of this.#pending) {
      const key = this.#key(p.item);
      if (batch.length < this.#maxBatch && !this.#busyKeys.has(key)) {
        this.#busyKeys.add(key);
        batch.push(p);
      } else {
        rest.push(p);
      }
    }
    this.#pending = rest;
    return batch;
  }
}
