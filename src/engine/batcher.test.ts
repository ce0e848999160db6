import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

/** A write whose completion the test controls, recording each batch it was given. */
function controlledWrite<T>() {
  const batches: T[][] = [];
  const releases: Array<() => void> = [];
  const write = (items: T[]) => {
    batches.push(items);
    return new Promise<string[]>((resolve) => {
      releases.push(() => resolve(items.map((i) => `done:${String(i)}`)));
    });
  };
  return { batches, releases, write };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends a lone item at once and gathers items that arrive during a write', async () => {
    const w = controlledWrite<number>();
    const batcher = new Batcher({ write: w.write, maxInFlight: 1 });
    const first = batcher.add(1);
    expect(w.batches).toEqual([[1]]);
    const rest = [2, 3, 4].map((n) => batcher.add(n));
    await tick();
    expect(w.batches).toEqual([[1]]);
    w.releases[0]!();
    expect(await first).toBe('done:1');
    await tick();
    expect(w.batches).toEqual([[1], [2, 3, 4]]);
    w.releases[1]!();
    expect(await Promise.all(rest)).toEqual(['done:2', 'done:3', 'done:4']);
  });

  it('caps the batch size', async () => {
    const w = controlledWrite<number>();
    const batcher = new Batcher({ write: w.write, maxInFlight: 1, maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((n) => batcher.add(n));
    for (let i = 0; i < 3; i++) {
      await tick();
      w.releases[i]!();
    }
    await Promise.all(all);
    expect(w.batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('keeps one item per key per batch and never a key in two batches at once', async () => {
    const w = controlledWrite<string>();
    const batcher = new Batcher({ write: w.write, key: (s) => s[0]!, maxInFlight: 2 });
    const all = ['a1', 'a2', 'b1', 'a3', 'c1'].map((s) => batcher.add(s));
    // Two batches fly; a2 and a3 wait for a1's batch even while there is room.
    expect(w.batches).toEqual([['a1'], ['b1']]);
    w.releases[1]!();
    await tick();
    expect(w.batches[2]).toEqual(['c1']);
    w.releases[0]!();
    await tick();
    expect(w.batches[3]).toEqual(['a2']);
    w.releases[2]!();
    w.releases[3]!();
    await tick();
    expect(w.batches[4]).toEqual(['a3']);
    w.releases[4]!();
    expect(await Promise.all(all)).toEqual(['done:a1', 'done:a2', 'done:b1', 'done:a3', 'done:c1']);
  });

  it('rejects every item of a batch whose write failed, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>({
      maxInFlight: 1,
      write: async (items) => {
        calls++;
        if (calls === 1) throw new Error('database down');
        return items.map((i) => i * 10);
      },
    });
    const failed = [batcher.add(1)];
    const later = batcher.add(2);
    await expect(failed[0]).rejects.toThrow('database down');
    expect(await later).toBe(20);
  });
});
