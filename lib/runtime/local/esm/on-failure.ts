/**
 * On-failure destinations: where the ESM reports a discarded batch, in the
 * exact document Lambda sends ("Retain discarded batch records for a Kinesis
 * Data Streams event source in Lambda", example invocation record). SQS and
 * SNS receive the metadata only; S3 also receives the invocation payload,
 * under `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { KinesisFailureRecord } from './failure-record.ts';
import type { ShardId } from '../../../model/position.ts';

export { FailureCondition, type KinesisFailureRecord } from './failure-record.ts';

/** What the ESM hands a destination. */
export interface FailedBatch {
  /** The mapping's UUID (used in the S3 key). */
  readonly esmUuid: string;
  readonly shardId: ShardId;
  readonly record: KinesisFailureRecord;
  /** The discarded records as the function would have received them. */
  readonly event: KinesisStreamEvent;
}

/**
 * Where discarded batches are reported. Implementations: {@link S3OnFailureDestination},
 * {@link SqsOnFailureDestination}, {@link InMemoryOnFailureDestination}.
 */
export interface OnFailureDestination {
  /** A description such as the destination's ARN, for logs. */
  readonly arn: string;
  send(failure: FailedBatch): Promise<void>;
}

/** Keeps failure records in memory; for tests. */
export class InMemoryOnFailureDestination implements OnFailureDestination {
  readonly arn = 'memory:on-failure';
  readonly sent: FailedBatch[] = [];
  send(failure: FailedBatch): Promise<void> {
    this.sent.push(failure);
    return Promise.resolve();
  }
}

/** Options of {@link S3OnFailureDestination}. */
export interface S3OnFailureDestinationOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Source of the random part of the key. @default crypto.randomUUID */
  readonly randomId?: () => string;
}

/**
 * Writes each failure record, with its payload, as one S3 object named the way Lambda names it.
 *
 * @example
 * new S3OnFailureDestination({ client: clients.s3, bucket: 'esm-failures' });
 */
export class S3OnFailureDestination implements OnFailureDestination {
  readonly arn: string;
  readonly #options: S3OnFailureDestinationOptions;
  constructor(options: S3OnFailureDestinationOptions) {
    this.#options = options;
    this.arn = `arn:aws:s3:::${options.bucket}`;
  }
  async send(failure: FailedBatch): Promise<void> {
    const key = s3FailureObjectKey(
      failure.esmUuid,
      failure.shardId,
      new Date(failure.record.timestamp),
      (this.#options.randomId ?? randomUUID)(),
    );
    const body = JSON.stringify({ ...failure.record, payload: failure.event });
    await this.#options.client.send(
      new PutObjectCommand({
        Bucket: this.#options.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
      }),
    );
  }
}

/** Lambda's key: `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>` (UTC). */
export function s3FailureObjectKey(
  esmUuid: string,
  shardId: ShardId,
  at: Date,
  randomId: string,
): string {
  const iso = at.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const day = iso.slice(0, 10);
  const time = iso.slice(11, 19).replaceAll(':', '.');
  return `aws/lambda/${esmUuid}/${shardId}/${day.replaceAll('-', '/')}/${day}T${time}-${randomId}`;
}

/** Options of {@link SqsOnFailureDestination}. */
export interface SqsOnFailureDestinationOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** @default derived from the queue URL */
  readonly queueArn?: string;
}

/**
 * Sends each failure record (metadata only, as Lambda does) as one SQS message.
 * Needs an SQS endpoint: LocalStack or real AWS (the embedded tier has none).
 */
export class SqsOnFailureDestination implements OnFailureDestination {
  readonly arn: string;
  readonly #options: SqsOnFailureDestinationOptions;
  constructor(options: SqsOnFailureDestinationOptions) {
    this.#options = options;
    this.arn = options.queueArn ?? `sqs:${options.queueUrl}`;
  }
  async send(failure: FailedBatch): Promise<void> {
    await this.#options.client.send(
      new SendMessageCommand({
        QueueUrl: this.#options.queueUrl,
        MessageBody: JSON.stringify(failure.record),
      }),
    );
  }
}
