/**
 * Restore + replay (issue 9, "Done when"): the operator runtime, driven by a
 * simulated Kinesis stream and event source mapping over in-memory ports
 * that crash (retries, bisects, re-deliveries, timeouts, cold starts, ticks,
 * resharding, purges), takes a checkpoint at a random moment while a batch
 * is in flight, goes on processing, loses its state (the store is wiped),
 * restores the checkpoint (`restoreState`) and replays every shard from the
 * manifest's positions through the same batch path (parents before children,
 * from the start for shards the manifest does not know). Every scenario must
 * end with:
 *
 *   (a) the final results at the result sink equal the independent
 *       reference's (reference.ts) for the whole stream;
 *   (b) no (key, window, ordering) ever offered to the sink with two values,
 *       and never stored twice.
 *
 * Allowed lateness is larger than any event-time distance in the stream, so
 * no record is late: the final results are then a function of the records
 * alone, whatever the interleaving of live processing and replay (lateness
 * across a restore follows the restored watermark, docs/recovery.md).
 *
 * A second, deterministic test: a batch that read generation g and writes
 * after a restore raised it to g + 1 is refused (FencedError) and nothing of
 * it lands; its retry is judged by the restored state.
 *
 * Seeded and reproducible: FC_SEED=<n> overrides the seed printed below,
 * FC_RUNS=<n> the runs per window kind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignerArb } from './arbitraries.ts';
import { runReference } from './reference.ts';
import type { RefConfig, RefStep } from './reference.ts';
import { InMemoryCheckpointStore } from '../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../lib/adapters/memory/index.ts';
import {
  CheckpointTaker,
  restoreState,
  withReplayStarts,
} from '../../lib/core/checkpoint/index.ts';
import { createWindowOperator } from '../../lib/core/operator.ts';
import { json, pipeline, sum, tumbling } from '../../lib/core/index.ts';
import { FencedError } from '../../lib/errors.ts';
import { decodeOffset, position, shardId, type ShardId } from '../../lib/model/position.ts';
import type { SourceRecord, WindowResult } from '../../lib/model/records.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import type { Sink } from '../../lib/ports/sink.ts';
import type { WindowWrite } from '../../lib/ports/state-store.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/kinesis-event.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import { FaultPlan, faultySink, faultyStateStore } from '../../lib/testing/faults.ts';
import { seededRandom } from '../../lib/testing/random.ts';
import {
  SimulatedEsm,
  SimulatedKinesis,
  type SimulatedFunction,
} from '../../lib/testing/simulated-esm.ts';

const SEED = process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 20_261_201;
const RUNS = process.env['FC_RUNS'] !== undefined ? Number(process.env['FC_RUNS']) : 170;
console.log(
  `restore + replay properties: seed ${SEED}, ${RUNS} runs per window kind (override with FC_SEED / FC_RUNS)`,
);

const OP = 'restore-prop';
/** Far beyond every event time of a scenario: nothing is ever late. */
const LATENESS = 1_000_000;
const FLUSH_T = 100_000_000;
const FLUSH = JSON.stringify({ k: '~flush', t: FLUSH_T, v: 0 });
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 7] as const;

const eventArb = fc.record({
  k: fc.nat(7),
  jitter: fc.integer({ min: -150, max: 150 }),
  v: fc.integer({ min: -5, max: 20 }),
  bad: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 20 },
    { arbitrary: fc.constantFrom('not json{', '{"k":"a","v":1}', 'null'), weight: 1 },
  ),
});

function scenarioArb(kind: RefConfig['kind']) {
  return fc.record({
    win: assignerArb(kind, 6),
    ooo: fc.constantFrom(0, 50, 200),
    keys: fc.integer({ min: 1, max: KEYS.length }),
    initialShards: fc.integer({ min: 1, max: 3 }),
    shards: fc.array(
      fc.record({
        step: fc.integer({ min: 0, max: 40 }),
        events: fc.array(eventArb, { maxLength: 12 }),
      }),
      { minLength: 7, maxLength: 7 },
    ),
    reshards: fc.array(
      fc.record({ op: fc.constantFrom('split', 'merge'), a: fc.nat(5), b: fc.nat(5) }),
      { maxLength: 2 },
    ),
    esm: fc.record({
      seed: fc.integer(),
      before: fc.integer({ min: 0, max: 30 }),
      after: fc.integer({ min: 0, max: 40 }),
      batchSize: fc.integer({ min: 1, max: 8 }),
      bisect: fc.boolean(),
      parentFirst: fc.boolean(),
      timeoutRate: fc.constantFrom(0, 0.1),
      duplicateRate: fc.constantFrom(0, 0.1),
      tickRate: fc.constantFrom(0.05, 0.2),
    }),
    faults: fc.record({ seed: fc.integer(), rate: fc.constantFrom(0, 0.03, 0.1) }),
    checkpoint: fc.record({
      segments: fc.integer({ min: 1, max: 4 }),
      pageSize: fc.integer({ min: 1, max: 6 }),
    }),
    replayBatch: fc.integer({ min: 1, max: 12 }),
  });
}

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

