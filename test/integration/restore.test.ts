/**
 * Restore + replay on the embedded AWS (kinesalite, DynamoDB Local, s3rver):
 * the local event source mapping runs an operator on a two-shard stream
 * with its state in the demo template's state table; a checkpoint is taken,
 * processing continues, the state table is wiped, and `restoreOperator`
 * pauses the mapping, restores the checkpoint, replays both shards from its
 * positions through the runtime and resumes the mapping. The results equal
 * the uninterrupted run's, re-fired under generation 1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/memory/in-memory-sinks.ts';
import { S3CheckpointStore } from '../../lib/adapters/s3/s3-checkpoint-store.ts';
import { CheckpointTaker } from '../../lib/core/checkpoint/take-checkpoint.ts';
import { count, json, minutes, pipeline, tumbling } from '../../lib/core/index.ts';
import { CheckpointError, ReplayGapError } from '../../lib/errors.ts';
import { encodeOffset, shardId } from '../../lib/model/position.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import type { MappingControl } from '../../lib/ports/mapping-control.ts';
import type { StateStore, WindowWrite } from '../../lib/ports/state-store.ts';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
} from '../../lib/runtime/local/esm/index.ts';
import { LocalMappingControl } from '../../lib/runtime/local/mapping-control.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/provision.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import {
  RestoreFailedError,
  kinesisReplaySource,
  restoreOperator,
  type RestoreOperatorOptions,
  type RestoreProgress,
} from '../../lib/runtime/restore/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createStream, put, sleep } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { deleteAllItems } from '../../lib/runtime/local/index.ts';

const fx = useLocalAws();
const running: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

const OP = 'restore-it';
interface Ev {
  readonly k: string;
  readonly t: number;
}
const definition = pipeline(OP)
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
  .window(tumbling(minutes(1)))
  .allowedLateness(minutes(600))
  .sideOutputLateData('late')
  .aggregate(count());

/** Hash keys that land on shard 0 and shard 1 of a two-shard stream. */
const SHARD_KEYS = [0n, 1n << 127n] as const;

/** Events of one phase: `n` per shard, keys k0..k3, event times in minutes `from`..`from+span-1`. */
function events(n: number, from: number, span: number, salt: number): Ev[] {
  return Array.from({ length: n }, (_, i) => ({
    k: `k${(i * 7 + salt) % 4}`,
    t: (from + (i % span)) * 60_000 + i,
  }));
}

async function putPerShard(stream: string, evs: readonly Ev[][]): Promise<void> {
  for (const [s, list] of evs.entries())
    await put(
      fx.clients.kinesis,
      stream,
      list.map((e) => JSON.stringify(e)),
      SHARD_KEYS[s],
    );
}

/** The stored results as (key, window) → value, plus their ids. */
const view = (sink: InMemoryResultSink): Record<string, unknown> =>
  Object.fromEntries(sink.results().map((r) => [`${r.key}@${r.window.start}`, r.value]));

