/**
 * Builds the exact `KinesisStreamEvent` Lambda's Kinesis event source mapping
 * delivers (see "Using Lambda to process records from Amazon Kinesis Data
 * Streams", example event). Field order follows AWS's sample so that a
 * `JSON.stringify` of a built event matches a captured one byte for byte.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** One record as read from GetRecords (the SDK's shape, narrowed). */
export interface StreamRecordInput {
  readonly SequenceNumber: string;
  readonly PartitionKey: string;
  readonly Data: Uint8Array;
  /** The SDK parses it as a Date; Lambda sends epoch seconds with a millisecond fraction. */
  readonly ApproximateArrivalTimestamp: Date;
}

/** Where a batch came from, as Lambda stamps it on every record. */
export interface KinesisEventSource {
  readonly shardId: string;
  readonly streamArn: string;
  readonly awsRegion: string;
  /** The ESM's execution role, e.g. `arn:aws:iam::123456789012:role/lambda-role`. */
  readonly invokeIdentityArn: string;
}

/** Epoch milliseconds to Lambda's `approximateArrivalTimestamp` (seconds, fraction in ms). */
export function arrivalSeconds(date: Date): number {
  return date.getTime() / 1000;
}

/** Builds one event record. */
export function buildKinesisRecord(
  record: StreamRecordInput,
  source: KinesisEventSource,
): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey,
      sequenceNumber: record.SequenceNumber,
      data: Buffer.from(record.Data).toString('base64'),
      approximateArrivalTimestamp: arrivalSeconds(record.ApproximateArrivalTimestamp),
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${source.shardId}:${record.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.awsRegion,
    eventSourceARN: source.streamArn,
  };
}

/**
 * Builds the event for one batch of one shard.
 *
 * @example
 * const event = buildKinesisEvent(getRecordsOutput.Records, {
 *   shardId: 'shardId-000000000000',
 *   streamArn,
 *   awsRegion: 'us-east-1',
 *   invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-local',
 * });
 */
export function buildKinesisEvent(
  records: readonly StreamRecordInput[],
  source: KinesisEventSource,
): KinesisStreamEvent {
  return { Records: records.map((r) => buildKinesisRecord(r, source)) };
}
