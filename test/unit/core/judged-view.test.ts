/**
 * A retry judges lateness against at least the view an earlier attempt judged
 * against, once that attempt delivered late output (ShardProgress.judged).
 * Without it, a retry whose view is lower (here: a shard came back from
 * idleness in between) would put into state a record the earlier attempt had
 * already sent to the late output: counted twice.
 */
import { describe, expect, it } from 'vitest';
import {
  count,
  json,
  pipeline,
  session,
  sum,
  tumbling,
  shardId,
  InMemoryStateStore,
  type LateRecord,
} from '../../../lib/index.ts';
import { CrashingStateStore, WindowOperatorHarness } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
  v?: number;
}

const definition = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { idleTimeout: 100 })
  .window(tumbling(10))
  .sideOutputLateData('late')
  .aggregate(count());

const sessions = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { idleTimeout: 100 })
  .window(session(1))
  .sideOutputLateData('late')
  .aggregate(sum((e) => e.v ?? 0));

const SHARD_0 = shardId('shardId-000000000000');

class CrashAfterDelivery extends Error {}

describe('judged view (late output, then a retry with a lower view)', () => {
  it('a record an attempt sent to the late output stays late on the retry, never also in state', async () => {
    const store = new InMemoryStateStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    await h.send(1, [{ k: 'a', t: 0 }]); // shard 1: watermark 0; the operator watermark becomes 0
    h.clock.advance(200); // shard 1 goes idle: shard 0 now judges against its own watermark alone

    const batch = h.records(0, [
      { k: 'a', t: 100 },
      { k: 'a', t: 5 }, // late for [0, 10) against shard 0's own watermark (100)
    ]);
    const delivered: LateRecord[] = [];
    const firstAttempt = h.operator.processBatch(SHARD_0, batch, {
      sideOutputs: (late) => {
        delivered.push(...late);
        return Promise.reject(
          new CrashAfterDelivery('the process died after delivering late output'),
        );
      },
    });
    await expect(firstAttempt).rejects.toBeInstanceOf(CrashAfterDelivery);
    expect(delivered.map((l) => l.eventTime)).toEqual([5]);

    // Shard 1 comes back (watermark 1): the retry's own view would judge t=5 on time.
    await h.send(1, [{ k: 'a', t: 1 }]);
    const retry = await h.operator.processBatch(SHARD_0, batch, {
      sideOutputs: (late) => {
        delivered.push(...late);
        return Promise.resolve();
      },
    });

    expect(retry.counts).toMatchObject({ received: 2, inState: 1, late: 1 });
    expect(delivered.map((l) => l.eventTime)).toEqual([5, 5]); // the same record again: idempotent by position
    const item = store.allItems('op').find((i) => i.key === 'a' && i.start === 0);
    expect(item?.accumulator).toBe(2); // t=0 and t=1 of shard 1; t=5 only in the late output
    const progress = (await h.store.readProgress('op')).shards.find(
      (p) => p.shardId === 'shardId-000000000000',
    );
    expect(progress?.judged).toBeUndefined(); // committed past the view: cleared
  });

  it("keeps the view for records above a bisected retry's commit", async () => {
    const store = new InMemoryStateStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    await h.send(1, [{ k: 'a', t: 0 }]);
    h.clock.advance(200);
    const batch = h.records(0, [
      { k: 'a', t: 100 },
      { k: 'a', t: 5 },
      { k: 'a', t: 6 },
    ]);
    const first = h.operator.processBatch(SHARD_0, batch, {
      sideOutputs: () => Promise.reject(new CrashAfterDelivery('died')),
    });
    await expect(first).rejects.toBeInstanceOf(CrashAfterDelivery);
    await h.send(1, [{ k: 'a', t: 1 }]);
    // Lambda bisects: the first half alone commits, the view still covers the rest.
    const half = await h.operator.processBatch(SHARD_0, batch.slice(0, 2), {
      sideOutputs: () => Promise.resolve(),
    });
    expect(half.counts).toMatchObject({ inState: 1, late: 1 });
    const between = (await h.store.readProgress('op')).shards.find(
      (p) => p.shardId === 'shardId-000000000000',
    );
    expect(between?.judged).toBeDefined();
    const rest = await h.operator.processBatch(SHARD_0, batch.slice(2), {
      sideOutputs: () => Promise.resolve(),
    });
    expect(rest.counts).toMatchObject({ inState: 0, late: 1 });
    expect(store.allItems('op').find((i) => i.key === 'a' && i.start === 0)?.accumulator).toBe(2);
  });

  it('sessions: a crash before the view is recorded leaves no state behind, so a retry with a lower view loses nothing', async () => {
    // The per-key session guard skips every record at or below the key's
    // absorbed position. Had the state write come before the recorded view, a
    // record judged late by the crashed attempt (t=200 after t=200 moved the
    // shard watermark) and on time by the retry would have been skipped by
    // the guard: in neither state nor the late output.
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    const h = new WindowOperatorHarness(sessions, { startTime: 0, store: crashing });
    await h.send(1, [{ k: 'z', t: 0 }]);
    h.clock.advance(200); // shard 1 idle: shard 0 judges against its own watermark
    const batch = h.records(0, [
      { k: 'a', t: 200, v: 1 },
      { k: 'a', t: 200, v: 10 }, // late against shard 0's own watermark (200)
      { k: 'a', t: 201, v: 100 },
    ]);
    crashing.crashOnNextProgressWrite();
    await expect(h.operator.processBatch(SHARD_0, batch)).rejects.toThrow(/injected crash/);
    expect(store.allItems('op').filter((i) => i.key === 'a')).toEqual([]);

    await h.send(1, [{ k: 'z', t: 1 }]); // shard 1 is back: the retry's view is lower
    const retry = await h.operator.processBatch(SHARD_0, batch);
    const inState = store
      .allItems('op')
      .filter((i) => i.key === 'a')
      .reduce((total, i) => total + (i.accumulator as number), 0);
    const late = retry.late.map((l) => JSON.parse(new TextDecoder().decode(l.data)) as Ev);
    expect(inState + late.reduce((total, e) => total + (e.v ?? 0), 0)).toBe(111);
    expect(retry.counts).toMatchObject({ received: 3, inState: 3, late: 0, alreadyApplied: 0 });
  });

  // Two other writers of a shard's progress write what they read earlier:
  // registration (a shard with no progress yet) and the ticker's backlog
  // refresh (`{ ...p, lastActivity }`). The store keeps the view an attempt
  // wrote in between; were the view dropped, the retry below would judge
  // t=200 (v=10) on time and the per-key guard would skip it as absorbed.
  it.each(['registration', 'backlog refresh'] as const)(
    'sessions: a %s write from an earlier read, between a crashed attempt and its retry, keeps the view: nothing lost',
    async (writer) => {
      const store = new InMemoryStateStore();
      const h = new WindowOperatorHarness(sessions, { startTime: 0, store });
      await h.send(1, [{ k: 'z', t: 0 }]);
      if (writer === 'backlog refresh') await h.send(0, [{ k: 'y', t: 0 }]);
      const before = (await store.readProgress('op')).shards.find((p) => p.shardId === SHARD_0);
      h.clock.advance(200); // shard 1 idle: shard 0 judges against its own watermark
      const batch = h.records(0, [
        { k: 'a', t: 200, v: 1 },
        { k: 'a', t: 200, v: 10 }, // late against shard 0's own watermark (200)
        { k: 'a', t: 201, v: 100 },
      ]);
      const delivered: number[] = [];
      const deliver = (late: readonly LateRecord[]): void => {
        for (const l of late)
          delivered.push((JSON.parse(new TextDecoder().decode(l.data)) as Ev).v ?? 0);
      };
      const first = h.operator.processBatch(SHARD_0, batch, {
        sideOutputs: (late) => {
          deliver(late);
          return Promise.reject(
            new CrashAfterDelivery('died after the state write and the late output'),
          );
        },
      });
      await expect(first).rejects.toBeInstanceOf(CrashAfterDelivery);
      expect(delivered).toEqual([10]);

      const stale =
        writer === 'registration'
          ? {
              shardId: SHARD_0,
              committed: null,
              watermark: null,
              lastActivity: h.clock.now(),
              closed: false,
            }
          : { ...(before as NonNullable<typeof before>), lastActivity: h.clock.now() };
      expect(before === undefined).toBe(writer === 'registration');
      expect(await store.writeShardProgress('op', stale, 0)).toBe(true);

      await h.send(1, [{ k: 'z', t: 1 }]); // shard 1 is back: the retry's own view is lower
      const retry = await h.operator.processBatch(SHARD_0, batch, {
        sideOutputs: (late) => {
          deliver(late);
          return Promise.resolve();
        },
      });
      const inState = store
        .allItems('op')
        .filter((i) => i.key === 'a')
        .reduce((total, i) => total + (i.accumulator as number), 0);
      expect(inState).toBe(101);
      expect(delivered).toEqual([10, 10]); // the same record again: idempotent by position
      expect(retry.counts).toMatchObject({ received: 3, inState: 2, late: 1 });
    },
  );

  it("sessions: a retry whose view is higher judges against the crashed attempt's view, so a record it applied is not also sent late", async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    const h = new WindowOperatorHarness(sessions, { startTime: 0, store: crashing });
    await h.send(1, [{ k: 'z', t: 0 }]); // shard 1 active at watermark 0
    const batch = h.records(0, [
      { k: 'a', t: 200, v: 1 },
      { k: 'a', t: 150, v: 10 }, // on time against shard 1's watermark (0)
      { k: 'a', t: 201, v: 100 },
    ]);
    crashing.crashOnNextProgressWrite(1); // the commit, after the recorded view and the state writes
    await expect(h.operator.processBatch(SHARD_0, batch)).rejects.toThrow(/injected crash/);
    const applied = () =>
      store
        .allItems('op')
        .filter((i) => i.key === 'a')
        .reduce((total, i) => total + (i.accumulator as number), 0);
    expect(applied()).toBe(111);

    await h.send(1, [{ k: 'z', t: 1000 }]); // shard 1 moves on: the retry's own view would judge t=150 late
    const retry = await h.operator.processBatch(SHARD_0, batch);
    expect(retry.late).toEqual([]);
    expect(retry.counts).toMatchObject({ received: 3, inState: 3, late: 0, alreadyApplied: 3 });
    // Its commit moves the watermark to 201: both sessions fire once, t=150 in state only.
    expect(
      retry.results
        .filter((r) => r.key === 'a')
        .map((r) => [r.window.start, r.window.end, r.value, r.version])
        .sort((x, y) => (x[0] as number) - (y[0] as number)),
    ).toEqual([
      [150, 151, 10, 1],
      [200, 202, 101, 1],
    ]);
  });

  it('sessions: a retry whose recorded view is older than a purge sends a record that would join the purged session to the late output', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    const h = new WindowOperatorHarness(sessions, { startTime: 0, store: crashing });
    await h.send(1, [{ k: 'z', t: 0 }]);
    await h.send(0, [{ k: 'a', t: 100, v: 1000 }]); // session [100, 101)
    const batch = h.records(0, [{ k: 'a', t: 101, v: 1 }]); // touches it: on time against watermark 0
    crashing.crashDuringNextStateUpdate(0);
    await expect(h.operator.processBatch(SHARD_0, batch)).rejects.toThrow(/injected crash/);

    h.clock.advance(200); // shard 0 idle
    const moved = await h.send(1, [{ k: 'z', t: 500 }]); // the watermark passes 100: [100, 101) fires and is purged
    expect(moved.results.map((r) => [r.key, r.window, r.value])).toContainEqual([
      'a',
      { start: 100, end: 101 },
      1000,
    ]);
    expect(store.allItems('op').find((i) => i.key === 'a')?.purged).toBe(true);

    const retry = await h.operator.processBatch(SHARD_0, batch); // judged against the recorded view: on time
    expect(retry.late.map((l) => [l.eventTime, l.reason, l.windows])).toEqual([
      [101, 'window-purged', [{ start: 101, end: 102 }]],
    ]);
    expect(retry.counts).toMatchObject({ received: 1, inState: 0, late: 1 });
    expect(store.allItems('op').filter((i) => i.key === 'a' && !i.purged)).toEqual([]);
  });
});