async function setup(name: string, liveStore?: (table: string) => StateStore) {
  const { kinesis, s3, dynamodb } = fx.clients;
  const stream = uniqueName(name);
  await createStream(kinesis, stream, 2);
  const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream })))
    .StreamDescriptionSummary?.StreamARN as string;
  const bucket = uniqueName(`${name}-ckpt`).toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), dynamodb, {
    stackName: uniqueName('Restore'),
  });
  const table = tables.find((t) => t.globalSecondaryIndexes.includes('due'))!.name;
  const state = new DynamoDbStateStore({ client: dynamodb, tableName: table });
  const checkpoints = new S3CheckpointStore({ client: s3, bucket, prefix: 'weir' });
  const clock = new ManualClock(1_767_225_600_000);
  const results = new InMemoryResultSink();
  const late = new InMemoryLateRecordSink();
  const dead = new InMemoryDeadLetterOutput();
  const runtime = () =>
    new OperatorRuntime({
      definition,
      store: state,
      clock,
      results,
      lateOutputs: { late },
      deadLetter: dead,
      log: () => undefined,
    });
  const liveLog: Readonly<Record<string, unknown>>[] = [];
  const live = new OperatorRuntime({
    definition,
    store: liveStore?.(table) ?? state,
    clock,
    results,
    lateOutputs: { late },
    deadLetter: dead,
    log: (e) => liveLog.push(e),
  });
  const handler = async (e: KinesisStreamEvent) => {
    const { batchItemFailures } = await live.handle(e);
    return { batchItemFailures };
  };
  const esm = new LocalEventSourceMapping({
    kinesis,
    streamName: stream,
    invoker: new InProcessHandlerInvoker(handler),
    settings: { startingPosition: 'TRIM_HORIZON', batchSize: 7 },
    pollIntervalMs: 50,
    shardDiscoveryIntervalMs: 100,
    retryDelayMs: 0,
  });
  running.push(esm);
  await esm.start();
  const taker = new CheckpointTaker({ state, checkpoints, clock, operator: OP, streamArn: arn });
  const restore = (o: Partial<RestoreOperatorOptions> = {}): ReturnType<typeof restoreOperator> =>
    restoreOperator({
      operator: OP,
      state,
      checkpoints,
      checkpoint: 'latest',
      mapping: new LocalMappingControl(esm),
      resumeHint: 'esm.resume()',
      rerun: (id) => `restore ${id}`,
      source: (a) => kinesisReplaySource({ client: kinesis, streamArn: a }),
      target: runtime(),
      ...o,
    });
  const counts = async (keys: readonly string[]): Promise<Record<string, [number, unknown][]>> => {
    const { generation } = await state.readProgress(OP);
    const m = await state.listKeyWindows(OP, keys, generation);
    return Object.fromEntries(
      keys.map((k) => [
        k,
        (m.get(k) ?? []).map((w): [number, unknown] => [w.start, w.accumulator]),
      ]),
    );
  };
  return {
    stream,
    arn,
    bucket,
    table,
    state,
    checkpoints,
    clock,
    results,
    late,
    runtime,
    live,
    liveLog,
    esm,
    taker,
    restore,
    counts,
  };
}

