/**
 * `weir redrive` against what a restore's replay applied (the shards'
 * `replayed` spans) and the shards' failing ranges (docs/recovery.md,
 * "What a restore does to redriven ranges", "Partial writes of the given-up
 * attempts"), on the in-memory ports: a range wholly, partly (straddling the
 * replay's start or its end) or not replayed, a replay that did not finish,
 * and the failing range a failed batch records, a commit and a redrive remove.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../../lib/adapters/memory/index.ts';
import { json, pipeline, sum, tumbling } from '../../../lib/core/index.ts';
import { encodeOffset, sequenceNumber, shardId as toShardId } from '../../../lib/model/position.ts';
import type { ReplayedSpan } from '../../../lib/model/shard-ranges.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import type { WindowWrite } from '../../../lib/ports/state-store.ts';
import type { KinesisFailureRecord } from '../../../lib/runtime/local/esm/failure-record.ts';
import {
  buildKinesisEvent,
  type StreamRecordInput,
} from '../../../lib/runtime/local/esm/kinesis-event.ts';
import { OperatorRuntime } from '../../../lib/runtime/operator-runtime.ts';
import {
  InMemoryFailedBatches,
  redrive,
  type RangeRecordReader,
} from '../../../lib/runtime/redrive/index.ts';

const OP = 'redrive-restore';
const SHARD = toShardId('shardId-000000000000');
const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/s';

interface Ev {
  readonly k: string;
  readonly t: number;
  readonly v: number;
}

const definition = pipeline(OP)
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
  .window(tumbling(1_000_000))
  .allowedLateness(0)
  .sideOutputLateData('late')
  .aggregate(sum((e: Ev) => e.v));

/** Record `i` (1-based): sequence number 1000 + i, value 2^i (so every sum names its records). */
const seq = (i: number): string => String(1000 + i);
const off = (i: number): string =>
  encodeOffset({ sequenceNumber: sequenceNumber(seq(i)), subSequenceNumber: 0 });
/** Key `k`, but record 5 of key `j`. */
const records: StreamRecordInput[] = Array.from({ length: 10 }, (_, n) => ({
  SequenceNumber: seq(n + 1),
  PartitionKey: 'k',
  Data: new TextEncoder().encode(
    JSON.stringify({ k: n + 1 === 5 ? 'j' : 'k', t: 10 + n, v: 2 ** (n + 1) }),
  ),
  ApproximateArrivalTimestamp: new Date(0),
}));
const valueOf = (...is: number[]): number => is.reduce((s, i) => s + 2 ** i, 0);

/** Fails every state write while `failing` (the prefix of `prefix` groups applied first). */
class FaultyStore extends InMemoryStateStore {
  failing = false;
  prefix = 0;
  override async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    if (!this.failing) return super.write(operator, groups, generation);
    if (this.prefix > 0) await super.write(operator, groups.slice(0, this.prefix), generation);
    throw new Error('throttled (simulated)');
  }
}

function setup() {
  const store = new FaultyStore();
  const clock = new ManualClock(1_000_000);
  const runtime = new OperatorRuntime({
    definition,
    store,
    clock,
    results: new InMemoryResultSink(),
    lateOutputs: { late: new InMemoryLateRecordSink() },
    deadLetter: new InMemoryDeadLetterOutput(),
    log: () => undefined,
  });
  const readRange: RangeRecordReader = async function* (info) {
    yield await Promise.resolve(
      records.filter(
        (r) =>
          BigInt(r.SequenceNumber) >= BigInt(info.startSequenceNumber) &&
          BigInt(r.SequenceNumber) <= BigInt(info.endSequenceNumber),
      ),
    );
  };
  const handle = (from: number, to: number) =>
    runtime.handle(
      buildKinesisEvent(records.slice(from - 1, to), {
        shardId: SHARD,
        streamArn: STREAM,
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'test',
      }),
    );
  const failure = (from: number, to: number): KinesisFailureRecord => ({
    requestContext: {
      requestId: 'r',
      functionArn: 'f',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
    },
    version: '1.0',
    timestamp: '2026-01-01T00:00:00.000Z',
    KinesisBatchInfo: {
      shardId: SHARD,
      startSequenceNumber: seq(from),
      endSequenceNumber: seq(to),
      approximateArrivalOfFirstRecord: '2026-01-01T00:00:00.000Z',
      approximateArrivalOfLastRecord: '2026-01-01T00:00:00.000Z',
      batchSize: to - from + 1,
      streamArn: STREAM,
    },
  });
  const run = (failures: InMemoryFailedBatches, dryRun = false) =>
    redrive({ operator: OP, runtime, store, failures, readRange, clock, dryRun });
  const total = (): number => store.allItems(OP).reduce((s, i) => s + (i.accumulator as number), 0);
  const shard = async () => (await store.readProgress(OP)).shards.find((s) => s.shardId === SHARD);
  /** The shard's progress as a restore left it: committed through `committed`, with `spans`. */
  const restored = async (committed: number, spans: ReplayedSpan[]) => {
    await store.writeShardProgress(
      OP,
      {
        shardId: SHARD,
        committed: off(committed),
        watermark: null,
        lastActivity: 1,
        closed: false,
        replayed: spans,
      },
      0,
    );
  };
  return { store, handle, failure, run, total, shard, restored };
}

