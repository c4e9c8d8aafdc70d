/**
 * Fault injection for exactly-once (DESIGN.md, "Exactly-once state under
 * Lambda retries"): the operator runtime, driven by a simulated Kinesis
 * stream and event source mapping, over in-memory ports that crash before,
 * during or after any call, with retries, bisects, re-deliveries, timeouts,
 * cold starts, ticks and resharding. Every scenario must end with:
 *
 *   (a) the final results at the result sink equal the reference's;
 *   (b) no (key, window, version) ever offered to the sink with two values,
 *       and never stored twice;
 *   (c) late output and dead letters equal the reference's (by position);
 *   (d) every input record is in state, in the late output or a dead letter.
 *
 * The reference (reference.ts) is fed the schedule the runtime actually
 * committed: one batch step per applied progress write, one close step per
 * shard closed, one watermark step per applied watermark advance.
 *
 * Seeded and reproducible: FC_SEED=<n> overrides the seed printed below,
 * FC_RUNS=<n> the runs per window kind, PROP_STATS=1 prints the crash points hit.
 */
import fc from 'fast-check';
import { assignerArb, timeArb } from './arbitraries.ts';
import { describe, expect, it } from 'vitest';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemoryStateStore,
  json,
  pipeline,
  session,
  sum,
  position,
  ManualClock,
  OperatorRuntime,
  type WindowResult,
  type Sink,
  type ShardId,
} from '../../lib/index.ts';
import {
  FaultPlan,
  addFaultStats,
  faultyDeadLetter,
  faultyShardDirectory,
  faultySink,
  faultyStateStore,
  seededRandom,
  SimulatedEsm,
  SimulatedKinesis,
  type MethodStats,
  type EsmStats,
  type SimulatedFunction,
} from '../../lib/testing/index.ts';
import { encodeOffset } from '../../lib/model/position.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/kinesis-event.ts';
import { runReference } from './reference.ts';
import { recordingStore } from './live-schedule.ts';
import type { RefConfig, RefStep } from './reference.ts';

const SEED = process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 20_250_404;
const RUNS = process.env['FC_RUNS'] !== undefined ? Number(process.env['FC_RUNS']) : 340;
console.log(
  `runtime fault-injection properties: seed ${SEED}, ${RUNS} runs per window kind (override with FC_SEED / FC_RUNS)`,
);

const OP = 'prop';
const FLUSH = JSON.stringify({ k: '~flush', t: 1_000_000_000, v: 0 });
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 7] as const;

// ---------------------------------------------------------------- generators

interface Ev {
  readonly k: number;
  readonly jitter: number;
  readonly v: number;
  readonly bad: string | undefined;
}

const eventArb: fc.Arbitrary<Ev> = fc.record({
  k: fc.nat(11),
  jitter: fc.integer({ min: -150, max: 150 }),
  v: fc.integer({ min: -5, max: 20 }),
  bad: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 20 },
    {
      arbitrary: fc.constantFrom(
        'not json{',
        '{"k":"a","v":1}', // no timestamp
        '{"k":"a","t":"soon","v":1}',
        '{"k":"","t":1,"v":1}',
        'null',
      ),
      weight: 1,
    },
  ),
});

const shardArb = fc.record({
  step: fc.integer({ min: 0, max: 40 }),
  events: fc.array(eventArb, { maxLength: 15 }),
});