describe('restore + replay on the embedded AWS', () => {
  it('GIVEN a checkpoint, more processing and a wiped state table WHEN restored and replayed THEN the results equal the uninterrupted run, re-fired under generation 1, and the mapping resumes', async () => {
    const s = await setup('restore-a');
    // Phase 1: minutes 0..2 on both shards, then a checkpoint.
    await putPerShard(s.stream, [events(20, 0, 3, 0), events(20, 0, 3, 1)]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    const run = await s.taker.take();
    expect(run.status).toBe('complete');
    const checkpointId = run.status === 'complete' ? run.manifest.id : '';

    // Phase 2: minutes 1..4, then a record per shard an hour later that fires every window.
    const flush = { k: 'flush', t: 3_600_000 };
    await putPerShard(s.stream, [
      [...events(20, 1, 4, 2), flush],
      [...events(20, 1, 4, 3), flush],
    ]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    await s.live.tick();
    const uninterrupted = view(s.results);
    expect(Object.keys(uninterrupted).length).toBeGreaterThan(10);
    expect(s.late.items()).toEqual([]);

    // State loss.
    expect(await deleteAllItems(fx.clients.dynamodb, s.table)).toBeGreaterThan(0);

    const phases: RestoreProgress['phase'][] = [];
    const summary = await restoreOperator({
      operator: OP,
      state: s.state,
      checkpoints: s.checkpoints,
      checkpoint: 'latest',
      mapping: new LocalMappingControl(s.esm),
      resumeHint: 'esm.resume()',
      rerun: (id) => `restore ${id}`,
      source: (arn) => kinesisReplaySource({ client: fx.clients.kinesis, streamArn: arn }),
      target: s.runtime(),
      chunkRecords: 10_000,
      onProgress: (p) => {
        if (phases.at(-1) !== p.phase) phases.push(p.phase);
      },
    });
    expect(phases).toEqual([
      'pausing',
      'checking',
      'restoring',
      'replaying',
      'firing',
      'retracting',
      'resuming',
      'done',
    ]);
    expect(summary).toMatchObject({
      checkpointId,
      generation: 1,
      paused: true,
      windowsRetracted: 0, // a wiped state: nothing to collect
      replay: { shards: 2, inState: 42, late: 0, deadLettered: 0 },
    });
    // AT each committed record: that one record per shard is skipped by the committed guard.
    expect(summary.replay.records).toBe(44);
    expect(summary.replay.skipped).toBe(2);
    expect(summary.windowsRefired).toBeGreaterThan(0);

    expect(view(s.results)).toEqual(uninterrupted);
    const refired = s.results.results().filter((r) => (r.generation ?? 0) === 1);
    expect(refired.length).toBe(summary.windowsRefired);
    for (const r of refired) expect(r.id).toMatch(/\/g1v\d+$/);

    // Resumed: a new record is delivered by the mapping and counted once.
    await putPerShard(s.stream, [[{ k: 'flush', t: 3_600_001 }], []]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    const items = await s.state.listKeyWindows(OP, ['flush'], 1);
    expect(items.get('flush')?.map((w) => w.accumulator)).toEqual([3]);
  }, 120_000);

  it('GIVEN a corrupted part of the latest checkpoint WHEN restored THEN CheckpointError names the part and the previous checkpoint, the state is untouched, the mapping stays paused until resumed', async () => {
    const s = await setup('restore-b');
    await putPerShard(s.stream, [events(10, 0, 2, 0), events(10, 0, 2, 1)]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    const first = await s.taker.take();
    await putPerShard(s.stream, [events(5, 1, 2, 2), []]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    s.clock.advance(1000); // a later id: `latest` is the second
    const second = await s.taker.take();
    if (first.status !== 'complete' || second.status !== 'complete')
      throw new Error('no checkpoint');
    const part = second.manifest.parts[0]!.name;
    await fx.clients.s3.send(
      new PutObjectCommand({
        Bucket: s.bucket,
        Key: `weir/${OP}/checkpoints/${second.manifest.id}/${part}`,
        Body: 'not gzip',
      }),
    );
    const keys = ['k0', 'k1', 'k2', 'k3'];
    const before = { progress: await s.state.readProgress(OP), counts: await s.counts(keys) };

    const err = await s.restore().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreFailedError);
    const failed = err as RestoreFailedError;
    expect(failed.cause).toBeInstanceOf(CheckpointError);
    expect(failed.cause).toMatchObject({
      checkpointId: second.manifest.id,
      part,
      previousCheckpointId: first.manifest.id,
    });
    expect(failed.stateChanged).toBe(false);
    expect(failed.nextStep).toContain(`restore ${first.manifest.id}`);
    expect(failed.message).toContain('The mapping is left paused; the state is untouched');
    expect({ progress: await s.state.readProgress(OP), counts: await s.counts(keys) }).toEqual(
      before,
    );

    // Paused: a new record is not delivered (20 poll intervals); resumed: it is, once.
    const invocations = s.esm.stats().invocations;
    await putPerShard(s.stream, [[{ k: 'k0', t: 0 }], []]);
    await sleep(1000);
    expect(s.esm.stats().invocations).toBe(invocations);
    s.esm.resume();
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    const after = (await s.counts(['k0']))['k0']!;
    const was = before.counts['k0']!.find(([start]) => start === 0)![1] as number;
    expect(after.find(([start]) => start === 0)![1]).toBe(was + 1);
  }, 120_000);

  it('GIVEN a checkpoint whose position lies before the oldest record the shard retains WHEN restored THEN ReplayGapError names the shard and both positions, and the state is untouched', async () => {
    const s = await setup('restore-c');
    await s.esm.pause(); // nothing processed: the progress written below is the shard's only one
    const seqs = await put(
      fx.clients.kinesis,
      s.stream,
      events(6, 0, 1, 0).map((e) => JSON.stringify(e)),
      SHARD_KEYS[0],
    );
    // What a trim looks like: the stored position is older than the first record still retained.
    const stored = (BigInt(seqs[0]!) - 1n).toString();
    const { generation } = await s.state.readProgress(OP);
    await s.state.writeShardProgress(
      OP,
      {
        shardId: shardId('shardId-000000000000'),
        committed: encodeOffset({ sequenceNumber: stored as never, subSequenceNumber: 0 }),
        watermark: 0,
        lastActivity: 0,
        closed: false,
      },
      generation,
    );
    expect((await s.taker.take()).status).toBe('complete');
    const before = await s.state.readProgress(OP);

    const err = (await s.restore().catch((e: unknown) => e)) as RestoreFailedError;
    expect(err).toBeInstanceOf(RestoreFailedError);
    expect(err.cause).toBeInstanceOf(ReplayGapError);
    expect(err.cause).toMatchObject({
      shardId: 'shardId-000000000000',
      wantedSequenceNumber: stored,
      oldestAvailableSequenceNumber: seqs[0],
    });
    expect(err.message).toContain(
      `Cannot replay shardId-000000000000 from sequence number ${stored}`,
    );
    expect(err.stateChanged).toBe(false);
    expect(await s.state.readProgress(OP)).toEqual(before);
    s.esm.resume();
  }, 120_000);

  it('GIVEN a batch held between its reads and its writes WHEN a restore runs meanwhile THEN its writes are fenced, nothing of it lands in the restored state, and after the resume it is applied exactly once', async () => {
    let hold = false;
    let entered: () => void = () => undefined;
    const enteredHold = new Promise<void>((r) => (entered = r));
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    /** The live batches' store: a write of the held batch waits for `release`. */
    class HeldStore extends DynamoDbStateStore {
      override async write(
        operator: string,
        groups: readonly (readonly WindowWrite[])[],
        generation: number,
      ): Promise<readonly boolean[]> {
        if (hold && groups.some((g) => g.some((w) => w.kind === 'put' && w.item.key === 'held'))) {
          hold = false;
          entered();
          await released;
        }
        return super.write(operator, groups, generation);
      }
    }
    const s = await setup(
      'restore-d',
      (table) => new HeldStore({ client: fx.clients.dynamodb, tableName: table }),
    );
    await putPerShard(s.stream, [events(10, 0, 2, 0), events(10, 0, 2, 1)]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect((await s.taker.take()).status).toBe('complete');
    const keys = ['k0', 'k1', 'k2', 'k3', 'held'];
    const expected = await s.counts(keys);

    hold = true;
    await putPerShard(s.stream, [[{ k: 'held', t: 1 }], []]);
    await enteredHold; // the batch read its progress (generation 0) and waits before its write

    // Lambda reports Disabled while an invocation still runs: the pause does not wait for it.
    const lambdaLike: MappingControl = {
      pause: () => {
        void s.esm.pause();
        return Promise.resolve();
      },
      resume: () => {
        s.esm.resume();
        return Promise.resolve();
      },
    };
    const summary = await s.restore({ mapping: lambdaLike });
    expect(summary.generation).toBe(1);
    expect(summary.replay.inState).toBe(1); // the held record, applied by the replay
    const afterRestore = await s.counts(keys);
    expect(afterRestore).toEqual({ ...expected, held: [[0, 1]] });

    release(); // the held batch writes under generation 0: fenced, then retried by the mapping
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    // Fenced: nothing of it landed; the restored progress has the held record applied (by the
    // replay), so the fenced attempt reports nothing to retry and the mapping moves on.
    expect(s.liveLog.filter((e) => e['msg'] === 'batch fenced by a restore')).toHaveLength(1);
    expect(await s.counts(keys)).toEqual(afterRestore);
    // Later records of the mapping still apply once each on the restored state.
    await putPerShard(s.stream, [[{ k: 'held', t: 2 }], []]);
    await s.esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect((await s.counts(['held']))['held']).toEqual([[0, 2]]);
  }, 120_000);
});