const stats = { scenarios: 0, replayed: 0, refiredAfterRestore: 0, restoredItems: 0 };

async function check(kind: RefConfig['kind'], s: Scenario): Promise<void> {
  const config: RefConfig = {
    kind,
    size: s.win.size,
    slide: s.win.slide,
    offset: s.win.offset,
    gap: s.win.gap,
    ooo: s.ooo,
    lateness: LATENESS,
    idleTimeout: undefined,
    idleAdvance: false,
  };
  const definition = pipeline(OP)
    .decode(json<{ k: string; t: number; v: number }>())
    .keyBy((e) => e.k)
    .eventTime((e) => e.t, { maxOutOfOrderness: config.ooo })
    .window(s.win.assigner)
    .allowedLateness(LATENESS)
    .aggregate(sum((e) => e.v));

  const clock = new ManualClock(0);
  const kinesis = new SimulatedKinesis(clock);
  const random = seededRandom(s.esm.seed);

  // The stream, as runtime-faults.property.test.ts builds it: children get their records at reshard time.
  let budget = 50;
  let nextEvents = 0;
  const base = new Map<string, number>();
  const fill = (id: ShardId, start: number): void => {
    const spec = s.shards[nextEvents++];
    base.set(id, start);
    if (spec === undefined) return;
    const events = spec.events.slice(0, Math.max(0, budget));
    budget -= events.length;
    events.forEach((e, i) => {
      const k = KEYS[e.k % s.keys] as string | number;
      kinesis.put(
        id,
        e.bad ??
          JSON.stringify({ k, t: Math.max(0, 200 + (start + i) * spec.step + e.jitter), v: e.v }),
        `pk-${String(k)}`,
      );
    });
    base.set(id, start + events.length);
  };
  for (let i = 0; i < s.initialShards; i++) fill(kinesis.createShard().shardId, 0);
  const reshards = [...s.reshards];
  const reshard = (): void => {
    const r = reshards.shift();
    if (r === undefined) return;
    const open = kinesis.shards.filter((x) => !x.closed);
    const a = open[r.a % open.length];
    if (a === undefined) return;
    const end = (id: string): number => base.get(id) ?? 0;
    if (r.op === 'split' || open.length < 2) {
      for (const c of kinesis.split(a.shardId)) fill(c.shardId, end(a.shardId));
      return;
    }
    const others = open.filter((x) => x !== a);
    const b = others[r.b % others.length] as (typeof open)[number];
    const c = kinesis.merge(a.shardId, b.shardId);
    fill(c.shardId, Math.max(end(a.shardId), end(b.shardId)));
  };

  // The ports: the in-memory state store under a fault plan, an observed result sink.
  const inner = new InMemoryStateStore();
  const plan = new FaultPlan({
    seed: s.faults.seed,
    rate: s.faults.rate,
    deathRate: 0.5,
    maxCrashes: 30,
  });
  const store = faultyStateStore(inner, plan);
  const resultSink = new InMemoryResultSink();
  const offered = new Map<string, string>(); // result id -> JSON value
  const conflicts: string[] = [];
  const observed: Sink<WindowResult> = {
    write(items) {
      for (const r of items) {
        const v = JSON.stringify(r.value);
        const prev = offered.get(r.id);
        if (prev !== undefined && prev !== v) conflicts.push(`${r.id}: ${prev} then ${v}`);
        if (prev === undefined) offered.set(r.id, v);
      }
      return resultSink.write(items);
    },
  };
  const unexpected: unknown[] = [];
  const runtime = (): SimulatedFunction =>
    new OperatorRuntime({
      definition,
      store,
      clock,
      results: faultySink(observed, plan, 'results'),
      lateOutputs: { [definition.lateDataTag]: new InMemoryLateRecordSink() },
      deadLetter: new InMemoryDeadLetterOutput(),
      shards: kinesis,
      log: (e) => {
        if (e['level'] === 'ERROR' && !String(e['error']).startsWith('SimulatedCrash'))
          unexpected.push(e);
      },
    });
  const esm = new SimulatedEsm({
    kinesis,
    clock,
    makeFunction: runtime,
    plan,
    random,
    settings: {
      batchSize: s.esm.batchSize,
      bisectBatchOnFunctionError: s.esm.bisect,
      maximumRetryAttempts: -1,
    },
    parentFirst: s.esm.parentFirst,
    timeoutRate: s.esm.timeoutRate,
    duplicateRate: s.esm.duplicateRate,
  });
  const step = async (): Promise<void> => {
    const r = random();
    if (r < s.esm.tickRate) await esm.tick();
    else if (r < s.esm.tickRate + 0.08 && reshards.length > 0) reshard();
    else await esm.deliverNext();
    clock.advance(Math.floor(random() * 60));
  };

  // Live processing, a checkpoint taken while a batch is in flight, more processing.
  for (let i = 0; i < s.esm.before; i++) await step();
  const checkpoints = new InMemoryCheckpointStore();
  const taker = new CheckpointTaker({
    state: inner,
    checkpoints,
    clock,
    operator: OP,
    streamArn: kinesis.streamArn,
    totalSegments: s.checkpoint.segments,
    pageSize: s.checkpoint.pageSize,
    mergingWindows: kind === 'session',
  });
  const [run] = await Promise.all([taker.take(), esm.deliverNext()]);
  if (run.status !== 'complete') throw new Error('expected a complete checkpoint');
  const manifest = run.manifest;
  for (let i = 0; i < s.esm.after; i++) await step();
  while (reshards.length > 0) reshard();
  for (const sh of kinesis.shards) if (!sh.closed) kinesis.put(sh.shardId, FLUSH, 'flush');

  // State loss, then restore and replay (no faults: the recovery itself is not under test here).
  plan.enabled = false;
  inner.wipe();
  const restored = await restoreState({
    state: inner,
    checkpoints,
    operator: OP,
    checkpoint: manifest.id,
    batchSize: 3,
  });
  expect(restored.generation).toBe(1);
  expect(restored.windows).toBe(manifest.items);
  stats.restoredItems += restored.windows;
  const writesBefore = resultSink.writes().length;
  const replay = runtime();
  const positions = new Map<string, string | null>(
    manifest.progress.shards.map((p) => [p.shardId, p.committed]),
  );
  // Creation order: parents before children.
  for (const sh of kinesis.shards) {
    const committed = positions.get(sh.shardId) ?? null;
    const after = committed === null ? null : BigInt(decodeOffset(committed).sequenceNumber);
    const from = after === null ? 0 : sh.records.findIndex((r) => BigInt(r.SequenceNumber) > after);
    if (from < 0) continue;
    for (let i = from; i < sh.records.length; i += s.replayBatch) {
      const batch = sh.records.slice(i, i + s.replayBatch);
      const event = buildKinesisEvent(batch, {
        shardId: sh.shardId,
        streamArn: kinesis.streamArn,
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-replay',
      });
      const response = await replay.handle(event);
      expect(response.batchItemFailures).toEqual([]);
      stats.replayed += batch.length;
    }
  }
  for (let i = 0; i < 3; i++) await replay.tick();
  await replay.redriveOutbox();
  stats.refiredAfterRestore += resultSink
    .writes()
    .slice(writesBefore)
    .filter((r) => (r.generation ?? 0) > 0).length;

  expect(unexpected).toEqual([]);
  expect(await inner.listOutbox(OP, 10_000, 1)).toEqual([]);

  // The reference: the whole stream, parents before children, the flush records last, closed shards closed, a tick.
  const data = kinesis.shards.map((sh) => sh.records.map((r) => new TextDecoder().decode(r.Data)));
  const flushed = (i: number): number => (data[i]?.at(-1) === FLUSH ? 1 : 0);
  const steps: RefStep[] = kinesis.shards.map((sh, shard) => ({
    kind: 'batch',
    shard,
    from: 0,
    to: sh.records.length - flushed(shard),
    now: clock.now(),
  }));
  kinesis.shards.forEach((sh, shard) => {
    if (flushed(shard) === 1)
      steps.push({
        kind: 'batch',
        shard,
        from: sh.records.length - 1,
        to: sh.records.length,
        now: clock.now(),
      });
  });
  kinesis.shards.forEach((sh, shard) => {
    if (sh.closed) steps.push({ kind: 'close', shard, now: clock.now() });
  });
  steps.push({ kind: 'tick', now: clock.now() });
  const expected = runReference(config, data, steps);
  expect(expected.late.size).toBe(0);

  // (a) final results: the highest ordering per window (a session merged into a larger one is not final).
  const stored = resultSink.results().filter((r) => r.key !== '~flush');
  const final = stored.filter(
    (r) =>
      kind !== 'session' ||
      !stored.some(
        (o) =>
          o !== r &&
          o.key === r.key &&
          o.window.start <= r.window.start &&
          r.window.end <= o.window.end,
      ),
  );
  const actual = new Map(final.map((r) => [`${r.key}|${r.window.start}|${r.window.end}`, r.value]));
  const want = new Map([...expected.results].filter(([k]) => !k.startsWith('~flush|')));
  expect(actual).toEqual(want);

  // (b) one value per (key, window, ordering) (the id names all of them); never stored twice.
  expect(conflicts).toEqual([]);
  const writes = resultSink.writes().map((r) => r.id);
  expect(new Set(writes).size).toBe(writes.length);
  stats.scenarios++;
}

