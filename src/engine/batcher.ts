/**
 * Groups concurrent requests into batches for one round trip and one commit each: items that
 * arrive while a batch is being written wait for the next. At rest an item goes alone and at
 * once; under load the batches grow by themselves, with no timer adding latency.
 */
export class Batcher<In, Out> {
  readonly #write: (items: In[]) => Promise<Out[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #pending: Array<{ item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = [];
  #inFlight = 0;

  constructor(options: {
    /** Writes a batch; answers one result per item, in order. */
    write: (items: In[]) => Promise<Out[]>;
    maxBatch?: number;
    maxInFlight?: number;
  }) {
    this.#write = options.write;
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
      const batch = this.#pending.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#write(batch.map((p) => p.item))
        .then(
          (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
          (error: unknown) => batch.forEach((p) => p.reject(error)),
        )
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }
}
