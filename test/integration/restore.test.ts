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
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  BatchWriteItemCommand,
  DescribeTableCommand,
  ScanCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
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
import { ManualClock } from '../../lib/ports/clock.ts';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
} from '../../lib/runtime/local/esm/index.ts';
import { LocalMappingControl } from '../../lib/runtime/local/mapping-control.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/provision.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import {
  kinesisReplaySource,
  restoreOperator,
  type RestoreProgress,
} from '../../lib/runtime/restore/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createStream, put } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

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

/** Deletes every item of a table: a lost state table. */
async function wipeTable(client: DynamoDBClient, table: string): Promise<number> {
  const d = await client.send(new DescribeTableCommand({ TableName: table }));
  const keys = (d.Table?.KeySchema ?? []).map((k) => k.AttributeName as string);
  let deleted = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      const requests = items.slice(i, i + 25).map((it) => ({
        DeleteRequest: { Key: Object.fromEntries(keys.map((k) => [k, it[k]!])) },
      }));
      await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      deleted += requests.length;
    }
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start !== undefined);
  return deleted;
}

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

async function setup(name: string) {
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
  const live = runtime();
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
  return {
    stream,
    arn,
    table,
    state,
    checkpoints,
    clock,
    results,
    late,
    runtime,
    live,
    esm,
    taker,
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
    expect(await wipeTable(fx.clients.dynamodb, s.table)).toBeGreaterThan(0);

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
      'resuming',
      'done',
    ]);
    expect(summary).toMatchObject({
      checkpointId,
      generation: 1,
      paused: true,
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
});
