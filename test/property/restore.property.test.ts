/**
 * Restore + replay (issue 9, "Done when"): the operator runtime, driven by a
 * simulated Kinesis stream and event source mapping over in-memory ports
 * that crash (retries, bisects, re-deliveries, timeouts, cold starts, ticks,
 * resharding, purges), while a producer puts records over processing time
 * (their ApproximateArrivalTimestamp), takes a checkpoint at a random moment
 * while a batch is in flight and goes on processing to the end of the
 * stream. Then the state is lost (the store is wiped), the checkpoint is
 * restored (`restoreState`) and every shard is replayed from the manifest's
 * positions by `replayShards` (lockstep by arrival time, parents before
 * children, from the start for shards the manifest does not know).
 *
 * The reference (reference.ts) is fed the live run's schedule (live-schedule.ts,
 * as runtime-faults.property.test.ts does): it is what the live run decided,
 * and the live run must equal it. The replay is then compared with it, by
 * mode (docs/recovery.md, "Lateness in a replay"):
 *
 *   exact     one shard, no reshard, small lateness: a record's lateness is a
 *             function of its shard's records alone, so the replay must give
 *             the reference's final results AND its late output (for the
 *             replayed records, by position and window);
 *   large     any shards and reshards, lateness beyond every event-time
 *             distance: nothing is late, the results must equal the reference's;
 *   measured  any shards and reshards, small lateness: live judgments depend
 *             on how far the other shards had got, which the stream does not
 *             record. How often the replay disagrees is counted and printed,
 *             not asserted.
 *
 * Every mode: no (key, window, ordering) ever offered to the sink with two
 * values, never stored twice, no unexpected error, the outbox empty.
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
import { recordingStore } from './live-schedule.ts';
import { runReference } from './reference.ts';
import type { RefConfig, RefOutput, RefStep } from './reference.ts';
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
import type { CheckpointManifest } from '../../lib/model/checkpoint.ts';
import { decodeOffset, position, shardId, type ShardId } from '../../lib/model/position.ts';
import type { SourceRecord, WindowResult } from '../../lib/model/records.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import type { Sink } from '../../lib/ports/sink.ts';
import type { WindowWrite } from '../../lib/ports/state-store.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import { planReplay, replayShards, type ReplaySource } from '../../lib/runtime/restore/replay.ts';
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

type Mode = 'exact' | 'large' | 'measured';

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
    mode: fc.constantFrom<Mode>('exact', 'large', 'measured', 'measured'),
    win: assignerArb(kind, 6),
    ooo: fc.constantFrom(0, 50, 200),
    lateness: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
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
    /** Probability that an open shard gets its next record at a step. */
    putRate: fc.constantFrom(0.3, 0.6, 1),
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
    replay: fc.record({
      chunk: fc.integer({ min: 1, max: 12 }),
      page: fc.integer({ min: 1, max: 6 }),
      /** Live, the simulated mapping delivers a random shard every 0..59 ms. */
      sliceMs: fc.constantFrom(50, 100, 200),
    }),
  });
}

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

interface ModeStats {
  scenarios: number;
  /** Scenarios where the live run judged some replayed record late. */
  withLate: number;
  disagree: number;
  resultsDiffer: number;
  lateDiffer: number;
}
const modeStats = (): ModeStats => ({
  scenarios: 0,
  withLate: 0,
  disagree: 0,
  resultsDiffer: 0,
  lateDiffer: 0,
});
const stats = {
  scenarios: 0,
  replayed: 0,
  refiredAfterRestore: 0,
  restoredItems: 0,
  modes: { exact: modeStats(), large: modeStats(), measured: modeStats() },
  /** The measured mode by slice width and by whether the stream was resharded. */
  measured: {} as Record<string, ModeStats>,
};

