/**
 * Re-planning a write after a conflict: a raw batch does not keep its decoded
 * events, so the core re-derives them from the bytes (decode and steps
 * again). These tests make a real conflict (another shard's batch writes the
 * same item between this batch's read and its write) and check the result,
 * and that a pipeline that does not decode the same way twice fails loudly.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryStateStore,
  NondeterministicPipelineError,
  sum,
  json,
  pipeline,
  sliding,
  tumbling,
  type Decoder,
  type WindowAssigner,
} from '../../../lib/index.ts';
import type { WindowWrite } from '../../../lib/ports/state-store.ts';
import { WindowOperatorHarness } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
  v?: number;
}

/** Runs `race` once, right before the next write reaches the store. */
class RacingStore extends InMemoryStateStore {
  private race: (() => Promise<unknown>) | undefined;
  raceBeforeNextWrite(race: () => Promise<unknown>): void {
    this.race = race;
  }
  override async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    const race = this.race;
    this.race = undefined;
    if (race !== undefined) await race();
    return super.write(operator, groups, generation);
  }
}

function summing(
  assigner: WindowAssigner,
  decoder: Decoder<Ev> = json<Ev>(),
  keep: () => boolean = () => true,
) {
  const store = new RacingStore();
  const d = pipeline('op')
    .decode(decoder)
    .filter(keep)
    .keyBy((e) => e.k)
    .eventTime((e) => e.t)
    .window(assigner)
    .aggregate(sum((e) => e.v ?? 1));
  return { store, h: new WindowOperatorHarness(d, { startTime: 0, store }) };
}

function accumulatorOf(
  store: InMemoryStateStore,
  key: string,
  start: number,
  end: number,
): unknown {
  return store.allItems('op').find((i) => i.key === key && i.start === start && i.end === end)
    ?.accumulator;
}

describe('re-planning a raw batch after a conflicting write', () => {
  it('tumbling: re-derives the events and merges with the competing write', async () => {
    const { store, h } = summing(tumbling(10));
    store.raceBeforeNextWrite(() => h.send(1, [{ k: 'a', t: 3, v: 100 }]));
    const outcome = await h.send(0, [
      { k: 'a', t: 1, v: 1 },
      { k: 'a', t: 2, v: 20 },
      { k: 'b', t: 2, v: 5 },
    ]);
    expect(store.stats.conflicts).toBe(1);
    expect(outcome.counts.inState).toBe(3);
    expect(accumulatorOf(store, 'a', 0, 10)).toBe(121);
    expect(accumulatorOf(store, 'b', 0, 10)).toBe(5);
  });

  it('sliding: every window of the re-planned records gets them once', async () => {
    const { store, h } = summing(sliding(10, 5));
    store.raceBeforeNextWrite(() => h.send(1, [{ k: 'a', t: 6, v: 100 }]));
    await h.send(0, [
      { k: 'a', t: 6, v: 1 },
      { k: 'a', t: 7, v: 20 },
    ]);
    expect(store.stats.conflicts).toBeGreaterThanOrEqual(1);
    expect(accumulatorOf(store, 'a', 0, 10)).toBe(121);
    expect(accumulatorOf(store, 'a', 5, 15)).toBe(121);
  });

  it('fails the batch with NondeterministicPipelineError when a filter changes its mind', async () => {
    let calls = 0;
    const { store, h } = summing(tumbling(10), json<Ev>(), () => ++calls <= 2);
    store.raceBeforeNextWrite(() => h.send(1, [{ k: 'x', t: 3 }]));
    calls = -1; // the racing batch's record passes too
    const attempt = h.send(0, [
      { k: 'x', t: 1 },
      { k: 'x', t: 2 },
    ]);
    await expect(attempt).rejects.toThrow(NondeterministicPipelineError);
    await expect(attempt).rejects.toThrow(
      /record shardId-000000000000\/\d+\/0 was filtered out when decoded again; decoder, filter and map functions must be deterministic/,
    );
  });

  it('fails the batch with NondeterministicPipelineError when the decoder throws the second time', async () => {
    let decodes = 0;
    const flaky: Decoder<Ev> = {
      name: 'flaky',
      decode: (data) => {
        if (++decodes > 3) throw new Error('flaky decoder');
        return JSON.parse(new TextDecoder().decode(data)) as Ev;
      },
    };
    const { store, h } = summing(tumbling(10), flaky);
    store.raceBeforeNextWrite(() => h.send(1, [{ k: 'x', t: 3 }]));
    const attempt = h.send(0, [
      { k: 'x', t: 1 },
      { k: 'x', t: 2 },
    ]);
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NondeterministicPipelineError);
    expect((error as Error).message).toMatch(/threw \(flaky decoder\) when decoded again/);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});
