/**
 * Corrections that change which windows exist (issue 9, "Corrections";
 * docs/recovery.md): an operator runs pipeline A, a checkpoint is taken, A
 * goes on firing, then `restoreOperator` restores the checkpoint with a
 * corrected pipeline B (a filter that drops records tagged `x`). The result
 * sink must end up holding exactly what a clean run of B shows:
 *
 * - windows A fired after the checkpoint that B never fires (a session
 *   whose bounds B does not produce, a tumbling window all of whose records
 *   B filters out) are retracted;
 * - a window the checkpoint holds as fired, that A then fired again (a late
 *   update) or merged away (a superseded session), fires again under the
 *   new generation, so the restored result replaces A's later one (or its
 *   superseded-session mask).
 *
 * All on the in-memory ports, time supplied by a manual clock.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStore } from '../../../lib/adapters/memory/in-memory-checkpoint-store.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../../lib/adapters/memory/index.ts';
import { CheckpointTaker } from '../../../lib/core/checkpoint/index.ts';
import { json, pipeline, session, sum, tumbling } from '../../../lib/core/index.ts';
import type { WindowAssigner } from '../../../lib/core/window.ts';
import type { WindowResult } from '../../../lib/model/records.ts';
import { isRetraction } from '../../../lib/model/retraction.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import type { StreamRecordInput } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import { buildKinesisEvent } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import { OperatorRuntime } from '../../../lib/runtime/operator-runtime.ts';
import {
  restoreOperator,
  type ReplaySource,
  type ReplayStart,
  type RestoreSummary,
} from '../../../lib/runtime/restore/index.ts';
import { SimulatedKinesis, type SimShard } from '../../../lib/testing/simulated-esm.ts';

const OP = 'corrections';

interface Ev {
  readonly k: string;
  readonly t: number;
  readonly v: number;
  /** Tagged: pipeline B (the correction) filters these out. */
  readonly x?: true;
}