/** A {@link ReplaySource} over the simulated stream, `page` records per page. */
function simulatedSource(kinesis: SimulatedKinesis, page: number): ReplaySource {
  return {
    streamArn: kinesis.streamArn,
    shards: () =>
      Promise.resolve(
        kinesis.shards.map((sh) => ({
          shardId: sh.shardId,
          parents: [sh.parentShardId, sh.adjacentParentShardId].filter(
            (p): p is ShardId => p !== undefined,
          ),
          closed: sh.closed,
        })),
      ),
    checkRetained: () => Promise.resolve(),
    async *read(id, start) {
      const records = kinesis.shard(id as ShardId).records;
      const from =
        start.type === 'TRIM_HORIZON'
          ? 0
          : records.findIndex((r) => BigInt(r.SequenceNumber) >= BigInt(start.sequenceNumber));
      if (from < 0) return;
      for (let i = from; i < records.length; i += page) {
        await Promise.resolve();
        yield records.slice(i, i + page);
      }
    },
  };
}

/** Late output by position (`shard:index`) -> windows `start-end,…` ascending. */
function lateByPosition(
  sink: InMemoryLateRecordSink,
  id: (seq: string) => string,
): Map<string, string> {
  const lists = new Map<string, string[]>();
  for (const l of sink.items()) {
    const k = id(l.position.sequenceNumber);
    const list = lists.get(k) ?? [];
    for (const w of l.windows) list.push(`${w.start}-${w.end}`);
    lists.set(k, list);
  }
  return new Map([...lists].map(([k, ws]) => [k, [...new Set(ws)].sort(byStart).join(',')]));
}
const byStart = (a: string, b: string): number => parseInt(a, 10) - parseInt(b, 10);

/** The final result per window (a session merged into a larger one is not final). */
function finalResults(kind: RefConfig['kind'], sink: InMemoryResultSink): Map<string, unknown> {
  const stored = sink.results().filter((r) => r.key !== '~flush');
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
  return new Map(final.map((r) => [`${r.key}|${r.window.start}|${r.window.end}`, r.value]));
}

const wantResults = (ref: RefOutput): Map<string, unknown> =>
  new Map([...ref.results].filter(([k]) => !k.startsWith('~flush|')));

/** The reference's late output, windows ascending, for the positions `keep` says. */
function wantLate(ref: RefOutput, keep: (shard: number, index: number) => boolean) {
  return new Map(
    [...ref.late]
      .filter(([k]) => {
        const [sh, i] = k.split(':').map(Number) as [number, number];
        return keep(sh, i);
      })
      .map(([k, ws]) => [k, ws.split(',').sort(byStart).join(',')]),
  );
}

/** The stream and its producer: shards get their records over processing time, children at reshard time. */
class Producer {
  private budget = 50;
  private nextSpec = 0;
  private readonly base = new Map<string, number>();
  private readonly pending = new Map<ShardId, string[]>();
  readonly where = new Map<string, [number, number]>(); // sequence number -> [shard index, record index]
  private readonly reshards: Scenario['reshards'];

  constructor(
    private readonly s: Scenario,
    private readonly kinesis: SimulatedKinesis,
    private readonly random: () => number,
  ) {
    this.reshards = [...s.reshards];
    for (let i = 0; i < s.initialShards; i++) this.fill(kinesis.createShard().shardId, 0);
  }

  get reshardsLeft(): number {
    return this.reshards.length;
  }

  hasPending(): boolean {
    return [...this.pending.values()].some((p) => p.length > 0);
  }

  put(id: ShardId, data: string, pk: string): void {
    const r = this.kinesis.put(id, data, pk);
    const index = this.kinesis.shards.findIndex((x) => x.shardId === id);
    this.where.set(r.SequenceNumber, [index, r.index]);
  }

  /** Queues a shard's records (event times from `start`); they arrive over later steps. */
  private fill(id: ShardId, start: number): void {
    const spec = this.s.shards[this.nextSpec++];
    this.base.set(id, start);
    if (spec === undefined) return;
    const events = spec.events.slice(0, Math.max(0, this.budget));
    this.budget -= events.length;
    this.pending.set(
      id,
      events.map((e, i) => {
        const k = KEYS[e.k % this.s.keys] as string | number;
        const t = Math.max(0, 200 + (start + i) * spec.step + e.jitter);
        return e.bad ?? JSON.stringify({ k, t, v: e.v });
      }),
    );
    this.base.set(id, start + events.length);
  }

