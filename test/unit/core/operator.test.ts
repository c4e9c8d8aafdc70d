import { describe, expect, it } from 'vitest';
import {
  InMemoryStateStore,
  BatchOrderError,
  count,
  json,
  pipeline,
  session,
  sliding,
  sum,
  tumbling,
  type WindowAssigner,
  type StateStore,
} from '../../../lib/index.ts';
import type { EventTimeOptions } from '../../../lib/core/index.ts';
import {
  CrashingStateStore,
  WindowOperatorHarness,
  harnessShardId,
} from '../../../lib/testing/index.ts';

interface Ev {
  k: string;
  t: number;
  v?: number;
}

function harness(
  assigner: WindowAssigner,
  lateness = 0,
  time: EventTimeOptions = {},
  store?: StateStore,
) {
  const d = pipeline('op')
    .decode(json<Ev>())
    .filter((e) => e.k !== 'skip')
    .keyBy((e) => e.k, { maxKeyBytes: 16 })
    .eventTime((e) => e.t, time)
    .window(assigner)
    .allowedLateness(lateness)
    .sideOutputLateData('late')
    .aggregate(sum((e) => e.v ?? 1));
  return new WindowOperatorHarness(d, { startTime: 0, ...(store === undefined ? {} : { store }) });
}

const view = (h: {
  results: readonly {
    key: string;
    window: { start: number; end: number };
    value: number;
    version: number;
  }[];
}) => h.results.map((r) => `${r.key}[${r.window.start},${r.window.end})=${r.value}v${r.version}`);

describe('firing and lateness (tumbling)', () => {
  it('fires when W >= maxTimestamp, not before', async () => {
    const h = harness(tumbling(10));
    await h.send(0, [
      { k: 'a', t: 0 },
      { k: 'a', t: 8 },
    ]);
    expect(h.results).toEqual([]);
    await h.send(0, [{ k: 'a', t: 9 }]);
    expect(view(h)).toEqual(['a[0,10)=3v1']);
    expect(h.results[0]?.id).toBe('op/a/0-10/v1');
  });

  it('a record exactly at the lateness bound updates the window and re-fires; one past it is late', async () => {
    const h = harness(tumbling(10), 5);
    await h.send(0, [
      { k: 'a', t: 1 },
      { k: 'a', t: 14 },
    ]); // W = 14 = maxTs 9 + L 5: fired, not late
    expect(view(h)).toEqual(['a[0,10)=1v1']);
    await h.send(0, [{ k: 'a', t: 2 }]);
    expect(view(h)).toEqual(['a[0,10)=1v1', 'a[0,10)=2v2']);
    await h.send(0, [
      { k: 'a', t: 15 },
      { k: 'a', t: 3 },
    ]); // W = 15 > 14: late
    expect(h.late.map((l) => [l.eventTime, l.windows, l.reason, l.output, l.watermark])).toEqual([
      [3, [{ start: 0, end: 10 }], 'window-closed', 'late', 15],
    ]);
    expect(
      h.store instanceof InMemoryStateStore &&
        h.store.allItems('op').find((i) => i.start === 0)?.purged,
    ).toBe(true);
  });

  it('with allowedLateness 0, a record at W == maxTimestamp still counts (late only when maxTs + L < W)', async () => {
    const h = harness(tumbling(10));
    await h.send(0, [
      { k: 'a', t: 9 },
      { k: 'a', t: 0 },
    ]);
    expect(view(h)).toEqual(['a[0,10)=2v1']);
    expect(h.late).toEqual([]);
  });

  it('a record never makes itself late; the watermark is per record within a batch', async () => {
    const h = harness(tumbling(10), 0, { maxOutOfOrderness: 3 });
    await h.send(0, [
      { k: 'a', t: 20 },
      { k: 'a', t: 16 },
      { k: 'a', t: 12 },
      { k: 'a', t: 25 },
      { k: 'a', t: 21 },
    ]);
    // W before t=12 is 17 > 9 but window [10,20) maxTs 19 >= 17: on time. W before t=21 is 22: [20,30) still open.
    expect(h.late).toEqual([]);
    expect(view(h)).toEqual(['a[10,20)=2v1']);
  });
});

