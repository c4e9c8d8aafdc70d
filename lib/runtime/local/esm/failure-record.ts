/**
 * The document Lambda sends to an on-failure destination for a Kinesis batch
 * it gave up on ("Retain discarded batch records for a Kinesis Data Streams
 * event source in Lambda", example invocation record), and its one builder,
 * shared by the local and the simulated ESM. It names the shard and the
 * sequence range, not the records: a redrive reads them back from Kinesis.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import type { StreamRecordInput } from './kinesis-event.ts';
import type { ShardId } from '../../../model/position.ts';

/** Why Lambda gave up on a batch. */
export const FailureCondition = {
  RetryAttemptsExhausted: 'RetryAttemptsExhausted',
  RecordAgeExceeded: 'RecordAgeExceeded',
} as const;
/** Why Lambda gave up on a batch. */
export type FailureCondition = (typeof FailureCondition)[keyof typeof FailureCondition];

/** The document Lambda sends to an on-failure destination for a Kinesis batch. */
export interface KinesisFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: FailureCondition;
    readonly approximateInvokeCount: number;
  };
  /** Absent when the records were discarded before any invocation (record age). */
  readonly responseContext?: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** `Unhandled` for a thrown error, crash or timeout; absent for a partial batch response. */
    readonly functionError?: string;
  };
  readonly version: '1.0';
  /** ISO 8601 with milliseconds, UTC. */
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: ShardId;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
  /** S3 destinations only: the invocation payload (the batch's event). */
  readonly payload?: KinesisStreamEvent;
}

/** What {@link kinesisFailureRecord} needs to know. */
export interface FailureRecordInput {
  /** The last invocation's request id (a fresh one when the records were never invoked). */
  readonly requestId: string;
  readonly functionArn: string;
  readonly condition: FailureCondition;
  /** Invocations of exactly these records. */
  readonly approximateInvokeCount: number;
  /** How the last invocation ended; undefined when the records were never invoked as they are. */
  readonly response: { readonly functionError: boolean } | undefined;
  /** When the ESM gave up (epoch ms). */
  readonly timestampMs: number;
  readonly shardId: ShardId;
  readonly streamArn: string;
  /** The records given up on, in shard order (at least one). */
  readonly records: readonly StreamRecordInput[];
}

/**
 * Builds the failure record for records the ESM gives up on, in Lambda's
 * field order.
 *
 * @example
 * const record = kinesisFailureRecord({ requestId, functionArn, condition: 'RetryAttemptsExhausted',
 *   approximateInvokeCount: 3, response: { functionError: true }, timestampMs: Date.now(),
 *   shardId, streamArn, records });
 */
export function kinesisFailureRecord(input: FailureRecordInput): KinesisFailureRecord {
  const first = input.records[0];
  const last = input.records.at(-1);
  if (first === undefined || last === undefined)
    throw new RangeError('kinesisFailureRecord: no records');
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    ...(input.response
      ? {
          responseContext: {
            statusCode: 200,
            executedVersion: '$LATEST',
            ...(input.response.functionError ? { functionError: 'Unhandled' } : {}),
          },
        }
      : {}),
    version: '1.0',
    timestamp: new Date(input.timestampMs).toISOString(),
    KinesisBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: first.SequenceNumber,
      endSequenceNumber: last.SequenceNumber,
      approximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp.toISOString(),
      approximateArrivalOfLastRecord: last.ApproximateArrivalTimestamp.toISOString(),
      batchSize: input.records.length,
      streamArn: input.streamArn,
    },
  };
}
