/**
 * {@link ShardDirectory} over Kinesis: ListShards for the shard tree, and
 * GetRecords after the committed position to tell whether a closed shard has
 * been consumed to its end.
 *
 * The end of a closed shard is an absent NextShardIterator, and it need not
 * show on the first read after the last record: AWS documents that GetRecords
 * may return an empty list with a next iterator and "it might take multiple
 * calls to get to a portion of the shard that contains records" (GetRecords
 * API reference). kinesalite does it when the split came after the last
 * record: the first read answers no records, MillisBehindLatest 0 and an
 * iterator; the following one has no iterator. So the end-of-shard check
 * follows the iterator, ignoring MillisBehindLatest, until a record or the
 * end, at most `maxReadsPerCheck` GetRecords calls (plus one
 * GetShardIterator); each call goes through the shared retry policy.
 *
 *     isConsumed:       GetShardIterator → GetRecords ×≤N until record | end
 *     hasRecordsAfter:  GetShardIterator → GetRecords ×≤N until record | end | at tip
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { withRetry, type RetryOptions } from '../retry.ts';
import { shardId, type SequenceNumber, type ShardId } from '../../model/position.ts';
import type { ShardDirectory, ShardInfo } from '../../ports/shard-directory.ts';
import { listShards, type KinesisStreamTarget } from './list-shards.ts';

/** Options of {@link KinesisShardDirectory}. */
export interface KinesisShardDirectoryOptions {
  readonly client: KinesisClient;
  /** Stream name (or use `streamArn`). */
  readonly streamName?: string;
  readonly streamArn?: string;
  /** GetRecords calls to follow an iterator before giving an answer of "not yet". @default 5 */
  readonly maxReadsPerCheck?: number;
  /** Retries of throttled or failed calls. @default the shared policy (retry.ts) */
  readonly retry?: RetryOptions;
}

/** The Kinesis adapter of the shard directory port. */
export class KinesisShardDirectory implements ShardDirectory {
  private readonly stream: KinesisStreamTarget;

  constructor(private readonly options: KinesisShardDirectoryOptions) {
    if (options.streamArn) this.stream = { StreamARN: options.streamArn };
    else if (options.streamName) this.stream = { StreamName: options.streamName };
    else throw new Error('KinesisShardDirectory needs streamName or streamArn');
  }

  async listShards(): Promise<readonly ShardInfo[]> {
    const shards = await listShards(this.options.client, this.stream);
    return shards.map((s) => ({
      shardId: shardId(s.ShardId ?? ''),
      ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
      ...(s.AdjacentParentShardId ? { adjacentParentShardId: s.AdjacentParentShardId } : {}),
      closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
    }));
  }

  async isConsumed(
    shardId: ShardId,
    committedSequenceNumber: SequenceNumber | null,
  ): Promise<boolean> {
    // Asked of closed shards (the ticker checks no others): read on to the end, whatever
    // MillisBehindLatest says. An open shard answers "not yet" after the bounded reads.
    return (await this.peek(shardId, committedSequenceNumber, false)) === 'ended';
  }

  async hasRecordsAfter(
    shardId: ShardId,
    committedSequenceNumber: SequenceNumber | null,
  ): Promise<boolean> {
    return (await this.peek(shardId, committedSequenceNumber, true)) === 'records';
  }

  /**
   * Looks past a position: a record there, the end of a closed shard, or nothing yet.
   * `stopAtTip`: an empty page at the stream's tip (MillisBehindLatest 0) answers "nothing yet".
   */
  private async peek(
    shardId: ShardId,
    committedSequenceNumber: SequenceNumber | null,
    stopAtTip: boolean,
  ): Promise<'records' | 'ended' | 'empty'> {
    const it = await this.call(() =>
      this.options.client.send(
        new GetShardIteratorCommand({
          ...this.stream,
          ShardId: shardId,
          ...(committedSequenceNumber === null
            ? { ShardIteratorType: 'TRIM_HORIZON' }
            : {
                ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
                StartingSequenceNumber: committedSequenceNumber,
              }),
        }),
      ),
    );
    let iterator = it.ShardIterator;
    for (let i = 0; i < (this.options.maxReadsPerCheck ?? 5) && iterator; i++) {
      const current = iterator;
      const page = await this.call(() =>
        this.options.client.send(new GetRecordsCommand({ ShardIterator: current, Limit: 1 })),
      );
      if ((page.Records ?? []).length > 0) return 'records';
      // A closed shard's iterator ends (null) once its last record is behind it.
      if (page.NextShardIterator === undefined || page.NextShardIterator === null) return 'ended';
      // An open shard at its tip: nothing more to see now.
      if (stopAtTip && page.MillisBehindLatest === 0) return 'empty';
      iterator = page.NextShardIterator;
    }
    return 'empty';
  }

  private call<T>(f: () => Promise<T>): Promise<T> {
    return withRetry(f, this.options.retry);
  }
}
