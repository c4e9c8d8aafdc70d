/**
 * The operator runtime around the engine: Lambda events in, batchItemFailures
 * out, side outputs before progress, outbox re-drive after a sink failure.
 */
import { describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemoryStateStore,
  count,
  json,
  pipeline,
  tumbling,
  aggregate,
  shardId,
  ManualClock,
  OperatorRuntime,
  type ShardDirectory,
} from '../../../lib/index.ts';
import { CrashingStateStore } from '../../../lib/testing/index.ts';
import type { RuntimeLog } from '../../../lib/runtime/operator-runtime.ts';
import { buildKinesisEvent } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import type { ShardInfo } from '../../../lib/ports/shard-directory.ts';

interface Ev {
  k: string;
  t: number;
}
const definition = pipeline('op')
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t)
  .window(tumbling(10))
  .allowedLateness(0)
  .sideOutputLateData('late')
  .aggregate(count());

const SHARD = 'shardId-000000000000';
let seq = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
function event(payloads: readonly (string | Uint8Array)[]): KinesisStreamEvent {
  return buildKinesisEvent(
    payloads.map((p) => {
      seq += 10n;
      return {
        SequenceNumber: String(seq),
        PartitionKey: 'pk',
        Data: typeof p === 'string' ? Buffer.from(p) : p,
        ApproximateArrivalTimestamp: new Date(1_700_000_000_000),
      };
    }),
    {
      shardId: SHARD,
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
    },
  );
}

/** A hand-written shard directory: open shards, and which of them have records waiting. */
class FakeShards implements ShardDirectory {
  backlogged = new Set<string>();
  constructor(private readonly ids: readonly string[]) {}
  listShards(): Promise<readonly ShardInfo[]> {
    return Promise.resolve(this.ids.map((id) => ({ shardId: shardId(id), closed: false })));
  }
  isConsumed(): Promise<boolean> {
    return Promise.resolve(false);
  }
  hasRecordsAfter(shardId: string): Promise<boolean> {
    return Promise.resolve(this.backlogged.has(shardId));
  }
}

function setup() {
  const store = new InMemoryStateStore();
  // Crashes are injected where a test says; otherwise every call goes to `store`.
  const crashing = new CrashingStateStore(store);
  const results = new InMemoryResultSink();
  const late = new InMemoryLateRecordSink();
  const deadLetter = new InMemoryDeadLetterOutput();
  const runtime = new OperatorRuntime({
    definition,
    store: crashing,
    clock: new ManualClock(0),
    results,
    lateOutputs: { late },
    deadLetter,
    log: () => undefined,
  });
  return { store, crashing, results, late, deadLetter, runtime };
}

const ev = (k: string, t: number): string => JSON.stringify({ k, t });