function definition(assigner: WindowAssigner, corrected: boolean, lateness: number) {
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

/** One operator's ports over one simulated shard. */
function world(events: readonly Ev[]) {
  const clock = new ManualClock(1_767_225_600_000);
  const kinesis = new SimulatedKinesis(clock);
  const shard = kinesis.createShard();
  for (const e of events) kinesis.put(shard.shardId, JSON.stringify(e), e.k);
  const state = new InMemoryStateStore();
  const results = new InMemoryResultSink();
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
  /** Live processing: one record per batch, a tick after each. */
  const run = async (rt: OperatorRuntime<Ev, number, number>, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const record = shard.records[i] as StreamRecordInput;
      const response = await rt.handle(
        buildKinesisEvent([record], {
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
  return { clock, kinesis, shard, state, results, runtime, run };
}

/** The stream's one shard as a replay reads it (from the committed record on). */
function replaySource(kinesis: SimulatedKinesis, shard: SimShard): ReplaySource {
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
const view = (rs: readonly WindowResult[]) =>
  rs.map((r) => `${r.key} [${r.window.start},${r.window.end}) = ${JSON.stringify(r.value)}`);

/**
 * Runs A over `events`, checkpointing after the first `checkpointAfter`,
 * then restores with B; returns the sink and a clean run of B.
 */
async function correct(
  assigner: WindowAssigner,
  lateness: number,
  events: readonly Ev[],
  checkpointAfter: number,
) {
  const w = world(events);
  const a = w.runtime(definition(assigner, false, lateness));
  await w.run(a, 0, checkpointAfter);
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
  await w.run(a, checkpointAfter, events.length);
  const beforeRestore = view(w.results.results());

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

  const clean = world(events);
  await clean.run(clean.runtime(definition(assigner, true, lateness)), 0, events.length);
  return { w, summary, beforeRestore, reference: view(clean.results.results()) };
}

describe('a restore with a corrected pipeline retracts what the correction no longer fires', () => {
  it('GIVEN sessions that A merged through records B filters out WHEN restored with B THEN the sink equals a clean run of B', async () => {
    const events: Ev[] = [
      { k: 'c', t: 0, v: 1 },
      { k: 'a', t: 300, v: 1 },
      { k: 'a', t: 350, v: 1 }, // watermark 350: c [0,100) fires before the checkpoint
      // checkpoint
      { k: 'c', t: 95, v: 1, x: true }, // A: merges c [0,100) into [0,195), masking it
      { k: 'a', t: 420, v: 1, x: true }, // A: a bridges to [300,520)
      { k: 'b', t: 600, v: 1 },
      { k: 'b', t: 690, v: 5, x: true }, // A: b bridges to [600,880)
      { k: 'b', t: 780, v: 1 },
      { k: 'a', t: 900, v: 1 },
      { k: 'd', t: 5000, v: 1 }, // fires everything
    ];
    const { w, summary, beforeRestore, reference } = await correct(session(100), 1000, events, 3);
    expect(beforeRestore).toEqual([
      'a [300,520) = 3',
      'a [900,1000) = 1',
      'b [600,880) = 7',
      'c [0,195) = 2',
    ]);
    expect(reference).toEqual([
      'a [300,450) = 2',
      'a [900,1000) = 1',
      'b [600,700) = 1',
      'b [780,880) = 1',
      'c [0,100) = 1',
    ]);
    expect(view(w.results.results())).toEqual(reference);
    expect(view(w.results.retractions())).toEqual([
      'a [300,520) = null',
      'b [600,880) = null',
      'c [0,195) = null',
    ]);
    expect(w.results.retractions().every((r) => isRetraction(r) && r.generation === 1)).toBe(true);
    expect(summary.windowsRetracted).toBe(3);
    // c [0,100) fired again under the new generation: above A's mask of it.
    expect(w.results.get(OP, 'c', { start: 0, end: 100 })).toMatchObject({
      generation: 1,
      version: 2,
      value: 1,
    });
  });

  it('GIVEN tumbling windows of which B filters out every record WHEN restored with B THEN they are retracted and a late update B drops is undone', async () => {
    const events: Ev[] = [
      { k: 'a', t: 10, v: 1 },
      { k: 'a', t: 150, v: 1 }, // watermark 150: a [0,100) fires 1 before the checkpoint
      // checkpoint
      { k: 'a', t: 250, v: 2, x: true }, // only x records in a [200,300)
      { k: 'b', t: 260, v: 1, x: true }, // and in b [200,300)
      { k: 'a', t: 60, v: 4, x: true }, // A: a late update, a [0,100) fires 5
      { k: 'a', t: 420, v: 1 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const { w, summary, beforeRestore, reference } = await correct(tumbling(100), 1000, events, 2);
    expect(beforeRestore).toEqual([
      'a [0,100) = 5',
      'a [100,200) = 1',
      'a [200,300) = 2',
      'a [400,500) = 1',
      'b [200,300) = 1',
    ]);
    expect(reference).toEqual(['a [0,100) = 1', 'a [100,200) = 1', 'a [400,500) = 1']);
    expect(view(w.results.results())).toEqual(reference);
    expect(view(w.results.retractions())).toEqual(['a [200,300) = null', 'b [200,300) = null']);
    expect(summary.windowsRetracted).toBe(2);
  });

  it('GIVEN the same pipeline (nothing corrected) WHEN restored THEN nothing is retracted and the results are unchanged', async () => {
    const events: Ev[] = [
      { k: 'a', t: 10, v: 1 },
      { k: 'a', t: 150, v: 1 },
      { k: 'a', t: 250, v: 2 },
      { k: 'a', t: 60, v: 4 },
      { k: 'd', t: 5000, v: 1 },
    ];
    const w = world(events);
    const d = definition(tumbling(100), false, 1000);
    await w.run(w.runtime(d), 0, 2);
    const checkpoints = new InMemoryCheckpointStore();
    const taken = await new CheckpointTaker({
      state: w.state,
      checkpoints,
      clock: w.clock,
      operator: OP,
      streamArn: w.kinesis.streamArn,
    }).take();
    if (taken.status !== 'complete') throw new Error('expected a complete checkpoint');
    await w.run(w.runtime(d), 2, events.length);
    const before = view(w.results.results());
    const summary = await restoreOperator({
      operator: OP,
      state: w.state,
      checkpoints,
      checkpoint: taken.manifest.id,
      mapping: undefined,
      resumeHint: '',
      rerun: (id) => id,
      source: () => replaySource(w.kinesis, w.shard),
      target: w.runtime(d),
      now: () => w.clock.now(),
    });
    expect(summary.windowsRetracted).toBe(0);
    expect(w.results.retractions()).toEqual([]);
    expect(view(w.results.results())).toEqual(before);
  });
});
