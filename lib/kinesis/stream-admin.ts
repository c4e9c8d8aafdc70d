/**
 * Small stream helpers used by tests, the demo and tools: create a stream and
 * wait until it is ACTIVE, reshard it (split or merge shards, then wait until
 * ACTIVE again), and read every record of a stream from the trim horizon to
 * the tip.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  MergeShardsCommand,
  SplitShardCommand,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { kinesisStreamTarget, listShards } from '../adapters/kinesis/list-shards.ts';
import { WeirError } from '../errors.ts';
import { sleep } from '../util/sleep.ts';

// The paginator lives with the Kinesis adapters; stream tools offer it too.
export { listShards };
import type { ShardHashRange } from './producer.ts';

/** A record read back from a shard. */
export interface StoredRecord {
  readonly shardId: string;
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
  await waitForActive(kinesis, streamName, timeoutMs);
}

/** Polls DescribeStreamSummary until the stream (name or ARN) is ACTIVE. */
async function waitForActive(
  kinesis: KinesisClient,
  stream: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand(kinesisStreamTarget(stream)));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline)
      throw new WeirError(`stream ${stream} not ACTIVE after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The shards a reshard created, as ListShards reports them once the stream is ACTIVE again. */
export interface ReshardResult {
  /** The shards that were closed (one for a split, two for a merge). */
  readonly parents: readonly string[];
  /** The new open shards (two for a split, one for a merge), in hash key order. */
  readonly children: readonly string[];
}

/** Options of {@link splitShard} and {@link mergeShards}. */
export interface ReshardOptions {
  /** How long to wait for the stream to be ACTIVE again. @default 60000 */
  readonly timeoutMs?: number;
}

/** Options of {@link splitShard}. */
export interface SplitShardOptions extends ReshardOptions {
  /**
   * The first hash key of the second child (decimal string): it must lie
   * strictly inside the parent's range. @default the midpoint of the parent's range
   */
  readonly newStartingHashKey?: string;
}

function findShard(shards: readonly Shard[], stream: string, id: string): Shard {
  const s = shards.find((x) => x.ShardId === id);
  if (s === undefined)
    throw new WeirError(
      `stream ${stream} has no shard ${id} (shards: ${shards.map((x) => x.ShardId).join(', ')})`,
    );
  if (s.SequenceNumberRange?.EndingSequenceNumber !== undefined)
    throw new WeirError(`shard ${id} of stream ${stream} is closed; only open shards reshard`);
  return s;
}

function hashRange(s: Shard): [bigint, bigint] {
  return [
    BigInt(s.HashKeyRange?.StartingHashKey ?? '0'),
    BigInt(s.HashKeyRange?.EndingHashKey ?? '0'),
  ];
}

function childrenOf(shards: readonly Shard[], parents: readonly string[]): string[] {
  return shards
    .filter(
      (s) =>
        (s.ParentShardId !== undefined && parents.includes(s.ParentShardId)) ||
        (s.AdjacentParentShardId !== undefined && parents.includes(s.AdjacentParentShardId)),
    )
    .sort((a, b) => (hashRange(a)[0] < hashRange(b)[0] ? -1 : 1))
    .map((s) => s.ShardId as string);
}

/**
 * Splits an open shard in two (SplitShard) and waits until the stream is
 * ACTIVE again. The parent is closed: it keeps its records but takes no new
 * ones; records after the split go to the child owning their hash key.
 *
 * @example
 * const { children } = await splitShard(kinesis, 'clicks', 'shardId-000000000000');
 */
export async function splitShard(
  kinesis: KinesisClient,
  stream: string,
  shardId: string,
  options: SplitShardOptions = {},
): Promise<ReshardResult> {
  const parent = findShard(await listShards(kinesis, stream), stream, shardId);
  const [lo, hi] = hashRange(parent);
  const at = options.newStartingHashKey ?? ((lo + hi + 1n) / 2n).toString();
  if (!/^[0-9]+$/.test(at) || BigInt(at) <= lo || BigInt(at) > hi)
    throw new WeirError(
      `newStartingHashKey must lie in (${lo}, ${hi}] of shard ${shardId} (given ${at})`,
    );
  await kinesis.send(
    new SplitShardCommand({
      ...kinesisStreamTarget(stream),
      ShardToSplit: shardId,
      NewStartingHashKey: at,
    }),
  );
  await waitForActive(kinesis, stream, options.timeoutMs ?? 60_000);
  return { parents: [shardId], children: childrenOf(await listShards(kinesis, stream), [shardId]) };
}

/**
 * Merges two open shards with adjacent hash key ranges into one
 * (MergeShards) and waits until the stream is ACTIVE again. Both parents
 * are closed.
 *
 * @example
 * const { children: [merged] } = await mergeShards(kinesis, 'clicks', 'shardId-000000000001', 'shardId-000000000002');
 */
export async function mergeShards(
  kinesis: KinesisClient,
  stream: string,
  shardId: string,
  adjacentShardId: string,
  options: ReshardOptions = {},
): Promise<ReshardResult> {
  const shards = await listShards(kinesis, stream);
  const a = findShard(shards, stream, shardId);
  const b = findShard(shards, stream, adjacentShardId);
  const [aLo, aHi] = hashRange(a);
  const [bLo, bHi] = hashRange(b);
  if (aHi + 1n !== bLo && bHi + 1n !== aLo)
    throw new WeirError(
      `shards ${shardId} and ${adjacentShardId} of stream ${stream} are not adjacent ` +
        `(hash keys ${aLo}..${aHi} and ${bLo}..${bHi}); only neighbours merge`,
    );
  await kinesis.send(
    new MergeShardsCommand({
      ...kinesisStreamTarget(stream),
      ShardToMerge: shardId,
      AdjacentShardToMerge: adjacentShardId,
    }),
  );
  await waitForActive(kinesis, stream, options.timeoutMs ?? 60_000);
  const parents = [shardId, adjacentShardId];
  return { parents, children: childrenOf(await listShards(kinesis, stream), parents) };
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
    const shardId = shard.ShardId as string;
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
      shardId: s.ShardId as string,
      startingHashKey: s.HashKeyRange?.StartingHashKey as string,
      endingHashKey: s.HashKeyRange?.EndingHashKey as string,
    }));
}