describe('sliding windows and partial lateness', () => {
  it('routes a record late for some windows to the late output for those only', async () => {
    const h = harness(sliding(10, 5));
    await h.send(0, [{ k: 'a', t: 30 }]);
    await h.send(0, [{ k: 'a', t: 24 }]); // windows [20,30) (maxTs 29 < 30: late) and [15,25) late; t=24 → wait
    expect(h.late).toHaveLength(1);
    expect(h.late[0]?.windows).toEqual([
      { start: 20, end: 30 },
      { start: 15, end: 25 },
    ]);
    await h.send(0, [{ k: 'a', t: 28 }]); // windows [25,35) open, [20,30) late
    expect(h.late[1]?.windows).toEqual([{ start: 20, end: 30 }]);
    expect(h.counts).toMatchObject({ late: 1, partiallyLate: 1, inState: 2 });
  });
});

describe('session windows', () => {
  it('merge three sessions stored by earlier batches when a record bridges them', async () => {
    const h = harness(session(10), 0, {}, new InMemoryStateStore());
    await h.send(0, [{ k: 'a', t: 0 }]);
    await h.send(1, [{ k: 'a', t: 20 }]);
    await h.send(2, [{ k: 'a', t: 40 }]);
    const store = h.store as InMemoryStateStore;
    expect(store.openWindowCount('op')).toBe(3);
    // Shard 0 is at W(0) = 0, so nothing is late; t=10 and t=30 touch all three sessions.
    await h.send(0, [
      { k: 'a', t: 10 },
      { k: 'a', t: 30 },
    ]);
    expect(store.openWindowCount('op')).toBe(1);
    expect(store.allItems('op').map((i) => [i.start, i.end])).toEqual([[0, 50]]);
    await h.send(0, [{ k: 'b', t: 100 }]);
    await h.send(1, [{ k: 'b', t: 100 }]);
    await h.send(2, [{ k: 'b', t: 100 }]);
    expect(h.finalResults().map((r) => [r.key, r.window, r.value])).toEqual([
      ['a', { start: 0, end: 50 }, 5],
    ]);
  });

  it('a fired session absorbed by a merge is reported as superseded', async () => {
    const h = harness(session(10), 5);
    await h.send(0, [
      { k: 'a', t: 0 },
      { k: 'a', t: 12 },
    ]); // W = 12 >= 9: [0,10) fires
    expect(view(h)).toEqual(['a[0,10)=1v1']);
    await h.send(0, [
      { k: 'a', t: 10 },
      { k: 'a', t: 40 },
    ]); // t=10 touches [0,10) and [12,22): merge
    const merged = h.results.find((r) => r.window.end === 22);
    expect(merged?.supersedes).toEqual([{ start: 0, end: 10 }]);
    expect(h.finalResults().map((r) => [r.window, r.value])).toEqual([[{ start: 0, end: 22 }, 3]]);
  });

  it('a record with t + L <= W is late (it could touch a purged session)', async () => {
    const h = harness(session(10), 2);
    await h.send(0, [
      { k: 'a', t: 100 },
      { k: 'a', t: 98 },
      { k: 'a', t: 99 },
    ]);
    expect(h.late.map((l) => [l.eventTime, l.reason])).toEqual([[98, 'session-closed']]);
  });
});

