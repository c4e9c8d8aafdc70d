/**
 * A correction on the in-memory ports, for the retraction tests
 * (test/unit/runtime/restore-retract.test.ts, test/property/restore-retract.property.test.ts):
 * pipeline A runs over one simulated shard, a checkpoint is taken, A goes on,
 * then `restoreOperator` restores the checkpoint with pipeline B (A plus a
 * filter dropping records tagged `x`); a clean run of B is the reference.
 * Time is supplied by a manual clock.
 */
import { expect } from 'vitest';
import { InMemoryCheckpointStore } from '../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../lib/adapters/memory/index.ts';
import { CheckpointTaker } from '../../lib/core/checkpoint/index.ts';
import { json, pipeline, sum } from '../../lib/core/index.ts';
import type { WindowAssigner } from '../../lib/core/window.ts';
import type { WindowResult } from '../../lib/model/records.ts';
import type { Sink } from '../../lib/ports/sink.ts';
import type { RestorableStateStore, ScannableStateStore } from '../../lib/ports/state-store.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import type { StreamRecordInput } from '../../lib/runtime/local/esm/kinesis-event.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/kinesis-event.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import {
  restoreOperator,
  type ReplaySource,
  type ReplayStart,
  type RestoreSummary,
} from '../../lib/runtime/restore/index.ts';
import { SimulatedKinesis, type SimShard } from '../../lib/testing/simulated-esm.ts';

export const OP = 'corrections';

export interface Ev {
  readonly k: string;
  readonly t: number;
  readonly v: number;
  /** Tagged: pipeline B (the correction) filters these out. */
  readonly x?: true;
}

export function definition(assigner: WindowAssigner, corrected: boolean, lateness: number) {
  return pipeline(OP)
    .decode(json<Ev>())
    .filter((e) => !corrected || e.x !== true)
    .keyBy((e) => e.k)
    .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
    .window(assigner)
    .allowedLateness(lateness)
    .aggregate(sum((e) => e.v));
}

type Definition = ReturnType<typeof definition>;

/** The state store and result sink a correction runs on. */
export interface CorrectionPorts {
  readonly state: ScannableStateStore & RestorableStateStore;
  readonly results: Sink<WindowResult>;
  /** The results a reader sees (retracted windows left out), sorted by key and window. */
  visible(): Promise<WindowResult[]>;
}

/** A fresh in-memory state store and result sink. */
export function inMemoryPorts() {
  const results = new InMemoryResultSink();
  return {
    state: new InMemoryStateStore(),
    results,
    visible: () => Promise.resolve(results.results()),
  };
}

/** One operator's ports over one simulated shard. */
export function world<P extends CorrectionPorts>(events: readonly Ev[], ports: P) {
  const clock = new ManualClock(1_767_225_600_000);
  const kinesis = new SimulatedKinesis(clock);
  const shard = kinesis.createShard();
  for (const e of events) kinesis.put(shard.shardId, JSON.stringify(e), e.k);
  const { state, results } = ports;
  const runtime = (d: Definition): OperatorRuntime<Ev, number, number> =>
    new OperatorRuntime({
      definition: d,
      store: state,
      clock,
      results,
      lateOutputs: { [d.lateDataTag]: new InMemoryLateRecordSink() },
      deadLetter: new InMemoryDeadLetterOutput(),
      log: () => undefined,
    });
  /** Live processing: `batch` records per batch, a tick after each. */
  const run = async (
    rt: OperatorRuntime<Ev, number, number>,
    from: number,
    to: number,
    batch = 1,
  ) => {
    for (let i = from; i < to; i += batch) {
      const records = shard.records.slice(i, Math.min(to, i + batch));
      const response = await rt.handle(
        buildKinesisEvent(records, {
          shardId: shard.shardId,
          streamArn: kinesis.streamArn,
          awsRegion: 'us-east-1',
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir',
        }),
      );
      expect(response.batchItemFailures).toEqual([]);
      clock.advance(1000);
      await rt.tick();
    }
  };
  return {
    clock,
    kinesis,
    shard,
    state,
    results: ports.results as P['results'],
    ports,
    runtime,
    run,
  };
}

/** The stream's one shard as a replay reads it (from the committed record on). */
export function replaySource(kinesis: SimulatedKinesis, shard: SimShard): ReplaySource {
  return {
    streamArn: kinesis.streamArn,
    shards: () => Promise.resolve([{ shardId: shard.shardId, parents: [], closed: false }]),
    checkRetained: () => Promise.resolve(),
    async *read(_id: string, start: ReplayStart): AsyncIterable<readonly StreamRecordInput[]> {
      const from = start.type === 'TRIM_HORIZON' ? -1n : BigInt(start.sequenceNumber) - 1n;
      const records = shard.records.filter((r) => BigInt(r.SequenceNumber) > from);
      for (let i = 0; i < records.length; i += 2) {
        await Promise.resolve();
        yield records.slice(i, i + 2);
      }
    },
  };
}

/** What a reader sees, without orderings: key, window, value. */
export const view = (rs: readonly WindowResult[]) =>
  rs.map((r) => `${r.key} [${r.window.start},${r.window.end}) = ${JSON.stringify(r.value)}`);

/**
 * Runs A over `events`, checkpointing after the first `checkpointAfter`,
 * then restores with B; returns the world and a clean run of B's view.
 * In memory; {@link correctOn} runs it on other ports.
 */
export function correct(
  assigner: WindowAssigner,
  lateness: number,
  events: readonly Ev[],
  checkpointAfter: number,
  batch = 1,
) {
  return correctOn(inMemoryPorts, assigner, lateness, events, checkpointAfter, batch);
}

/** {@link correct} on the ports `makePorts` builds (one set for A and the restore, one for the clean run). */
export async function correctOn<P extends CorrectionPorts>(
  makePorts: () => P | Promise<P>,
  assigner: WindowAssigner,
  lateness: number,
  events: readonly Ev[],
  checkpointAfter: number,
  batch = 1,
) {
  const w = world(events, await makePorts());
  const a = w.runtime(definition(assigner, false, lateness));
  await w.run(a, 0, checkpointAfter, batch);
  const checkpoints = new InMemoryCheckpointStore();
  const taken = await new CheckpointTaker({
    state: w.state,
    checkpoints,
    clock: w.clock,
    operator: OP,
    streamArn: w.kinesis.streamArn,
    mergingWindows: assigner.kind === 'session',
  }).take();
  if (taken.status !== 'complete') throw new Error('expected a complete checkpoint');
  await w.run(a, checkpointAfter, events.length, batch);
  const beforeRestore = view(await w.ports.visible());

  const summary: RestoreSummary = await restoreOperator({
    operator: OP,
    state: w.state,
    checkpoints,
    checkpoint: taken.manifest.id,
    mapping: undefined,
    resumeHint: 'nothing was paused',
    rerun: (id) => `restore ${id}`,
    source: () => replaySource(w.kinesis, w.shard),
    target: w.runtime(definition(assigner, true, lateness)),
    now: () => w.clock.now(),
  });

  const clean = world(events, await makePorts());
  await clean.run(clean.runtime(definition(assigner, true, lateness)), 0, events.length, batch);
  return { w, summary, beforeRestore, reference: view(await clean.ports.visible()) };
}