  /** Each open shard gets its next record with probability `putRate`. */
  produce(): void {
    for (const [id, queue] of this.pending) {
      if (queue.length === 0 || this.random() >= this.s.putRate) continue;
      this.put(id, queue.shift() as string, 'pk');
    }
  }

  private putAll(id: ShardId): void {
    for (const data of this.pending.get(id)?.splice(0) ?? []) this.put(id, data, 'pk');
  }

  /** Splits or merges (the parents' queued records arrive first). */
  reshard(): void {
    const r = this.reshards.shift();
    if (r === undefined) return;
    const open = this.kinesis.shards.filter((x) => !x.closed);
    const a = open[r.a % open.length];
    if (a === undefined) return;
    const end = (id: string): number => this.base.get(id) ?? 0;
    this.putAll(a.shardId);
    if (r.op === 'split' || open.length < 2) {
      for (const c of this.kinesis.split(a.shardId)) this.fill(c.shardId, end(a.shardId));
      return;
    }
    const others = open.filter((x) => x !== a);
    const b = others[r.b % others.length] as (typeof open)[number];
    this.putAll(b.shardId);
    const c = this.kinesis.merge(a.shardId, b.shardId);
    this.fill(c.shardId, Math.max(end(a.shardId), end(b.shardId)));
  }
}

interface Live {
  readonly kinesis: SimulatedKinesis;
  readonly producer: Producer;
  readonly clock: ManualClock;
  readonly inner: InMemoryStateStore;
  readonly checkpoints: InMemoryCheckpointStore;
  readonly manifest: CheckpointManifest;
  readonly steps: RefStep[];
  readonly resultSink: InMemoryResultSink;
  readonly observed: Sink<WindowResult>;
  readonly conflicts: string[];
  readonly lateSink: InMemoryLateRecordSink;
  readonly unexpected: unknown[];
}