const last = (i: number): string => `${off(i).split('.')[0] as string}.9999999999`;

describe('redrive after a restore: the replayed spans', () => {
  it('GIVEN a range wholly inside a finished span WHEN redriven (and dry-run) THEN replayed-by-restore, nothing written', async () => {
    const t = setup();
    await t.restored(10, [{ after: off(2), upTo: last(10), done: true }]);
    const failures = new InMemoryFailedBatches([t.failure(4, 6)]);
    const dry = await t.run(failures, true);
    expect(dry.ranges.map((r) => [r.status, r.replayedByRestore])).toEqual([
      ['replayed-by-restore', 'all'],
    ]);
    const report = await t.run(failures);
    expect(report.ranges.map((r) => r.status)).toEqual(['replayed-by-restore']);
    expect(failures.records).toEqual([]);
    expect(t.total()).toBe(0);
    expect((await t.store.readProgress(OP)).shards.map((s) => s.shardId)).toEqual([SHARD]);
  });

  it('GIVEN a range straddling the replay start WHEN redriven THEN only its records at or before the start are applied', async () => {
    const t = setup();
    // The checkpoint's position was record 5: the replay applied 6..10.
    await t.restored(10, [{ after: off(5), upTo: last(10), done: true }]);
    const failures = new InMemoryFailedBatches([t.failure(3, 7)]);
    const dry = await t.run(failures, true);
    expect(dry.ranges.map((r) => [r.status, r.replayedByRestore])).toEqual([
      ['would-redrive', 'part'],
    ]);
    const report = await t.run(failures);
    expect(report.ranges[0]).toMatchObject({
      status: 'applied',
      replayedByRestore: 'part',
      balanced: true,
      counts: { records: 5, inState: 3, alreadyRedriven: 2 },
    });
    expect(t.total()).toBe(valueOf(3, 4, 5));
    // Run again: done.
    expect((await t.run(new InMemoryFailedBatches([t.failure(3, 7)]))).ranges[0]?.status).toBe(
      'already-redriven',
    );
    expect(t.total()).toBe(valueOf(3, 4, 5));
  });

  it('GIVEN a range straddling the replay end (a batch given up after the mapping resumed) WHEN redriven THEN only its records after the end are applied', async () => {
    const t = setup();
    await t.restored(10, [{ after: null, upTo: last(5), done: true }]);
    const report = await t.run(new InMemoryFailedBatches([t.failure(4, 8)]));
    expect(report.ranges[0]).toMatchObject({ status: 'applied', replayedByRestore: 'part' });
    expect(t.total()).toBe(valueOf(6, 7, 8));
  });

  it('GIVEN a range below the replay start WHEN redriven THEN it is applied whole', async () => {
    const t = setup();
    await t.restored(10, [{ after: off(6), upTo: last(10), done: true }]);
    const report = await t.run(new InMemoryFailedBatches([t.failure(2, 4)]));
    expect(report.ranges[0]).toMatchObject({ status: 'applied', replayedByRestore: 'none' });
    expect(t.total()).toBe(valueOf(2, 3, 4));
  });

  it('GIVEN a replay that started and did not finish WHEN redriven THEN every range not done fails, naming the restore, and stays', async () => {
    const t = setup();
    await t.restored(7, [{ after: off(5), upTo: null, done: false }]);
    const failures = new InMemoryFailedBatches([t.failure(1, 2)]);
    const report = await t.run(failures);
    expect(report.failed).toBe(1);
    expect(report.ranges[0]?.error).toMatch(/has not finished.*weir restore/);
    expect(failures.records).toHaveLength(1);
    expect(t.total()).toBe(0);
  });
});

describe('failing ranges', () => {
  it('GIVEN a batch that fails after a partial write WHEN answered THEN its unapplied records are a failing range; the successful retry removes it', async () => {
    const t = setup();
    await t.handle(1, 2);
    t.store.failing = true;
    const failed = await t.handle(3, 5);
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: seq(3) }]);
    expect((await t.shard())?.failing).toEqual([{ start: seq(3), end: seq(5) }]);
    t.store.failing = false;
    await t.handle(3, 5);
    expect((await t.shard())?.failing).toBeUndefined();
    expect(t.total()).toBe(valueOf(1, 2, 3, 4, 5));
  });

  it('GIVEN a given-up batch that wrote an item, a later batch committed past it and a third raising that item WHEN redriven THEN its records count once', async () => {
    const t = setup();
    // The given-up attempt (3..4) wrote k's window; batch 5 (key j) commits past the range without
    // touching it; batch 6..7 raises k's window only then.
    await t.handle(1, 2);
    t.store.failing = true;
    t.store.prefix = 1;
    await t.handle(3, 4);
    t.store.failing = false;
    t.store.prefix = 0;
    expect((await t.shard())?.failing).toEqual([{ start: seq(3), end: seq(4) }]);
    await t.handle(5, 5);
    await t.handle(6, 7);
    const report = await t.run(new InMemoryFailedBatches([t.failure(3, 4)]));
    expect(report.ranges[0]).toMatchObject({ status: 'applied', balanced: true });
    expect(t.total()).toBe(valueOf(1, 2, 3, 4, 5, 6, 7));
    // The redrive removed the range it applied.
    expect((await t.shard())?.failing).toBeUndefined();
  });
});
