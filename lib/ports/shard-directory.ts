/**
 * The SourceReader side the runtime needs besides the event source mapping:
 * which shards exist, which are closed (resharding), and whether a closed
 * shard has been consumed past a position. The Kinesis adapter answers from
 * ListShards and GetRecords; tests use an in-memory one.
 */
import type { SequenceNumber, ShardId } from '../model/position.ts';

/** One shard of the source stream. */
export interface ShardInfo {
  readonly shardId: ShardId;
  readonly parentShardId?: string;
  readonly adjacentParentShardId?: string;
  /** A closed shard (split or merged away) takes no new records. */
  readonly closed: boolean;
}

/** Lists shards and tells whether a closed shard is fully consumed. */
export interface ShardDirectory {
  listShards(): Promise<readonly ShardInfo[]>;
  /**
   * True when `shardId` is closed and no record lies after `committedSequenceNumber`
   * (`null`: nothing consumed yet, so true only for a closed, empty shard).
   */
  isConsumed(shardId: ShardId, committedSequenceNumber: SequenceNumber | null): Promise<boolean>;
  /**
   * True when records lie after `committedSequenceNumber` (`null`: any record):
   * the shard is backlogged, not idle, however long since its last batch
   * (Lambda may be retrying a failing batch, or be slow to start).
   */
  hasRecordsAfter(
    shardId: ShardId,
    committedSequenceNumber: SequenceNumber | null,
  ): Promise<boolean>;
}
