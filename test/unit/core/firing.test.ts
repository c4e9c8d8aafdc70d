/**
 * Who fires (docs/semantics.md "Who fires"): after its commit a batch fires
 * and purges when it raised the operator watermark, when it wrote a window
 * that is now due, or when it is a retry; the others leave firing to the
 * batch that raised the watermark instead of racing it for every window.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryStateStore, count, json, pipeline, tumbling } from '../../../lib/index.ts';
import type { WindowItem } from '../../../lib/ports/state-store.ts';
import { WindowOperatorHarness } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
}

const definition = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t)
  .window(tumbling(10))
  .allowedLateness(10)
  .aggregate(count());

/** Counts due-window queries; can fail the next one (a process dying between raising the watermark and firing). */
class CountingStore extends InMemoryStateStore {
  listDueCalls = 0;
  private failNext = false;
  failNextListDue(): void {
    this.failNext = true;
  }
  override listDue(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    this.listDueCalls++;
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('died before firing'));
    }
    return super.listDue(operator, watermark, limit, generation);
  }
}

const fired = (
  results: readonly {
    key: string;
    window: { start: number; end: number };
    value: number;
    version: number;
  }[],
) => results.map((r) => `${r.key}[${r.window.start},${r.window.end})=${r.value}v${r.version}`);

describe('who fires', () => {
  it('GIVEN another shard holds the watermark WHEN a batch neither raises it nor writes a due window THEN it does not list due windows', async () => {
    const store = new CountingStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    await h.send(0, [{ k: 'a', t: 25 }]);
    await h.send(1, [{ k: 'b', t: 30 }]); // raises the watermark to 25
    const before = store.listDueCalls;
    const o = await h.send(1, [{ k: 'b', t: 40 }]); // shard 0 still holds it at 25
    expect(o.watermark).toBe(25);
    expect(o.results).toEqual([]);
    expect(store.listDueCalls).toBe(before);
  });

  it('GIVEN a fired window WHEN a batch that does not raise the watermark updates it within the lateness THEN it re-fires at the end of that batch', async () => {
    const h = new WindowOperatorHarness(definition, { startTime: 0 });
    await h.send(0, [{ k: 'a', t: 1 }]);
    const raise = await h.send(0, [{ k: 'a', t: 15 }]); // raises to 15: [0, 10) fires
    expect(fired(raise.results)).toEqual(['a[0,10)=1v1']);
    await h.send(1, [{ k: 'b', t: 16 }]);
    const update = await h.send(1, [{ k: 'a', t: 5 }]); // within the lateness; the watermark stays at 15
    expect(update.watermark).toBe(15);
    expect(fired(update.results)).toEqual(['a[0,10)=2v2']);
  });

  it('GIVEN a batch that raised the watermark and died before firing WHEN Lambda retries it THEN the retry fires', async () => {
    const store = new CountingStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    await h.send(0, [{ k: 'a', t: 1 }]);
    const batch = h.records(0, [{ k: 'a', t: 30 }]);
    store.failNextListDue();
    await expect(h.deliver(0, batch)).rejects.toThrow('died before firing');
    expect((await store.readProgress('op')).watermark).toBe(30); // committed and raised
    const retry = await h.deliver(0, batch); // every record at or below the commit: nothing raised, nothing written
    expect(retry.counts).toMatchObject({ received: 1, skippedCommitted: 1 });
    expect(fired(retry.results)).toEqual(['a[0,10)=1v1']);
  });
});
