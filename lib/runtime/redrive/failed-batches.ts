/**
 * Where `weir redrive` finds the batches an event source mapping gave up
 * on: the on-failure destination's documents (failure-record.ts), each
 * naming a shard and a sequence range (`KinesisBatchInfo`), not the records.
 *
 *   SQS   one message per range; deleted once its range is applied
 *   SNS   through an SQS queue subscribed to the topic (SNS keeps nothing to
 *         read back): the SNS envelope (`Type: Notification`, `Message`) is
 *         unwrapped, raw message delivery works as well
 *   S3    one object per range under `aws/lambda/<ESM-UUID>/<shardId>/...`;
 *         objects are kept (the range's progress record makes a rerun a no-op)
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { WeirError } from '../../errors.ts';
import { withRetry } from '../../adapters/retry.ts';
import type { KinesisFailureRecord } from '../local/esm/failure-record.ts';

/** The range a failure record names (Lambda's `KinesisBatchInfo`). */
export type KinesisBatchInfo = KinesisFailureRecord['KinesisBatchInfo'];

/** One failure record found at a destination. */
export interface FailedBatch {
  /** Where it was found (message id, object key): for reports. */
  readonly id: string;
  readonly info: KinesisBatchInfo;
  /** Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`), when stated. */
  readonly condition: string | undefined;
  /** The range is applied: remove the record where that is how it is consumed (SQS), else nothing. */
  settle(): Promise<void>;
  /** The range was not applied (failure, dry run): make the record available again at once. */
  release(): Promise<void>;
}

/** A document at the destination that is not a Kinesis failure record. */
export class FailureRecordFormatError extends WeirError {
  constructor(
    readonly id: string,
    problem: string,
  ) {
    super(`${id}: not a Kinesis on-failure record (${problem}); left where it is`);
  }
}

/** Failure records of one destination, in the order it gives them. */
export interface FailedBatchSource {
  /** For logs and reports, e.g. the queue URL. */
  readonly description: string;
  /** Every record available now; a malformed one is yielded as a {@link FailureRecordFormatError}. */
  list(): AsyncIterable<FailedBatch | FailureRecordFormatError>;
}

/**
 * Parses one destination document: a failure record, or an SNS
 * notification wrapping one. Throws {@link FailureRecordFormatError}.
 */
export function parseFailureDocument(
  text: string,
  id: string,
): { info: KinesisBatchInfo; condition: string | undefined } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FailureRecordFormatError(id, 'not JSON');
  }
  if (isObject(doc) && doc['Type'] === 'Notification' && typeof doc['Message'] === 'string')
    return parseFailureDocument(doc['Message'], id);
  if (!isObject(doc) || !isObject(doc['KinesisBatchInfo']))
    throw new FailureRecordFormatError(id, 'no KinesisBatchInfo');
  const b = doc['KinesisBatchInfo'];
  for (const f of ['shardId', 'startSequenceNumber', 'endSequenceNumber', 'streamArn'] as const)
    if (typeof b[f] !== 'string' || b[f] === '')
      throw new FailureRecordFormatError(id, `KinesisBatchInfo.${f} missing`);
  for (const f of ['startSequenceNumber', 'endSequenceNumber'] as const)
    if (!/^[0-9]{1,128}$/.test(b[f] as string))
      throw new FailureRecordFormatError(id, `KinesisBatchInfo.${f} is not a sequence number`);
  const ctx = doc['requestContext'];
  return {
    info: b as unknown as KinesisBatchInfo,
    condition: isObject(ctx) && typeof ctx['condition'] === 'string' ? ctx['condition'] : undefined,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const noop = (): Promise<void> => Promise.resolve();

/** Failure records held in memory (the simulated and the local ESM's in-memory destination). */
export class InMemoryFailedBatches implements FailedBatchSource {
  readonly description = 'memory';
  /** Records not settled yet. */
  readonly records: KinesisFailureRecord[];
  constructor(records: readonly KinesisFailureRecord[]) {
    this.records = [...records];
  }
  async *list(): AsyncIterable<FailedBatch> {
    for (const [i, r] of [...this.records].entries()) {
      yield await Promise.resolve({
        id: `memory:${i}`,
        info: r.KinesisBatchInfo,
        condition: r.requestContext.condition,
        settle: () => {
          const at = this.records.indexOf(r);
          if (at >= 0) this.records.splice(at, 1);
          return Promise.resolve();
        },
        release: noop,
      });
    }
  }
}

/** Options of {@link SqsFailedBatches}. */
export interface SqsFailedBatchesOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** How long a received message stays hidden while its range is applied. @default 900 s */
  readonly visibilityTimeoutSeconds?: number;
}

/**
 * The failure records of an SQS queue (the on-failure queue itself, or a
 * queue subscribed to the on-failure SNS topic). Receives until the queue
 * answers empty; each message is hidden while its range is applied, deleted
 * when it is settled, made visible again when it is released.
 */
export class SqsFailedBatches implements FailedBatchSource {
  readonly description: string;
  constructor(private readonly o: SqsFailedBatchesOptions) {
    this.description = o.queueUrl;
  }
  async *list(): AsyncIterable<FailedBatch | FailureRecordFormatError> {
    const { client, queueUrl } = this.o;
    const seen = new Set<string>();
    for (;;) {
      const out = await withRetry(() =>
        client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: this.o.visibilityTimeoutSeconds ?? 900,
          }),
        ),
      );
      const messages = (out.Messages ?? []).filter((m) => !seen.has(m.MessageId ?? ''));
      if (messages.length === 0) return;
      for (const m of messages) {
        const id = m.MessageId ?? '?';
        seen.add(id);
        const handle = m.ReceiptHandle ?? '';
        const release = async (): Promise<void> => {
          await withRetry(() =>
            client.send(
              new ChangeMessageVisibilityCommand({
                QueueUrl: queueUrl,
                ReceiptHandle: handle,
                VisibilityTimeout: 0,
              }),
            ),
          );
        };
        let parsed: ReturnType<typeof parseFailureDocument>;
        try {
          parsed = parseFailureDocument(m.Body ?? '', `sqs message ${id}`);
        } catch (err) {
          if (!(err instanceof FailureRecordFormatError)) throw err;
          await release();
          yield err;
          continue;
        }
        yield {
          id: `sqs message ${id}`,
          ...parsed,
          settle: async () => {
            await withRetry(() =>
              client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handle })),
            );
          },
          release,
        };
      }
    }
  }
}

/** Options of {@link S3FailedBatches}. */
export interface S3FailedBatchesOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** @default '' (the whole bucket; Lambda writes under `aws/lambda/`) */
  readonly prefix?: string;
}

/** The failure records of an S3 on-failure destination: every object under the prefix, in key order. */
export class S3FailedBatches implements FailedBatchSource {
  readonly description: string;
  constructor(private readonly o: S3FailedBatchesOptions) {
    this.description = `s3://${o.bucket}/${o.prefix ?? ''}`;
  }
  async *list(): AsyncIterable<FailedBatch | FailureRecordFormatError> {
    const { client, bucket } = this.o;
    let token: string | undefined;
    do {
      const page = await withRetry(() =>
        client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: this.o.prefix ?? '',
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        const key = o.Key as string;
        const obj = await withRetry(() =>
          client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        );
        const text = (await obj.Body?.transformToString('utf8')) ?? '';
        const id = `s3://${bucket}/${key}`;
        try {
          yield { id, ...parseFailureDocument(text, id), settle: noop, release: noop };
        } catch (err) {
          if (!(err instanceof FailureRecordFormatError)) throw err;
          yield err;
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
}
