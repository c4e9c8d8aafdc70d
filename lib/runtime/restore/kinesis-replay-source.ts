/** The {@link ReplaySource} over Kinesis: ListShards for the shards, the shard reader for the records. */
import { listShards, type KinesisListShardsClient } from '../../adapters/kinesis/list-shards.ts';
import {
  oldestRetained,
  readShard,
  type KinesisReadClient,
} from '../../adapters/kinesis/shard-reader.ts';
import type { RetryOptions } from '../../adapters/retry.ts';
import { ReplayGapError } from '../../errors.ts';
import type { StreamRecordInput } from '../local/esm/kinesis-event.ts';
import type { ReplaySource, ReplayStart } from './replay.ts';

/** Options of {@link kinesisReplaySource}. */
export interface KinesisReplaySourceOptions {
  readonly client: KinesisReadClient & KinesisListShardsClient;
  readonly streamArn: string;
  /** GetRecords `Limit`, 1..10000. @default 10000 */
  readonly limit?: number;
  readonly retry?: RetryOptions;
}

/**
 * Reads a stream for a replay. The stream is addressed by name (the ARN's
 * last part: kinesalite predates the StreamARN parameter).
 *
 * @example
 * const source = kinesisReplaySource({ client: clients.kinesis, streamArn });
 */
export function kinesisReplaySource(o: KinesisReplaySourceOptions): ReplaySource {
  const stream = { StreamName: o.streamArn.slice(o.streamArn.lastIndexOf('/') + 1) };
  const retry = o.retry === undefined ? {} : { retry: o.retry };
  return {
    streamArn: o.streamArn,
    async shards() {
      const shards = await listShards(o.client, stream);
      return shards.map((s) => ({
        shardId: s.ShardId as string,
        parents: [s.ParentShardId, s.AdjacentParentShardId].filter(
          (p): p is string => p !== undefined && p !== '',
        ),
        closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      }));
    },
    async checkRetained(shardId, sequenceNumber) {
      // A shard that retains nothing lost nothing after its position (an idle shard aged out), as in readShard.
      const oldest = await oldestRetained({ client: o.client, stream, shardId, ...retry });
      if (oldest !== undefined && BigInt(oldest) > BigInt(sequenceNumber))
        throw new ReplayGapError(shardId, sequenceNumber, oldest);
    },
    async *read(shardId: string, start: ReplayStart): AsyncIterable<readonly StreamRecordInput[]> {
      if (
        start.type === 'AT_SEQUENCE_NUMBER' &&
        (await oldestRetained({ client: o.client, stream, shardId, ...retry })) === undefined
      )
        return; // nothing retained: nothing to replay (readShard would call AT a gap)
      for await (const page of readShard({
        client: o.client,
        stream,
        shardId,
        start,
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        ...retry,
      })) {
        yield page.records.map((r) => ({
          SequenceNumber: r.SequenceNumber as string,
          PartitionKey: r.PartitionKey as string,
          Data: r.Data ?? new Uint8Array(0),
          ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
        }));
      }
    },
  };
}
