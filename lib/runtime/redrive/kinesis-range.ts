/** Reads a failure record's range back from Kinesis (AT its start, up to its end inclusive). */
import { readShard, type KinesisReadClient } from '../../adapters/kinesis/shard-reader.ts';
import type { RetryOptions } from '../../adapters/retry.ts';
import type { StreamRecordInput } from '../local/esm/kinesis-event.ts';
import type { KinesisBatchInfo } from './failed-batches.ts';
import type { RangeRecordReader } from './redrive.ts';

/**
 * A {@link RangeRecordReader} over a Kinesis client: GetRecords pages of
 * the range's shard, `ReplayGapError` when its start is no longer retained.
 *
 * @example
 * const readRange = kinesisRangeReader(clients.kinesis, { limit: 10_000 });
 */
export function kinesisRangeReader(
  client: KinesisReadClient,
  options: { readonly limit?: number; readonly retry?: RetryOptions } = {},
): RangeRecordReader {
  return async function* (info: KinesisBatchInfo): AsyncIterable<readonly StreamRecordInput[]> {
    for await (const page of readShard({
      client,
      // By name: the ARN's last part (kinesalite predates the StreamARN parameter).
      stream: { StreamName: info.streamArn.slice(info.streamArn.lastIndexOf('/') + 1) },
      shardId: info.shardId,
      start: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: info.startSequenceNumber },
      end: info.endSequenceNumber,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
    })) {
      yield page.records.map((r) => ({
        SequenceNumber: r.SequenceNumber as string,
        PartitionKey: r.PartitionKey as string,
        Data: r.Data ?? new Uint8Array(0),
        ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
      }));
    }
  };
}