function scenarioArb(kind: RefConfig['kind'], isolateRetries = true) {
  return fc.record({
    win: assignerArb(kind, 6),
    time: timeArb,
    keys: fc.integer({ min: 1, max: KEYS.length }),
    initialShards: fc.integer({ min: 1, max: 3 }),
    shards: fc.array(shardArb, { minLength: 7, maxLength: 7 }),
    reshards: fc.array(
      fc.record({ op: fc.constantFrom('split', 'merge'), a: fc.nat(5), b: fc.nat(5) }),
      { maxLength: 2 },
    ),
    esm: fc.record({
      seed: fc.integer(),
      steps: fc.integer({ min: 5, max: 60 }),
      batchSize: fc.integer({ min: 1, max: 8 }),
      bisect: fc.boolean(),
      parentFirst: fc.boolean(),
      isolateRetries: fc.constant(isolateRetries),
      timeoutRate: fc.constantFrom(0, 0.05, 0.2),
      duplicateRate: fc.constantFrom(0, 0.1),
      tickRate: fc.constantFrom(0.05, 0.15, 0.3),
      maxDt: fc.constantFrom(0, 20, 120),
    }),
    faults: fc.record({
      seed: fc.integer(),
      rate: fc.constantFrom(0, 0.02, 0.05, 0.1, 0.2),
      deathRate: fc.constantFrom(0, 0.5, 1),
    }),
  });
}

type Scenario = ReturnType<typeof scenarioArb> extends fc.Arbitrary<infer S> ? S : never;

// ------------------------------------------------------------------- stats

const faultStats = new Map<string, MethodStats>();
const esmStats: Record<string, number> = {};
let scenarios = 0;
const outputStats = {
  records: 0,
  results: 0,
  refirings: 0,
  superseded: 0,
  late: 0,
  dead: 0,
  resultWrites: 0,
  reshards: 0,
  divergedByLateRetry: 0,
  extraLateByRetry: 0,
};

function addEsmStats(s: EsmStats): void {
  for (const k of Object.keys(s) as (keyof EsmStats)[]) esmStats[k] = (esmStats[k] ?? 0) + s[k];
}

// -------------------------------------------------------------- one scenario

interface Parsed {
  readonly key: string | undefined;
}

function parse(data: string): Parsed {
  try {
    const e = JSON.parse(data) as { k?: unknown } | null;
    if (e === null || typeof e !== 'object') return { key: undefined };
    return {
      key: typeof e.k === 'number' ? String(e.k) : typeof e.k === 'string' ? e.k : undefined,
    };
  } catch {
    return { key: undefined };
  }
}