describe('OperatorRuntime', () => {
  it('GIVEN no sink for the late-data tag WHEN constructed THEN it fails naming the tag', () => {
    expect(
      () =>
        new OperatorRuntime({
          definition,
          store: new InMemoryStateStore(),
          clock: new ManualClock(0),
          results: new InMemoryResultSink(),
          lateOutputs: {},
          deadLetter: new InMemoryDeadLetterOutput(),
        }),
    ).toThrow(
      /lateOutputs must have a sink for side output "late", where operator op routes late data .*\(given \[\]\)/,
    );
  });

  it('GIVEN a batch WHEN handled THEN due windows reach the sink, late records the late output, and the outbox is empty', async () => {
    const { runtime, results, late } = setup();
    await runtime.handle(event([ev('a', 1), ev('a', 2), ev('b', 15)]));
    const out = await runtime.handle(event([ev('a', 3), ev('c', 30)]));
    expect(out.batchItemFailures).toEqual([]);
    expect(results.results().map((r) => [r.key, r.window.start, r.value, r.version])).toEqual([
      ['a', 0, 2, 1],
      ['b', 10, 1, 1],
    ]);
    expect(late.items().map((l) => [l.eventTime, l.windows[0]?.start, l.reason])).toEqual([
      [3, 0, 'window-closed'],
    ]);
    expect(await runtime.operator.pendingResults()).toEqual([]);
  });

  it('GIVEN broken KPL aggregates and invalid base64 WHEN handled THEN both are dead-lettered with reasons and the rest applied', async () => {
    const { runtime, deadLetter, store } = setup();
    const good = aggregate([
      { data: Buffer.from(ev('a', 1)), partitionKey: 'x' },
      { data: Buffer.from(ev('a', 2)), partitionKey: 'y' },
    ]);
    const broken = new Uint8Array(good.data);
    broken[broken.length - 1] = (broken[broken.length - 1] ?? 0) ^ 1;
    const e = event([good.data, broken, ev('a', 3)]);
    const bad = e.Records[2];
    if (bad) (bad.kinesis as { data: string }).data = '!!not base64!!';
    await runtime.handle(e);
    const reasons = deadLetter.entries().map((d) => [d.kind, d.reason.slice(0, 30)]);
    expect(reasons).toEqual([
      ['kpl', expect.stringContaining('KPL aggregate at sequence') as unknown],
      ['decode', 'kinesis.data is not valid base'],
    ]);
    const item = store.allItems('op').find((i) => i.key === 'a');
    expect(item?.accumulator).toBe(2);
  });

  it('GIVEN the state store fails mid-batch WHEN handled THEN batchItemFailures names the lowest unapplied record, and the retry applies it once', async () => {
    const { runtime, crashing, results } = setup();
    await runtime.handle(event([ev('a', 1)]));
    const e = event([ev('a', 2), ev('a', 3), ev('b', 25)]);
    crashing.crashDuringNextStateUpdate(0);
    const failed = await runtime.handle(e);
    expect(failed.batchItemFailures).toEqual([
      { itemIdentifier: e.Records[0]?.kinesis.sequenceNumber },
    ]);
    const retried = await runtime.handle(e);
    expect(retried.batchItemFailures).toEqual([]);
    expect(results.results().map((r) => [r.key, r.value])).toEqual([['a', 3]]);
  });

  it('GIVEN the result sink is down when a window fires WHEN the ticker runs later THEN the outbox re-drives it exactly once', async () => {
    const { runtime, results } = setup();
    results.failNext(1);
    const out = await runtime.handle(event([ev('a', 1), ev('a', 12)]));
    // The records are durably applied: no retry is requested for a sink outage.
    expect(out.batchItemFailures).toEqual([]);
    expect(results.results()).toEqual([]);
    expect((await runtime.operator.pendingResults()).map((r) => [r.key, r.version])).toEqual([
      ['a', 1],
    ]);
    const tick = await runtime.tick();
    expect(tick.redriven).toBe(1);
    expect(results.results().map((r) => [r.key, r.value, r.version])).toEqual([['a', 1, 1]]);
    expect((await runtime.tick()).redriven).toBe(0);
  });

  describe('with a shard directory', () => {
    const idleDefinition = pipeline('op')
      .decode(json<Ev>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t, { idleTimeout: 1000, idleAdvance: true })
      .window(tumbling(10))
      .sideOutputLateData('late')
      .aggregate(count());

    function withShards(shards: FakeShards, clock: ManualClock, log: RuntimeLog = () => undefined) {
      const store = new InMemoryStateStore();
      const results = new InMemoryResultSink();
      const late = new InMemoryLateRecordSink();
      const runtime = new OperatorRuntime({
        definition: idleDefinition,
        store,
        clock,
        results,
        lateOutputs: { late },
        deadLetter: new InMemoryDeadLetterOutput(),
        shards,
        log,
      });
      return { runtime, store, results, late };
    }

    it('GIVEN a shard silent past half the idle timeout but with records waiting WHEN the ticker runs THEN it is not idle and the watermark does not jump', async () => {
      const clock = new ManualClock(0);
      const shards = new FakeShards([SHARD]);
      const { runtime, results } = withShards(shards, clock);
      await runtime.handle(event([ev('a', 1)]));
      shards.backlogged.add(SHARD); // Lambda keeps failing the next batch: records wait
      for (let t = 600; t <= 5000; t += 600) {
        clock.set(t);
        await runtime.tick();
      }
      expect(results.results()).toEqual([]);
      shards.backlogged.clear(); // drained: now it may go idle and idleAdvance closes the window
      clock.set(10_000);
      await runtime.tick();
      expect(results.results().map((r) => [r.key, r.value])).toEqual([['a', 1]]);
    });

    it('GIVEN two open shards WHEN only one has delivered THEN the other holds the watermark back until it delivers or goes idle', async () => {
      const clock = new ManualClock(0);
      const OTHER = 'shardId-000000000001';
      const shards = new FakeShards([SHARD, OTHER]);
      const { runtime, results } = withShards(shards, clock);
      // The cold start registers both shards before the first batch can move the watermark.
      const first = await runtime.handle(event([ev('a', 1), ev('a', 50)]));
      expect(first.reports[0]?.watermark).toBe(-Infinity);
      expect(results.results()).toEqual([]);
      clock.set(500);
      await runtime.tick(); // the other shard is registered and not idle yet
      expect(results.results()).toEqual([]);
      clock.set(1600); // both idle now: idleAdvance moves the watermark to 1600 - 1000
      await runtime.tick();
      expect(results.results().map((r) => [r.key, r.window.start, r.value])).toEqual([
        ['a', 0, 1],
        ['a', 50, 1],
      ]);
    });

    it('GIVEN ListShards failing WHEN a batch arrives THEN it is processed anyway, a warning is logged, and the next batch registers', async () => {
      const clock = new ManualClock(0);
      const OTHER = 'shardId-000000000001';
      const shards = new FakeShards([SHARD, OTHER]);
      let failures = 1;
      const listShards = shards.listShards.bind(shards);
      shards.listShards = () =>
        failures-- > 0
          ? Promise.reject(new Error('AccessDeniedException: kinesis:ListShards'))
          : listShards();
      const logs: Record<string, unknown>[] = [];
      const { runtime, store } = withShards(shards, clock, (e) => logs.push(e));
      const first = await runtime.handle(event([ev('a', 1)]));
      expect(first.batchItemFailures).toEqual([]);
      expect(first.reports[0]?.counts.inState).toBe(1);
      expect(logs.find((e) => e['msg'] === 'shard registration failed')).toMatchObject({
        level: 'WARN',
      });
      expect((await store.readProgress('op')).shards.map((p) => p.shardId)).toEqual([SHARD]);
      await runtime.handle(event([ev('a', 2)]));
      expect((await store.readProgress('op')).shards.map((p) => p.shardId).sort()).toEqual([
        SHARD,
        OTHER,
      ]);
    });

    it('GIVEN a shard registered by a tick WHEN its first batch commits THEN registration never moves its progress backwards', async () => {
      const clock = new ManualClock(0);
      const shards = new FakeShards([SHARD]);
      const { runtime, store } = withShards(shards, clock);
      expect(await runtime.registerShards()).toEqual([SHARD]);
      await runtime.handle(event([ev('a', 1)]));
      expect(await runtime.registerShards()).toEqual([]); // known: left alone
      const [p] = (await store.readProgress('op')).shards;
      expect(p?.committed).not.toBeNull();
      expect(p?.watermark).toBe(1);
    });
  });
});
