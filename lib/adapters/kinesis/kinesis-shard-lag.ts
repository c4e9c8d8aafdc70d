/**
 * {@link ShardLagReader} over Kinesis: one GetShardIterator after the
 * committed position, then at most `maxReads` GetRecords of at most
 * `recordsPerRead` records, counting what lies between the position and the
 * tip.
 *
 *   committed ─┐
 *   shard  ... ■ □ □ □ □ □ ... □ ▏tip
 *                └ read 1 ─┘└ read 2 ┘   exact when a read ends at the tip
 *                                        (fewer records than asked, MillisBehindLatest 0)
 *
 * Cost per shard: 1 GetShardIterator + up to `maxReads` GetRecords. GetRecords
 * shares the shard's 5 reads/s and 2 MB/s with the event source mapping (a
 * read may return up to `recordsPerRead` records, or 10 MB); GetShardIterator
 * allows 5/s per shard. Kinesis bills nothing per call on a provisioned
 * stream; on-demand streams bill data read.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record,
} from '@aws-sdk/client-kinesis';
import type { SequenceNumber, ShardId } from '../../model/position.ts';
import type { ShardLag, ShardLagReader } from '../../ports/operator-status.ts';
import { intOption } from '../../util/int-option.ts';
import { kinesisStreamTarget, type KinesisStreamTarget } from './list-shards.ts';

/** Options of {@link KinesisShardLagReader}. */
export interface KinesisShardLagReaderOptions {
  readonly client: KinesisClient;
  /** Stream name or ARN. */
  readonly stream: string;
  /** GetRecords calls per shard at most. 1..100. @default 3 */
  readonly maxReads?: number;
  /** `Limit` of each GetRecords. 1..10000. @default 1000 */
  readonly recordsPerRead?: number;
}

/** The Kinesis adapter of the shard lag port. */
export class KinesisShardLagReader implements ShardLagReader {
  private readonly target: KinesisStreamTarget;
  private readonly maxReads: number;
  private readonly perRead: number;

  constructor(private readonly options: KinesisShardLagReaderOptions) {
    this.target = kinesisStreamTarget(options.stream);
    this.maxReads = intOption('maxReads', options.maxReads, 3, 1, 100);
    this.perRead = intOption('recordsPerRead', options.recordsPerRead, 1000, 1, 10_000);
  }

  async lagAfter(shardId: ShardId, committed: SequenceNumber | null): Promise<ShardLag> {
    const { client } = this.options;
    const it = await client.send(
      new GetShardIteratorCommand({
        ...this.target,
        ShardId: shardId,
        ...(committed === null
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: committed }),
      }),
    );
    let iterator = it.ShardIterator;
    let records = 0;
    let first: _Record | undefined;
    let last: _Record | undefined;
    let behindLast = 0;
    for (let read = 0; read < this.maxReads && iterator; read++) {
      const page = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: this.perRead }),
      );
      const got = page.Records ?? [];
      records += got.length;
      first ??= got[0];
      last = got[got.length - 1] ?? last;
      behindLast = page.MillisBehindLatest ?? 0;
      iterator = page.NextShardIterator ?? undefined;
      const ended = iterator === undefined;
      if (ended || (got.length < this.perRead && behindLast === 0)) {
        // Nothing after the position: no lag, whatever the end of a closed shard reports.
        const millis = records === 0 ? 0 : millisBehind(first, last, behindLast);
        return { records, exact: true, millis, ended };
      }
    }
    return { records, exact: false, millis: millisBehind(first, last, behindLast), ended: false };
  }
}

/** How much earlier than the tip `first` arrived: the tip's lag after `last`, plus first..last. */
function millisBehind(
  first: _Record | undefined,
  last: _Record | undefined,
  behindLast: number,
): number {
  const a = first?.ApproximateArrivalTimestamp?.getTime();
  const b = last?.ApproximateArrivalTimestamp?.getTime();
  if (a === undefined || b === undefined) return behindLast;
  return behindLast + Math.max(0, b - a);
}