async function check(kind: RefConfig['kind'], s: Scenario): Promise<void> {
  const config: RefConfig = {
    kind,
    size: s.win.size,
    slide: s.win.slide,
    offset: s.win.offset,
    gap: s.win.gap,
    ooo: s.time.ooo,
    lateness: s.time.lateness,
    idleTimeout: s.time.idleTimeout,
    idleAdvance: s.time.idleAdvance && s.time.idleTimeout !== undefined,
  };
  const definition = pipeline(OP)
    .decode(json<{ k: string; t: number; v: number }>())
    .keyBy((e) => e.k)
    .eventTime((e) => e.t, {
      maxOutOfOrderness: config.ooo,
      ...(config.idleTimeout === undefined ? {} : { idleTimeout: config.idleTimeout }),
      idleAdvance: config.idleAdvance,
    })
    .window(s.win.assigner)
    .allowedLateness(config.lateness)
    .aggregate(sum((e) => e.v));

  const clock = new ManualClock(0);
  const kinesis = new SimulatedKinesis(clock);
  const random = seededRandom(s.esm.seed);

  const where = new Map<string, [number, number]>(); // sequence number -> [shard index, record index]
  const shardIndex = (id: string): number => kinesis.shards.findIndex((x) => x.shardId === id);
  const put = (shardId: ShardId, data: string, pk: string): void => {
    const r = kinesis.put(shardId, data, pk);
    where.set(r.SequenceNumber, [shardIndex(shardId), r.index]);
  };

  // The stream: shards get their records when created (children at reshard time).
  let budget = 60;
  let nextEvents = 0;
  const base = new Map<string, number>();
  const fill = (shardId: ShardId, start: number): void => {
    const spec = s.shards[nextEvents++];
    base.set(shardId, start);
    if (spec === undefined) return;
    const events = spec.events.slice(0, Math.max(0, budget));
    budget -= events.length;
    events.forEach((e, i) => {
      const k = KEYS[e.k % s.keys] as string | number;
      put(
        shardId,
        e.bad ??
          JSON.stringify({ k, t: Math.max(0, 200 + (start + i) * spec.step + e.jitter), v: e.v }),
        `pk-${String(k)}`,
      );
    });
    base.set(shardId, start + events.length);
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

  // The ports: in-memory adapters, observed for the reference, under the fault plan.
  const steps: RefStep[] = [];
  const indexOfSeq = (seq: string): number => {
    const w = where.get(seq);
    if (w === undefined) throw new Error(`unknown sequence number ${seq}`);
    return w[1];
  };
  const inner = new InMemoryStateStore();
  const plan = new FaultPlan({
    seed: s.faults.seed,
    rate: s.faults.rate,
    deathRate: s.faults.deathRate,
    maxCrashes: 40,
  });
  const store = faultyStateStore(recordingStore(inner, clock, steps, shardIndex, indexOfSeq), plan);
  const resultSink = new InMemoryResultSink();
  const offered = new Map<string, string>(); // result id -> JSON value
  const conflicts: string[] = [];
  const observedResults: Sink<WindowResult> = {
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
  const deadLetter = new InMemoryDeadLetterOutput();
  const unexpected: unknown[] = [];
  const makeFunction = (): SimulatedFunction =>
    new OperatorRuntime({
      definition,
      store,
      clock,
      results: faultySink(observedResults, plan, 'results'),
      lateOutputs: { [definition.lateDataTag]: faultySink(lateSink, plan, 'late') },
      deadLetter: faultyDeadLetter(deadLetter, plan),
      shards: faultyShardDirectory(kinesis, plan),
      log: (e) => {
        if (e['level'] === 'ERROR' && !String(e['error']).startsWith('SimulatedCrash'))
          unexpected.push(e);
      },
    });
  const esm = new SimulatedEsm({
    kinesis,
    clock,
    makeFunction,
    plan,
    random,
    // Lambda's rules, as deployed; retries until success so every record ends in state.
    settings: {
      batchSize: s.esm.batchSize,
      bisectBatchOnFunctionError: s.esm.bisect,
      maximumRetryAttempts: -1,
    },
    parentFirst: s.esm.parentFirst,
    isolateRetries: s.esm.isolateRetries,
    timeoutRate: s.esm.timeoutRate,
    duplicateRate: s.esm.duplicateRate,
  });

  // Mid-stream: deliveries, ticks, reshards, processing time passing.
  for (let i = 0; i < s.esm.steps; i++) {
    const r = random();
    if (r < s.esm.tickRate) await esm.tick();
    else if (r < s.esm.tickRate + 0.08 && reshards.length > 0) reshard();
    else await esm.deliverNext();
    clock.advance(Math.floor(random() * (s.esm.maxDt + 1)));
  }
  while (reshards.length > 0) reshard();
  // The end: every open shard gets a far-future record; everything is read (faults still on).
  for (const sh of kinesis.shards) if (!sh.closed) put(sh.shardId, FLUSH, 'flush');
  await esm.drain();
  // Quiesce without faults: the ticker closes consumed parents, fires, re-drives the outbox.
  plan.enabled = false;
  if (plan.dead) esm.coldStart();
  for (let i = 0; i < 3; i++) expect(await esm.tick()).toBe(true);
  await esm.redriveOutbox();

  expect(unexpected).toEqual([]);
  const data = kinesis.shards.map((sh) => sh.records.map((r) => new TextDecoder().decode(r.Data)));
  const expected = runReference(config, data, steps);
  const progress = await inner.readProgress(OP);
  expect(progress.watermark).toBe(expected.watermark);
  expect(await inner.listOutbox(OP, 10_000, 0)).toEqual([]);

  // (a) final results.
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

  // (b) exactly one value per (key, window, version); never stored twice.
  expect(conflicts).toEqual([]);
  const writes = resultSink.writes().map((r) => r.id);
  expect(new Set(writes).size).toBe(writes.length);

  // (c) late output and dead letters, by position.
  const id = (seq: string): string => {
    const w = where.get(seq);
    return w === undefined ? `?${seq}` : `${w[0]}:${w[1]}`;
  };
  const lateWindows = new Map<string, string[]>();
  for (const l of lateSink.items()) {
    const k = id(l.position.sequenceNumber);
    const list = lateWindows.get(k) ?? [];
    // A late-data sink's item carries one window.
    for (const w of l.windows) list.push(`${w.start}-${w.end}`);
    lateWindows.set(k, list);
  }
  const byStart = (a: string, b: string): number => parseInt(a, 10) - parseInt(b, 10);
  const late = new Map([...lateWindows].map(([k, ws]) => [k, ws.sort(byStart).join(',')]));
  const wantLate = new Map(
    [...expected.late].map(([k, ws]) => [k, ws.split(',').sort(byStart).join(',')]),
  );
  if (s.esm.isolateRetries) {
    expect(late).toEqual(wantLate);
    expect(actual).toEqual(want);
  } else {
    // Retries interleaved with other shards and ticks: an attempt judges
    // lateness against the watermark and the other shards it reads at its
    // start, so a failed attempt and its retry may judge a record differently
    // (docs/semantics.md, "Retries and lateness"). A retry never judges on
    // time what an attempt sent to the late output (the judged view); a
    // retry with a higher view may judge late what an attempt applied, which
    // the core reclaims (tumbling, sliding) or avoids by judging against the
    // first attempt's view (sessions; (c2) below checks nothing is counted
    // twice). Sessions can still differ from the reference: a record judged
    // on time against that older view whose session would join one purged
    // in between goes to the late output (window-purged). What must hold:
    // every record the committing attempt judged late is in the late output,
    // and every window that differs from the reference has a record in the
    // late output for it.
    // Since the core reclaims late records a window item already absorbed, a record the
    // committing attempt judged late may instead be in state (an earlier attempt applied it):
    // in state XOR in the late output, never both for tumbling and sliding windows.
    const reclaimed = new Set<string>();
    const heldInState = async (k: string, w: string): Promise<boolean> => {
      const [sh, ix] = k.split(':').map(Number);
      const shard = kinesis.shards[sh ?? -1];
      const rec = shard?.records[ix ?? -1];
      const m = /^(-?\d+)-(-?\d+)$/.exec(w);
      if (!shard || !rec || !m || kind === 'session') return false;
      const key = parse(new TextDecoder().decode(rec.Data)).key;
      if (key === undefined) return false;
      const [item] = await inner.getWindows(
        OP,
        [{ key, start: Number(m[1]), end: Number(m[2]) }],
        0,
      );
      const held =
        (item?.absorbed[shard.shardId] ?? '') >=
        encodeOffset(position(shard.shardId, rec.SequenceNumber));
      if (held) reclaimed.add(`${key}|${m[1]}|${m[2]}`);
      return held;
    };
    for (const [k, ws] of wantLate) {
      const have = new Set((late.get(k) ?? '').split(','));
      for (const w of ws.split(','))
        expect(have.has(w) || (await heldInState(k, w)), `${k} late for ${w}, or in state`).toBe(
          true,
        );
    }
    if (late.size !== wantLate.size || [...late].some(([k, ws]) => wantLate.get(k) !== ws))
      outputStats.extraLateByRetry++;
    const explained = new Set<string>(reclaimed);
    for (const l of lateSink.items()) {
      const { key } = parse(new TextDecoder().decode(l.data));
      const w = l.windows[0];
      explained.add(kind === 'session' ? `${key}` : `${key}|${w?.start}|${w?.end}`);
    }
    let diverged = false;
    for (const k of new Set([...actual.keys(), ...want.keys()])) {
      if (actual.get(k) === want.get(k)) continue;
      diverged = true;
      const [key, start, end] = k.split('|');
      expect(
        explained.has(kind === 'session' ? `${key}` : `${key}|${start}|${end}`),
        `${k}: ${JSON.stringify(actual.get(k))} vs ${JSON.stringify(want.get(k))}`,
      ).toBe(true);
    }
    if (diverged) outputStats.divergedByLateRetry++;
  }
  const dead = new Set(deadLetter.entries().map((d) => id(d.position.sequenceNumber)));
  expect(dead).toEqual(expected.dead);

  // (c2) counted exactly once (tumbling and sessions, where a record belongs
  // to one window): the final results and the late output together hold
  // every valid record's value once. A record a crashed attempt put in state
  // and its retry sent to the late output as well would add its value twice.
  if (kind !== 'sliding') {
    const valueOf = (data: Uint8Array): number =>
      (JSON.parse(new TextDecoder().decode(data)) as { v: number }).v;
    const lateValues = new Map<string, number>();
    for (const l of lateSink.items())
      if (l.data !== undefined) lateValues.set(id(l.position.sequenceNumber), valueOf(l.data));
    let input = 0;
    for (const [sh, shard] of kinesis.shards.entries())
      for (const r of shard.records) {
        if (
          dead.has(`${sh}:${r.index}`) ||
          parse(new TextDecoder().decode(r.Data)).key === '~flush'
        )
          continue;
        input += valueOf(r.Data);
      }
    let counted = 0;
    for (const v of actual.values()) counted += v as number;
    for (const v of lateValues.values()) counted += v;
    expect(counted, 'final results + late output = every valid record once').toBe(input);
  }

  // (d) reconciliation: every record is consumed and in state, late output or a dead letter.
  for (const [sh, shard] of kinesis.shards.entries()) {
    const p = progress.shards.find((x) => x.shardId === shard.shardId);
    for (const r of shard.records) {
      const rid = `${sh}:${r.index}`;
      const offset = encodeOffset(position(shard.shardId, r.SequenceNumber));
      expect(
        p?.committed !== null && p !== undefined && p.committed >= offset,
        `${rid} consumed`,
      ).toBe(true);
      if (dead.has(rid) || late.has(rid)) continue;
      const { key } = parse(data[sh]?.[r.index] ?? '');
      expect(key, `${rid} has a key`).toBeDefined();
      const items = (await inner.listKeyWindows(OP, [key as string], 0)).get(key as string) ?? [];
      expect(
        items.some((it) => (it.absorbed[shard.shardId] ?? '') >= offset),
        `${rid} (key ${key}) is in state`,
      ).toBe(true);
    }
  }

  scenarios++;
  const out = outputStats;
  out.records += data.reduce((a, d) => a + d.length, 0);
  out.results += actual.size;
  out.refirings += resultSink.writes().filter((r) => r.version > 1).length;
  out.superseded += stored.length - final.length;
  out.late += late.size;
  out.dead += dead.size;
  out.resultWrites += resultSink.writes().length;
  out.reshards += kinesis.shards.filter((x) => x.parentShardId !== undefined).length;
  addFaultStats(faultStats, plan.stats);
  addEsmStats(esm.stats);
}

describe('operator runtime under faults equals the reference', () => {
  for (const kind of ['tumbling', 'sliding', 'session'] as const) {
    it(`${kind}: crashes before/during/after every port call, retries, bisects, timeouts, reshards`, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(kind), (s) => check(kind, s)),
        { numRuns: RUNS, seed: SEED },
      );
    });
  }

  for (const kind of ['tumbling', 'sliding', 'session'] as const) {
    it(`${kind}, retries interleaved with other shards and ticks: nothing lost, no duplicate versions, differences only from records judged late by one attempt`, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(kind, false), (s) => check(kind, s)),
        { numRuns: Math.ceil(RUNS / 3), seed: SEED },
      );
    });
  }

  it('every port method was crash-tested before and after', () => {
    if (process.env['PROP_STATS'] !== undefined) {
      console.log(`scenarios: ${scenarios}`);
      console.table(Object.fromEntries([...faultStats].sort(([a], [b]) => a.localeCompare(b))));
      console.log('esm', JSON.stringify(esmStats));
      console.log('outputs', JSON.stringify(outputStats));
    }
    if (RUNS < 200) return;
    for (const [method, st] of faultStats) {
      expect(st.before, `${method} crashed before`).toBeGreaterThan(0);
      expect(st.after, `${method} crashed after`).toBeGreaterThan(0);
    }
    expect([...faultStats.keys()].sort()).toEqual(
      [
        'deadLetter.send',
        'late.write',
        'results.write',
        'shards.isConsumed',
        'shards.hasRecordsAfter',
        'shards.listShards',
        'store.ackOutbox',
        'store.advanceWatermark',
        'store.getWindows',
        'store.listDue',
        'store.listExpired',
        'store.listKeyWindows',
        'store.listOutbox',
        'store.readProgress',
        'store.readSessionHeads',
        'store.write',
        'store.writeShardProgress',
      ].sort(),
    );
  });
});