describe('watermarks across shards, idleness and closing', () => {
  it('the operator watermark is the minimum over active shards', async () => {
    const h = harness(tumbling(10));
    await h.send(0, [{ k: 'a', t: 1 }]);
    await h.send(1, [{ k: 'b', t: 1 }]);
    await h.send(0, [{ k: 'a', t: 50 }]);
    expect(h.watermark).toBe(1);
    expect(h.results).toEqual([]);
    await h.send(1, [{ k: 'b', t: 30 }]);
    expect(h.watermark).toBe(30);
    expect(view(h)).toEqual(['a[0,10)=1v1', 'b[0,10)=1v1']);
  });

  it('a shard the operator has not seen yet does not hold the watermark back', async () => {
    const h = harness(tumbling(10));
    await h.send(0, [{ k: 'a', t: 50 }]);
    await h.send(1, [{ k: 'a', t: 5 }]);
    expect(h.watermark).toBe(50);
    expect(h.late.map((l) => l.eventTime)).toEqual([5]);
  });

  it('an idle shard stops holding back the watermark; it never goes back when the shard returns', async () => {
    const h = harness(tumbling(10), 0, { idleTimeout: 100 });
    await h.send(0, [{ k: 'a', t: 5 }]);
    await h.send(1, [{ k: 'b', t: 500 }]);
    expect(h.watermark).toBe(5);
    h.clock.advance(100); // shard 0 idle (100 >= idleTimeout), shard 1 too
    await h.send(1, [{ k: 'b', t: 501 }]);
    expect(h.watermark).toBe(501);
    expect(view(h)).toEqual(['a[0,10)=1v1']);
    await h.send(0, [{ k: 'a', t: 6 }]); // shard 0 returns behind: late, W stays
    expect(h.watermark).toBe(501);
    expect(h.late.map((l) => l.eventTime)).toEqual([6]);
  });

  it('without idleAdvance an all-idle operator keeps its watermark', async () => {
    const h = harness(tumbling(10), 0, { idleTimeout: 100 });
    await h.send(0, [{ k: 'a', t: 5 }]);
    await h.advanceProcessingTime(10_000);
    expect(h.watermark).toBe(5);
    expect(h.results).toEqual([]);
  });

  it('with idleAdvance an all-idle operator advances to now - idleTimeout - maxOutOfOrderness', async () => {
    const h = harness(tumbling(10), 0, {
      idleTimeout: 100,
      idleAdvance: true,
      maxOutOfOrderness: 7,
    });
    await h.send(0, [{ k: 'a', t: 5 }]);
    await h.advanceProcessingTime(99);
    expect(h.watermark).toBe(-2);
    await h.advanceProcessingTime(1); // now = 100: idle; candidate -7 < W, and W never decreases
    expect(h.watermark).toBe(-2);
    await h.advanceProcessingTime(20); // now = 120 → W = 13
    expect(h.watermark).toBe(13);
    expect(view(h)).toEqual(['a[0,10)=1v1']);
  });

  it('a closed, consumed shard no longer holds back the watermark', async () => {
    const h = harness(tumbling(10));
    await h.send(0, [{ k: 'a', t: 5 }]);
    await h.send(1, [{ k: 'a', t: 50 }]);
    expect(h.watermark).toBe(5);
    await h.closeShard(0);
    expect(h.watermark).toBe(50);
    expect(view(h)).toEqual(['a[0,10)=1v1']);
  });
});

describe('bad input goes to the dead-letter output, never blocks', () => {
  it('names a reason for each kind of bad record and reconciles the counts', async () => {
    const d = pipeline('op')
      .decode(json<Ev>())
      .filter((e) => {
        if (e.k === 'boom') throw new Error('filter boom');
        return e.k !== 'skip';
      })
      .keyBy((e) => (e.k === 'keythrow' ? (null as unknown as { x: string }).x : e.k), {
        maxKeyBytes: 8,
      })
      .eventTime((e) => {
        if (e.k === 'tthrow') throw new Error('time boom');
        return e.t;
      })
      .window(tumbling(10))
      .aggregate(sum((e) => e.v as number));
    const h = new WindowOperatorHarness(d, { startTime: 0 });
    await h.deliver(
      0,
      h.rawRecords(0, [
        '{not json',
        JSON.stringify({ k: 'boom', t: 1, v: 1 }),
        JSON.stringify({ k: 'skip', t: 1, v: 1 }),
        JSON.stringify({ k: 'keythrow', t: 1, v: 1 }),
        JSON.stringify({ k: 7, t: 1, v: 1 }),
        JSON.stringify({ k: ['x'], t: 1, v: 1 }),
        JSON.stringify({ k: 'ääääää', t: 1, v: 1 }),
        JSON.stringify({ k: 'tthrow', t: 1, v: 1 }),
        JSON.stringify({ k: 'a', t: 1.5, v: 1 }),
        JSON.stringify({ k: 'a', t: '1', v: 1 }),
        JSON.stringify({ k: 'a', t: 1, v: 'x' }),
        JSON.stringify({ k: 'a', t: 2, v: 1 }),
      ]),
    );
    expect(h.deadLetters.map((x) => x.code)).toEqual([
      'decode-failed',
      'filter-threw',
      'key-selector-threw',
      'invalid-key',
      'key-too-large',
      'event-time-threw',
      'invalid-event-time',
      'invalid-event-time',
      'aggregate-threw',
    ]);
    expect(h.deadLetters[0]?.data).toBeInstanceOf(Uint8Array);
    expect(h.deadLetters[4]?.reason).toBe(
      'key-too-large: key is 12 UTF-8 bytes; keyBy.maxKeyBytes is 8',
    );
    expect(h.counts).toEqual({
      received: 12,
      skippedCommitted: 0,
      filtered: 1,
      deadLettered: 9,
      late: 0,
      inState: 2,
      partiallyLate: 0,
      alreadyApplied: 0,
    });
  });
});