/** The live run: produce, deliver, tick, reshard; a checkpoint mid-batch; on to the end of the stream. */
async function runLive(
  kind: RefConfig['kind'],
  s: Scenario,
  definition: ReturnType<typeof definitionOf>,
): Promise<Live> {
  const clock = new ManualClock(0);
  const kinesis = new SimulatedKinesis(clock);
  const random = seededRandom(s.esm.seed);
  const producer = new Producer(s, kinesis, random);
  const steps: RefStep[] = [];
  const shardIndex = (id: string): number => kinesis.shards.findIndex((x) => x.shardId === id);
  const indexOfSeq = (seq: string): number => {
    const w = producer.where.get(seq);
    if (w === undefined) throw new Error(`unknown sequence number ${seq}`);
    return w[1];
  };
  const inner = new InMemoryStateStore();
  const plan = new FaultPlan({
    seed: s.faults.seed,
    rate: s.faults.rate,
    deathRate: 0.5,
    maxCrashes: 30,
  });
  const store = faultyStateStore(recordingStore(inner, clock, steps, shardIndex, indexOfSeq), plan);
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
  const lateSink = new InMemoryLateRecordSink();
  const unexpected: unknown[] = [];
  const esm = new SimulatedEsm({
    kinesis,
    clock,
    makeFunction: (): SimulatedFunction =>
      new OperatorRuntime({
        definition,
        store,
        clock,
        results: faultySink(observed, plan, 'results'),
        lateOutputs: { [definition.lateDataTag]: lateSink },
        deadLetter: new InMemoryDeadLetterOutput(),
        shards: kinesis,
        log: (e) => {
          if (e['level'] === 'ERROR' && !String(e['error']).startsWith('SimulatedCrash'))
            unexpected.push(e);
        },
      }),
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
  const step = async (reshard: boolean): Promise<void> => {
    producer.produce();
    const r = random();
    if (r < s.esm.tickRate) await esm.tick();
    else if (reshard && r < s.esm.tickRate + 0.08 && producer.reshardsLeft > 0) producer.reshard();
    else await esm.deliverNext();
    clock.advance(Math.floor(random() * 60));
  };

  for (let i = 0; i < s.esm.before; i++) await step(true);
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
  for (let i = 0; i < s.esm.after; i++) await step(true);
  while (producer.reshardsLeft > 0) producer.reshard();
  // The rest of the stream arrives and is processed as it comes.
  for (let i = 0; i < 10_000 && (producer.hasPending() || !esm.drained()); i++) await step(false);
  for (const sh of kinesis.shards) if (!sh.closed) producer.put(sh.shardId, FLUSH, 'flush');
  await esm.drain();
  plan.enabled = false;
  if (plan.dead) esm.coldStart();
  for (let i = 0; i < 3; i++) expect(await esm.tick()).toBe(true);
  await esm.redriveOutbox();
  const manifest = run.manifest;
  return {
    kinesis,
    producer,
    clock,
    inner,
    checkpoints,
    manifest,
    steps,
    resultSink,
    observed,
    conflicts,
    lateSink,
    unexpected,
  };
}

function configOf(kind: RefConfig['kind'], s: Scenario): RefConfig {
  return {
    kind,
    size: s.win.size,
    slide: s.win.slide,
    offset: s.win.offset,
    gap: s.win.gap,
    ooo: s.ooo,
    lateness: s.mode === 'large' ? LATENESS : s.lateness,
    idleTimeout: undefined,
    idleAdvance: false,
  };
}

function definitionOf(s: Scenario, config: RefConfig) {
  return pipeline(OP)
    .decode(json<{ k: string; t: number; v: number }>())
    .keyBy((e) => e.k)
    .eventTime((e) => e.t, { maxOutOfOrderness: config.ooo })
    .window(s.win.assigner)
    .allowedLateness(config.lateness)
    .aggregate(sum((e) => e.v));
}

async function check(kind: RefConfig['kind'], scenario: Scenario): Promise<void> {
  // Exact agreement is defined for one shard that is never resharded.
  const s: Scenario =
    scenario.mode === 'exact' ? { ...scenario, initialShards: 1, reshards: [] } : scenario;
  const config = configOf(kind, s);
  const definition = definitionOf(s, config);
  const live = await runLive(kind, s, definition);
  const { kinesis, inner, manifest } = live;
  const where = live.producer.where;
  const id = (seq: string): string => {
    const w = where.get(seq);
    return w === undefined ? `?${seq}` : `${w[0]}:${w[1]}`;
  };

  // The live run equals the reference fed its schedule.
  expect(live.unexpected).toEqual([]);
  const data = kinesis.shards.map((sh) => sh.records.map((r) => new TextDecoder().decode(r.Data)));
  const expected = runReference(config, data, live.steps);
  expect(finalResults(kind, live.resultSink)).toEqual(wantResults(expected));
  expect(lateByPosition(live.lateSink, id)).toEqual(wantLate(expected, () => true));
  if (s.mode === 'large') expect(expected.late.size).toBe(0);

  // State loss, then restore and replay (no faults: the recovery itself is not under test here).
  inner.wipe();
  const restored = await restoreState({
    state: inner,
    checkpoints: live.checkpoints,
    operator: OP,
    checkpoint: manifest.id,
    batchSize: 3,
  });
  expect(restored.generation).toBe(1);
  expect(restored.windows).toBe(manifest.items);
  stats.restoredItems += restored.windows;
  const writesBefore = live.resultSink.writes().length;
  const replayLate = new InMemoryLateRecordSink();
  const unexpected: unknown[] = [];
  const replay = new OperatorRuntime({
    definition,
    store: inner,
    clock: live.clock,
    results: live.observed,
    lateOutputs: { [definition.lateDataTag]: replayLate },
    deadLetter: new InMemoryDeadLetterOutput(),
    shards: kinesis,
    log: (e) => {
      if (e['level'] === 'ERROR') unexpected.push(e);
    },
  });
  const source = simulatedSource(kinesis, s.replay.page);
  const outcome = await replayShards({
    source,
    target: replay,
    plan: planReplay(manifest, await source.shards()),
    chunkRecords: s.replay.chunk,
    sliceMs: s.replay.sliceMs,
    // Shards replayed at once, as Lambda runs one invocation per shard: two shards' calls
    // that open overlapping sessions of one key contend on the key's session head.
    concurrency: 4,
  });
  stats.replayed += outcome.records;
  for (let i = 0; i < 3; i++) await replay.tick();
  await replay.redriveOutbox();
  stats.refiredAfterRestore += live.resultSink
    .writes()
    .slice(writesBefore)
    .filter((r) => (r.generation ?? 0) > 0).length;
  expect(unexpected).toEqual([]);
  expect(await inner.listOutbox(OP, 10_000, 1)).toEqual([]);

  // The records the replay judged: after the manifest's position, or all of a shard it does not know.
  const committed = new Map(manifest.progress.shards.map((p) => [p.shardId, p.committed]));
  const firstReplayed = kinesis.shards.map((sh) => {
    const c = committed.get(sh.shardId) ?? null;
    if (c === null) return 0;
    const after = BigInt(decodeOffset(c).sequenceNumber);
    const i = sh.records.findIndex((r) => BigInt(r.SequenceNumber) > after);
    return i < 0 ? sh.records.length : i;
  });
  const lateWanted = wantLate(expected, (sh, i) => i >= (firstReplayed[sh] ?? 0));
  const lateGot = lateByPosition(replayLate, id);
  const results = finalResults(kind, live.resultSink);
  const resultsWanted = wantResults(expected);
  if (s.mode !== 'measured') {
    expect(results).toEqual(resultsWanted);
    expect(lateGot).toEqual(lateWanted);
  }
  const resultsDiffer = !sameMap(results, resultsWanted);
  const lateDiffer = !sameMap(lateGot, lateWanted);
  const groups = [stats.modes[s.mode]];
  if (s.mode === 'measured')
    for (const g of [
      `slice ${s.replay.sliceMs} ms`,
      s.reshards.length > 0 ? 'resharded' : 'no reshard',
    ])
      groups.push((stats.measured[g] ??= modeStats()));
  for (const m of groups) {
    m.scenarios++;
    if (lateWanted.size > 0) m.withLate++;
    if (resultsDiffer) m.resultsDiffer++;
    if (lateDiffer) m.lateDiffer++;
    if (resultsDiffer || lateDiffer) m.disagree++;
  }

  // One value per (key, window, ordering) (the id names all of them); never stored twice.
  expect(live.conflicts).toEqual([]);
  const writes = live.resultSink.writes().map((r) => r.id);
  expect(new Set(writes).size).toBe(writes.length);
  stats.scenarios++;
}

function sameMap(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a)
    if (!b.has(k) || JSON.stringify(b.get(k)) !== JSON.stringify(v)) return false;
  return true;
}

describe('restore + replay from a checkpoint (fast-check, in-memory ports)', () => {
  for (const kind of ['tumbling', 'sliding', 'session'] as const) {
    it(`GIVEN a checkpoint taken mid-batch, processing to the end, state loss, restore and replay WHEN ${kind} windows run THEN results (and, for one shard, late output) equal the live run's reference`, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(kind), (s) => check(kind, s)),
        { numRuns: RUNS, seed: SEED + kind.length, endOnFailure: true },
      );
    }, 600_000);
  }

  it('GIVEN the scenarios WHEN counted THEN restores loaded items, replays re-applied records and re-fired windows, exact scenarios had late records', () => {
    console.log('restore + replay stats', JSON.stringify(stats, null, 1));
    expect(stats.scenarios).toBe(3 * RUNS);
    expect(stats.restoredItems).toBeGreaterThan(0);
    expect(stats.replayed).toBeGreaterThan(0);
    expect(stats.refiredAfterRestore).toBeGreaterThan(0);
    expect(stats.modes.exact.withLate).toBeGreaterThan(0);
    expect(stats.modes.exact.disagree).toBe(0);
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
