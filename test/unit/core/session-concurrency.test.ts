/**
 * Sessions under concurrent batches of different shards (Lambda runs one
 * invocation per shard at once): both batches read the key's sessions, then
 * both write. Serializable per key means the outcome equals one batch after
 * the other: overlapping sessions of one key are ONE session, never two
 * items that fire separately (docs/semantics.md, "Sessions").
 */
import { describe, expect, it } from 'vitest';
import { InMemoryStateStore, json, pipeline, session, sum } from '../../../lib/index.ts';
import type { WindowWrite } from '../../../lib/ports/state-store.ts';
import { WindowOperatorHarness } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
}

/**
 * Once armed for `n`, holds the next `n` writes until all `n` arrived: every
 * batch has read the key's sessions before any of them writes.
 */
class BarrierStore extends InMemoryStateStore {
  private waiting: (() => void)[] = [];
  private armed = 0;

  arm(n: number): void {
    this.armed = n;
    this.waiting = [];
  }

  override async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    if (this.armed > 0) {
      this.armed--;
      const arrived = new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.armed === 0) for (const release of this.waiting) release();
      await arrived;
    }
    return super.write(operator, groups, generation);
  }
}

function harness(store: InMemoryStateStore, lateness = 0) {
  const d = pipeline('op')
    .decode(json<Ev>())
    .keyBy((e) => e.k)
    .eventTime((e) => e.t)
    .window(session(10))
    .allowedLateness(lateness)
    .sideOutputLateData('late')
    .aggregate(sum(() => 1));
  return new WindowOperatorHarness(d, { startTime: 0, store });
}

const bounds = (store: InMemoryStateStore) =>
  store
    .allItems('op')
    .filter((i) => !i.purged)
    .map((i) => [i.key, i.start, i.end])
    .sort();

describe('sessions of one key, written by concurrent batches of two shards', () => {
  it('two new overlapping sessions become one session', async () => {
    const store = new BarrierStore();
    const h = harness(store);
    store.arm(2);
    await Promise.all([h.send(0, [{ k: 'a', t: 0 }]), h.send(1, [{ k: 'a', t: 5 }])]);
    expect(bounds(store)).toEqual([['a', 0, 15]]);
    await h.send(0, [{ k: 'z', t: 100 }]);
    await h.send(1, [{ k: 'z', t: 100 }]); // W = 100: [0,15) fires, once
    expect(h.results).toHaveLength(1);
    expect(
      h.finalResults().map((r) => `${r.key}[${r.window.start},${r.window.end})=${r.value}`),
    ).toEqual(['a[0,15)=2']);
  });

  it('a session that grows into one created meanwhile merges with it', async () => {
    const store = new BarrierStore();
    const h = harness(store, 100);
    await h.send(0, [{ k: 'a', t: 0 }]); // [0,10)
    store.arm(2);
    // Shard 0 grows [0,10) to [0,18); shard 1 opens [14,24), both against the same read.
    await Promise.all([h.send(0, [{ k: 'a', t: 8 }]), h.send(1, [{ k: 'a', t: 14 }])]);
    expect(bounds(store)).toEqual([['a', 0, 24]]);
    const item = store.allItems('op').find((i) => !i.purged);
    expect(item?.accumulator).toBe(3);
  });

  it('sessions of different keys written at once do not contend', async () => {
    const store = new BarrierStore();
    const h = harness(store);
    store.arm(2);
    await Promise.all([h.send(0, [{ k: 'a', t: 0 }]), h.send(1, [{ k: 'b', t: 5 }])]);
    expect(bounds(store)).toEqual([
      ['a', 0, 10],
      ['b', 5, 15],
    ]);
    expect(store.stats.conflicts).toBe(0);
  });
});