describe('restore + replay from a checkpoint (fast-check, in-memory ports)', () => {
  for (const kind of ['tumbling', 'sliding', 'session'] as const) {
    it(`GIVEN a checkpoint taken mid-batch, more processing, state loss, restore and replay WHEN ${kind} windows run THEN results equal the reference`, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(kind), (s) => check(kind, s)),
        { numRuns: RUNS, seed: SEED + kind.length, endOnFailure: true },
      );
    }, 600_000);
  }

  it('GIVEN the scenarios WHEN counted THEN restores loaded items, replays re-applied records and re-fired windows', () => {
    console.log('restore + replay stats', stats);
    expect(stats.scenarios).toBe(3 * RUNS);
    expect(stats.restoredItems).toBeGreaterThan(0);
    expect(stats.replayed).toBeGreaterThan(0);
    expect(stats.refiredAfterRestore).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------- a fenced batch

/** An in-memory store whose next `write` waits for a gate: a batch held between its reads and its writes. */
class GatedStore extends InMemoryStateStore {
  gate: Promise<void> | undefined;
  reached: (() => void) | undefined;
  override async write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    const gate = this.gate;
    if (gate !== undefined) {
      this.gate = undefined;
      this.reached?.();
      await gate;
    }
    return super.write(operator, groups, generation);
  }
}

describe('a batch in flight during a restore', () => {
  it('GIVEN a batch that read generation 0 WHEN it writes after a restore raised the generation THEN it fails with FencedError, nothing of it lands, and its retry is judged by the restored state', async () => {
    const state = new GatedStore();
    const clock = new ManualClock(1_000);
    const definition = pipeline('fenced')
      .decode(json<{ k: string; t: number; v: number }>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
      .window(tumbling(100))
      .allowedLateness(LATENESS)
      .aggregate(sum((e) => e.v));
    const operator = createWindowOperator(definition, { store: state, clock });
    const shard = shardId('shardId-000000000000');
    const rec = (seq: number, k: string, t: number, v: number): SourceRecord => ({
      position: position(shard, String(1000 + seq)),
      data: Buffer.from(JSON.stringify({ k, t, v })),
      partitionKey: k,
    });
    await operator.processBatch(shard, [rec(1, 'a', 10, 1), rec(2, 'b', 20, 2)]);
    const checkpoints = new InMemoryCheckpointStore();
    const run = await new CheckpointTaker({
      state,
      checkpoints,
      clock,
      operator: 'fenced',
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    }).take();
    if (run.status !== 'complete') throw new Error('expected a complete checkpoint');
    const restoredItems = state.allItems('fenced');

    // The batch reads generation 0, then waits before its first write while the restore runs.
    let release!: () => void;
    state.gate = new Promise<void>((r) => (release = r));
    const reached = new Promise<void>((r) => (state.reached = r));
    const batch = [rec(3, 'a', 30, 4), rec(4, 'c', 40, 8)];
    const inFlight = operator.processBatch(shard, batch).then(
      () => undefined,
      (e: unknown) => e,
    );
    await reached;
    const restored = await restoreState({
      state,
      checkpoints,
      operator: 'fenced',
      checkpoint: 'latest',
    });
    expect(restored.generation).toBe(1);
    release();
    const error = await inFlight;
    expect(error).toBeInstanceOf(FencedError);
    expect((error as FencedError).generation).toBe(0);
    expect((error as FencedError).storedGeneration).toBe(1);

    // Nothing of it landed: the state is the checkpoint's, under generation 1.
    expect(state.allItems('fenced')).toEqual(restoredItems);
    const progress = await state.readProgress('fenced');
    expect(progress.generation).toBe(1);
    expect(progress.watermark).toBe(run.manifest.progress.watermark);
    // The manifest's positions, each with the span its replay starts (replay-spans.ts).
    expect(progress.shards).toEqual(withReplayStarts(run.manifest.progress).shards);

    // The retry reads generation 1 and applies the batch once.
    const retried = await operator.processBatch(shard, batch);
    expect(retried.counts.inState).toBe(2);
    expect(retried.counts.skippedCommitted).toBe(0);
    const again = await operator.processBatch(shard, batch);
    expect(again.counts.skippedCommitted).toBe(2);
    const byKey = new Map(state.allItems('fenced').map((i) => [i.key, i.accumulator]));
    expect(byKey.get('a')).toEqual(5);
    expect(byKey.get('c')).toEqual(8);
  });
});
