/**
 * The outbox: a firing puts its result in the state item in the same write
 * that marks it fired, so a crash between firing and emitting is re-driven,
 * never lost; acknowledging clears it unless a newer firing replaced it.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryStateStore,
  count,
  json,
  pipeline,
  tumbling,
  ManualClock,
  createWindowOperator,
} from '../../../lib/index.ts';
import { WindowOperatorHarness, harnessShardId } from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
}

const definition = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t)
  .window(tumbling(10))
  .allowedLateness(100)
  .sideOutputLateData('late')
  .aggregate(count());

describe('outbox', () => {
  it('GIVEN a window fired WHEN nothing acknowledged THEN its result stays pending with the fired value', async () => {
    const store = new InMemoryStateStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    const op = createWindowOperator(definition, { store, clock: new ManualClock(0) });
    const out = await op.processBatch(
      harnessShardId(0),
      h.records(0, [
        { k: 'a', t: 1 },
        { k: 'a', t: 2 },
        { k: 'a', t: 25 },
      ]),
    );
    expect(out.results.map((r) => [r.key, r.window.start, r.value, r.version])).toEqual([
      ['a', 0, 2, 1],
    ]);

    const pending = await op.pendingResults();
    expect(pending).toEqual([
      {
        id: 'op/a/0-10/v1',
        operator: 'op',
        key: 'a',
        window: { start: 0, end: 10 },
        value: 2,
        version: 1,
        supersedes: [],
      },
    ]);
    expect(pending[0]?.id).toBe(out.results[0]?.id);
  });

  it('GIVEN a pending result WHEN acknowledged THEN it is cleared, and a stale ack of an older version clears nothing', async () => {
    const store = new InMemoryStateStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    const op = createWindowOperator(definition, { store, clock: new ManualClock(0) });
    await op.processBatch(
      harnessShardId(0),
      h.records(0, [
        { k: 'a', t: 1 },
        { k: 'a', t: 25 },
      ]),
    );
    // A late record within lateness re-fires version 2 before version 1 was acknowledged.
    const late = await op.processBatch(harnessShardId(0), h.records(0, [{ k: 'a', t: 3 }]));
    expect(late.results.map((r) => [r.value, r.version])).toEqual([[2, 2]]);
    expect((await op.pendingResults()).map((r) => [r.value, r.version])).toEqual([[2, 2]]);

    expect(await op.acknowledge([{ key: 'a', window: { start: 0, end: 10 }, version: 1 }])).toBe(0);
    expect(await op.pendingResults()).toHaveLength(1);
    expect(await op.acknowledge([{ key: 'a', window: { start: 0, end: 10 }, version: 2 }])).toBe(1);
    expect(await op.pendingResults()).toEqual([]);
  });

  it('GIVEN a fired, unacknowledged window WHEN it is purged THEN the tombstone keeps the outbox', async () => {
    const store = new InMemoryStateStore();
    const h = new WindowOperatorHarness(definition, { startTime: 0, store });
    const op = createWindowOperator(definition, { store, clock: new ManualClock(0) });
    await op.processBatch(
      harnessShardId(0),
      h.records(0, [
        { k: 'a', t: 1 },
        { k: 'b', t: 500 },
      ]),
    );
    const item = store.allItems('op').find((i) => i.key === 'a');
    expect(item?.purged).toBe(true);
    expect((await op.pendingResults()).map((r) => [r.key, r.value])).toEqual([['a', 1]]);
  });
});
