/**
 * The replay's lockstep scheduler (lib/runtime/restore/lockstep.ts) through
 * `replayShards`, with a hand-written source whose records carry arrival
 * times: rounds by arrival across shards, children after their parents,
 * bounded read-ahead per shard, and a failure that stops every shard.
 */
import { describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import { shardId } from '../../../lib/model/position.ts';
import type { StreamRecordInput } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import type { BatchReport } from '../../../lib/runtime/operator-runtime.ts';
import { ShardReader } from '../../../lib/runtime/restore/lockstep.ts';
import {
  ReplayBatchError,
  replayShards,
  type PlannedShard,
  type ReplaySource,
} from '../../../lib/runtime/restore/replay.ts';

const ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/s';

/** Records of a shard by arrival time (ms); sequence numbers 1, 2, … */
function records(arrivals: readonly number[]): StreamRecordInput[] {
  return arrivals.map((t, i) => ({
    SequenceNumber: String(i + 1),
    PartitionKey: 'p',
    Data: new Uint8Array(0),
    ApproximateArrivalTimestamp: new Date(t),
  }));
}

interface SourceLog {
  readonly events: string[];
  /** Pages yielded per shard. */
  readonly pagesRead: Map<string, number>;
  readonly closed: Set<string>;
}

/** A source serving `shards` in pages of `pageSize`, a macrotask per page; logs starts, pages, ends. */
function source(
  shards: Record<string, readonly number[]>,
  pageSize: number,
): { source: ReplaySource; log: SourceLog } {
  const log: SourceLog = { events: [], pagesRead: new Map(), closed: new Set() };
  return {
    log,
    source: {
      streamArn: ARN,
      shards: () => Promise.resolve([]),
      checkRetained: () => Promise.resolve(),
      async *read(id: string) {
        log.events.push(`start ${id}`);
        const all = records(shards[id] ?? []);
        try {
          for (let i = 0; i < all.length; i += pageSize) {
            await new Promise((r) => setTimeout(r, 0));
            log.pagesRead.set(id, (log.pagesRead.get(id) ?? 0) + 1);
            yield all.slice(i, i + pageSize);
          }
          log.events.push(`end ${id}`);
        } finally {
          log.closed.add(id);
        }
      },
    },
  };
}

interface Call {
  readonly shard: string;
  readonly arrivals: number[];
}

/** A runtime that logs each call's shard and arrival times; `onCall` may throw. */
function target(onCall: (c: Call, index: number) => void = () => undefined) {
  const calls: Call[] = [];
  return {
    calls,
    async handle(event: KinesisStreamEvent) {
      const id = event.Records[0]!.eventID.split(':')[0]!;
      const call = {
        shard: id,
        arrivals: event.Records.map((r) =>
          Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
        ),
      };
      await new Promise((r) => setTimeout(r, 0));
      onCall(call, calls.length);
      calls.push(call);
      const n = event.Records.length;
      const counts = { received: n, inState: n, late: 0, deadLettered: 0, skippedCommitted: 0 };
      const report = { shardId: shardId(id), counts, kplDeadLettered: 0, results: 0 };
      return { batchItemFailures: [], reports: [report as unknown as BatchReport] };
    },
  };
}

const plan = (id: string, waitsFor: string[] = []): PlannedShard => ({
  shardId: id,
  start: { type: 'TRIM_HORIZON' },
  waitsFor,
});

describe('replayShards in lockstep by arrival time', () => {
  it('GIVEN two shards, one far ahead in records WHEN replayed in slices of 100 ms THEN no record is handed before every earlier slice of every shard', async () => {
    // a: 40 records in 0..390 ms; b: 4 records, one per 100 ms. Independently, a would run to its end first.
    const a = Array.from({ length: 40 }, (_, i) => i * 10);
    const b = [5, 105, 205, 305];
    const { source: src } = source({ a, b }, 7);
    const t = target();
    const out = await replayShards({
      source: src,
      target: t,
      plan: [plan('a'), plan('b')],
      sliceMs: 100,
      chunkRecords: 4,
    });
    expect(out.records).toBe(44);
    // Every call lies in one slice, and the slices of the calls never go back.
    const slices = t.calls.map((c) => {
      const s = Math.floor(c.arrivals[0]! / 100);
      expect(c.arrivals.every((x) => Math.floor(x / 100) === s)).toBe(true);
      return s;
    });
    expect(slices).toEqual([...slices].sort((x, y) => x - y));
    // b's record of slice k is handed before a's records of slice k + 1.
    const at = (shard: string, arrival: number) =>
      t.calls.findIndex((c) => c.shard === shard && c.arrivals.includes(arrival));
    for (const [k, x] of b.entries())
      if (k < 3) expect(at('b', x)).toBeLessThan(at('a', (k + 1) * 100));
    // At most chunkRecords per call, every record once, in order per shard.
    expect(Math.max(...t.calls.map((c) => c.arrivals.length))).toBeLessThanOrEqual(4);
    expect(t.calls.filter((c) => c.shard === 'a').flatMap((c) => c.arrivals)).toEqual(a);
  });

  it('GIVEN a gap of hours in arrivals WHEN replayed THEN rounds jump to the next arrival (no empty rounds)', async () => {
    const hour = 3_600_000;
    const { source: src } = source({ a: [0, 10 * hour], b: [5 * hour] }, 10);
    const t = target();
    await replayShards({ source: src, target: t, plan: [plan('a'), plan('b')], sliceMs: 1 });
    expect(t.calls.map((c) => [c.shard, ...c.arrivals])).toEqual([
      ['a', 0],
      ['b', 5 * hour],
      ['a', 10 * hour],
    ]);
  });

  it('GIVEN a split and a merge WHEN replayed THEN a child is read only after all its parents are read to their end, then joins the rounds', async () => {
    const { source: src, log } = source(
      {
        a: [0, 100, 200],
        b: [0, 50, 100, 150, 200, 250, 300, 350],
        c: [210, 400],
        d: [220],
        e: [500],
      },
      2,
    );
    const t = target();
    const done: number[] = [];
    await replayShards({
      source: src,
      target: t,
      plan: [plan('a'), plan('b'), plan('c', ['a']), plan('d', ['a']), plan('e', ['c', 'b'])],
      sliceMs: 100,
      onProgress: (p) => done.push(p.shardsDone),
    });
    const at = (s: string) => log.events.indexOf(s);
    expect(at('start c')).toBeGreaterThan(at('end a'));
    expect(at('start d')).toBeGreaterThan(at('end a'));
    expect(at('start e')).toBeGreaterThan(Math.max(at('end c'), at('end b')));
    const first = (s: string) => t.calls.findIndex((c) => c.shard === s);
    const last = (s: string) => t.calls.map((c) => c.shard).lastIndexOf(s);
    expect(first('c')).toBeGreaterThan(last('a'));
    // c (arrivals from 210) is handed before b's records of 300..350: the child catches up in the rounds.
    expect(first('c')).toBeLessThan(t.calls.findIndex((c) => c.arrivals.includes(300)));
    expect(done.at(-1)).toBe(5);
  });

  it('GIVEN a shard of 50 pages WHEN replayed with read-ahead 2 THEN it is never more than 3 pages ahead of what was handed', async () => {
    const arrivals = Array.from({ length: 100 }, (_, i) => i);
    const { source: src, log } = source({ a: arrivals }, 2);
    let handed = 0;
    let maxAhead = 0;
    const t = target((c) => {
      handed += c.arrivals.length;
      maxAhead = Math.max(maxAhead, (log.pagesRead.get('a') ?? 0) - Math.ceil(handed / 2));
    });
    await replayShards({
      source: src,
      target: t,
      plan: [plan('a')],
      sliceMs: 1_000_000,
      chunkRecords: 2,
      readAheadPages: 2,
    });
    expect(handed).toBe(100);
    expect(maxAhead).toBeGreaterThan(0); // it does read ahead
    expect(maxAhead).toBeLessThanOrEqual(3);
  });

  it('GIVEN a call that keeps failing on one shard WHEN replayed THEN ReplayBatchError, no call starts after it, and every reader is closed', async () => {
    const many = Array.from({ length: 60 }, (_, i) => i * 10);
    const { source: src, log } = source({ a: many, b: many, c: many }, 5);
    let failedAt = -1;
    const t = target((c, index) => {
      if (c.shard === 'b' && c.arrivals.includes(200)) {
        failedAt = index;
        throw new Error('boom');
      }
    });
    const handle = t.handle.bind(t);
    const failing = {
      async handle(event: KinesisStreamEvent) {
        try {
          return await handle(event);
        } catch {
          return { batchItemFailures: [{ itemIdentifier: '1' }], reports: [] };
        }
      },
    };
    await expect(
      replayShards({
        source: src,
        target: failing,
        plan: [plan('a'), plan('b'), plan('c')],
        sliceMs: 100,
        concurrency: 3,
        attempts: 2,
      }),
    ).rejects.toThrow(ReplayBatchError);
    expect(failedAt).toBeGreaterThan(0);
    // Calls already in flight may end; none of a later slice starts.
    expect(Math.max(...t.calls.flatMap((c) => c.arrivals))).toBeLessThan(300);
    expect([...log.closed].sort()).toEqual(['a', 'b', 'c']);
  });

  it('GIVEN a source whose read fails WHEN replayed THEN the replay rejects with its error', async () => {
    const src: ReplaySource = {
      streamArn: ARN,
      shards: () => Promise.resolve([]),
      checkRetained: () => Promise.resolve(),
      async *read() {
        await Promise.resolve();
        yield* [];
        throw new Error('GetRecords failed');
      },
    };
    await expect(
      replayShards({ source: src, target: target(), plan: [plan('a')] }),
    ).rejects.toThrow('GetRecords failed');
  });
});

describe('ShardReader', () => {
  it('GIVEN pages WHEN taken up to an arrival bound THEN records stop at the bound and at max, across pages', async () => {
    async function* pages() {
      await Promise.resolve();
      yield records([0, 1, 2]);
      yield records([3, 4, 10]);
    }
    const r = new ShardReader(pages(), 1);
    expect((await r.take(4, 10)).map((x) => x.ApproximateArrivalTimestamp.getTime())).toEqual([
      0, 1, 2, 3,
    ]);
    expect((await r.take(100, 1)).length).toBe(1);
    expect((await r.peek())?.ApproximateArrivalTimestamp.getTime()).toBe(10);
    expect((await r.take(100, 10)).length).toBe(1);
    expect(await r.peek()).toBeUndefined();
    await r.close();
  });
});
