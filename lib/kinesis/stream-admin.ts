/**
 * Small stream helpers used by tests, the demo and tools: create a stream and
 * wait until it is ACTIVE, and read every record of a stream from the trim
 * horizon to the tip.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { listShards } from '../adapters/kinesis/list-shards.ts';
import { WeirError } from '../errors.ts';
import { sleep } from '../util/sleep.ts';

// The paginator lives with the Kinesis adapters; stream tools offer it too.
export { listShards };
import type { ShardHashRange } from './producer.ts';
import { shardId as toShardId, type ShardId } from '../model/position.ts';

/** A record read back from a shard. */
export interface StoredRecord {
  readonly shardId: ShardId;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly approximateArrivalTimestamp: Date | undefined;
}

/**
 * Creates a provisioned stream and waits until it is ACTIVE.
 *
 * @example
 * await createStreamAndWait(kinesis, 'clicks', 4);
 */
export async function createStreamAndWait(
  kinesis: KinesisClient,
  streamName: string,
  shardCount: number,
  timeoutMs = 60_000,
): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline)
      throw new WeirError(`stream ${streamName} not ACTIVE after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Reads every record of every shard from TRIM_HORIZON until a shard answers
 * with no records and no lag (the tip). For tests and tools on quiet streams.
 */
export async function readWholeStream(
  kinesis: KinesisClient,
  streamName: string,
  options: { readonly limit?: number } = {},
): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const shard of await listShards(kinesis, streamName)) {
    const shardId = toShardId(shard.ShardId as string);
    const it = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = it.ShardIterator;
    while (iterator !== undefined) {
      const page = await kinesis.send(
        new GetRecordsCommand({
          ShardIterator: iterator,
          ...(options.limit !== undefined ? { Limit: options.limit } : {}),
        }),
      );
      for (const r of page.Records ?? []) {
        out.push({
          shardId,
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          data: r.Data ?? new Uint8Array(0),
          approximateArrivalTimestamp: r.ApproximateArrivalTimestamp,
        });
      }
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

/**
 * Hash key ranges of the stream's OPEN shards, for shard-aware aggregation
 * (`putRecords(..., { aggregate: { shards } })`).
 */
export async function listShardHashRanges(
  kinesis: KinesisClient,
  stream: string,
): Promise<ShardHashRange[]> {
  return (await listShards(kinesis, stream))
    .filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((s) => ({
      shardId: toShardId(s.ShardId as string),
      startingHashKey: s.HashKeyRange?.StartingHashKey as string,
      endingHashKey: s.HashKeyRange?.EndingHashKey as string,
    }));
}