describe('exactly-once under retries and crashes', () => {
  it('a redelivered batch is skipped by the committed position', async () => {
    const h = harness(tumbling(10));
    const batch = h.records(0, [
      { k: 'a', t: 1 },
      { k: 'a', t: 2 },
    ]);
    await h.deliver(0, batch);
    const again = await h.deliver(0, batch);
    expect(again.counts.skippedCommitted).toBe(2);
    await h.send(0, [{ k: 'a', t: 20 }]);
    expect(view(h)).toEqual(['a[0,10)=2v1']);
  });

  it('a crash in the middle of the state writes is repaired by the per-item guard', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    const h = harness(tumbling(10), 0, {}, crashing);
    const batch = h.records(0, [
      { k: 'a', t: 1 },
      { k: 'b', t: 2 },
      { k: 'c', t: 3 },
    ]);
    crashing.crashDuringNextStateUpdate(2);
    await expect(h.deliver(0, batch)).rejects.toThrow('injected crash');
    const retry = await h.deliver(0, batch);
    expect(retry.counts).toMatchObject({ inState: 3, alreadyApplied: 2 });
    await h.send(0, [{ k: 'z', t: 50 }]);
    expect(view(h)).toEqual(['a[0,10)=1v1', 'b[0,10)=1v1', 'c[0,10)=1v1']);
  });

  it('a crash before the progress write: the retry applies nothing twice', async () => {
    const store = new InMemoryStateStore();
    const crashing = new CrashingStateStore(store);
    const h = harness(session(5), 0, {}, crashing);
    const batch = h.records(0, [
      { k: 'a', t: 1 },
      { k: 'a', t: 3 },
    ]);
    crashing.crashOnNextProgressWrite(1); // the commit: a session batch first records its judged view
    await expect(h.deliver(0, batch)).rejects.toThrow('injected crash');
    expect(store.allItems('op').map((i) => i.accumulator)).toEqual([2]);
    const retry = await h.deliver(0, batch);
    expect(retry.counts).toMatchObject({ inState: 2, alreadyApplied: 2 });
    await h.send(0, [{ k: 'z', t: 100 }]);
    expect(view(h)).toEqual(['a[1,8)=2v1']);
  });

  it('side outputs are handed over before the progress moves', async () => {
    const store = new InMemoryStateStore();
    const h = harness(tumbling(10), 0, {}, store);
    const seen: string[] = [];
    await h.operator.processBatch(
      harnessShardId(0),
      h.records(0, [{ k: 'a', t: 50 }, { k: 'a', t: 1 }, 'x']),
      {
        sideOutputs: async (late, dead) => {
          const p = (await store.readProgress('op')).shards[0];
          seen.push(
            `late=${late.length} dead=${dead.length} committed=${p?.committed ?? 'none'} judged=${p?.judged !== undefined}`,
          );
        },
      },
    );
    // The progress has not moved; only the view the late record was judged against is recorded.
    expect(seen).toEqual(['late=1 dead=1 committed=none judged=true']);
    const after = (await store.readProgress('op')).shards[0];
    expect(after?.committed).not.toBeNull();
    expect(after?.judged).toBeUndefined();
  });

  it('rejects batches out of order or of another shard', async () => {
    const h = harness(tumbling(10));
    const [a, b] = h.records(0, [
      { k: 'a', t: 1 },
      { k: 'a', t: 2 },
    ]);
    await expect(h.deliver(0, [b!, a!])).rejects.toBeInstanceOf(BatchOrderError);
    await expect(h.deliver(1, [a!])).rejects.toBeInstanceOf(BatchOrderError);
  });
});

describe('pre-aggregation', () => {
  it('a batch becomes one state write per (key, window)', async () => {
    const d = pipeline('op')
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t)
      .window(tumbling(100))
      .aggregate(count());
    const h = new WindowOperatorHarness(d, { startTime: 0 });
    const o = await h.send(0, [
      ...Array.from({ length: 50 }, (_, i) => ({ k: i % 2 ? 'a' : 'b', t: i })),
      { k: 'a', t: 150 },
    ]);
    expect(o.stateWrites).toBe(3);
  });

  it('accepts pre-decoded records', async () => {
    const d = pipeline('op')
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t)
      .window(tumbling(10))
      .aggregate(count());
    const h = new WindowOperatorHarness(d, { startTime: 0 });
    const recs = h
      .records(0, [{}, {}])
      .map((r, i) => ({ position: r.position, partitionKey: 'pk', value: { k: 'a', t: i * 20 } }));
    const o = await h.operator.processDecodedBatch(harnessShardId(0), recs);
    expect(o.results.map((r) => r.value)).toEqual([1]);
  });
});