/**
 * A session result that supersedes earlier fired sessions carries
 * `supersedes` to the result sink, which masks the stale session so that no
 * late or re-driven write of it can bring it back (found by this suite: the
 * sink port used to drop the field).
 */
describe('session results at the sink', () => {
  it('carry the sessions they supersede, which the sink masks', async () => {
    const definition = pipeline(OP)
      .decode(json<{ k: string; t: number; v: number }>())
      .keyBy((e) => e.k)
      .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
      .window(session(10))
      .allowedLateness(100)
      .aggregate(sum((e) => e.v));
    const clock = new ManualClock(0);
    const kinesis = new SimulatedKinesis(clock);
    const shard = kinesis.createShard().shardId;
    const results = new InMemoryResultSink();
    const runtime = new OperatorRuntime({
      definition,
      store: new InMemoryStateStore(),
      clock,
      results,
      lateOutputs: { [definition.lateDataTag]: new InMemoryLateRecordSink() },
      deadLetter: new InMemoryDeadLetterOutput(),
      log: () => undefined,
    });
    const send = async (events: readonly object[]): Promise<void> => {
      const records = events.map((e) => kinesis.put(shard, JSON.stringify(e)));
      const event = buildKinesisEvent(records, {
        shardId: shard,
        streamArn: kinesis.streamArn,
        awsRegion: 'us-east-1',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-sim',
      });
      expect((await runtime.handle(event)).batchItemFailures).toEqual([]);
    };
    await send([
      { k: 'a', t: 0, v: 1 },
      { k: 'z', t: 50, v: 0 },
    ]); // W = 50: [0, 10) fires
    await send([
      { k: 'a', t: 10, v: 1 },
      { k: 'z', t: 100, v: 0 },
    ]); // touches: [0, 20) supersedes [0, 10)
    const merged = results.get(OP, 'a', { start: 0, end: 20 });
    expect(merged?.value).toBe(2);
    expect(merged).toHaveProperty('supersedes', [{ start: 0, end: 10 }]);
    // The stale session is gone and a late re-write of it cannot bring it back.
    expect(results.get(OP, 'a', { start: 0, end: 10 })).toBeUndefined();
    const stale = await results.write([
      { operator: OP, key: 'a', window: { start: 0, end: 10 }, value: 1, version: 1, id: 'old' },
    ]);
    expect(stale.superseded).toBe(1);
    expect(results.get(OP, 'a', { start: 0, end: 10 })).toBeUndefined();
  });
});
