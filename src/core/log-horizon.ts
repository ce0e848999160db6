// Which log ids a stream may deliver. Ids are drawn while transactions run, so they can commit
// out of order: id 11 may be visible while id 10 is still in flight. Delivering 11 first would
// make a resume from 11 skip 10 forever. The horizon tracker answers the highest id below which
// nothing can still appear.
//
// A reading pairs the id sequence's high mark with the transactions of the database running
// at that moment (read after the mark). Every transaction that drew an id up to the mark had an
// xid before it drew (next_run_log_id() makes sure), so it is either finished or in that list;
// once all of them have finished, every id up to the mark is final. (A snapshot's in-progress
// list would not do: it leaves out running xids at or above its xmax.)

/**
 * Folds readings into the final horizon. Readings must be observed in the order they were
 * taken; `observe` answers the highest id known final so far.
 * @example
 * const horizon = new LogHorizon(0n);
 * horizon.observe(42n, new Set([101n, 103n])); // 0n: 101 and 103 may hold ids up to 42
 * horizon.observe(50n, new Set([104n]));        // 42n: 101 and 103 have ended
 */
export class LogHorizon {
  #final: bigint;
  /** Marks not yet final, oldest first, each with the transactions it waits for. */
  #waiting: Array<{ high: bigint; xids: bigint[] }> = [];

  constructor(final: bigint) {
    this.#final = final;
  }

  /** The highest id below which every id is final. */
  get final(): bigint {
    return this.#final;
  }

  /** Whether a mark is still waiting for transactions to end. */
  get waiting(): boolean {
    return this.#waiting.length > 0;
  }

  /**
   * Adds a reading: the sequence's high mark, then the xids of the transactions running after
   * it was read. Answers the final horizon.
   */
  observe(high: bigint, running: ReadonlySet<bigint>): bigint {
    // A transaction still running now was running at every earlier reading that listed it, so
    // marks become final in order: stop at the first one that still waits.
    while (this.#waiting.length > 0) {
      const oldest = this.#waiting[0]!;
      if (oldest.xids.some((xid) => running.has(xid))) break;
      this.#raise(oldest.high);
      this.#waiting.shift();
    }
    if (high > this.#final && !this.#waiting.some((w) => w.high >= high)) {
      if (running.size === 0) this.#raise(high);
      else this.#waiting.push({ high, xids: [...running] });
    }
    return this.#final;
  }

  #raise(high: bigint): void {
    if (high > this.#final) this.#final = high;
  }
}
