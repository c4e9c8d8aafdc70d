/**
 * S3DeadLetterOutput: one JSON object per dead record at
 *
 *     <prefix>/<uri operator>/dead-letter/<uri shardId>/<encodeOffset(position)>.json
 *
 * holding the {@link DeadLetterDocument} (position, base64 raw bytes, reason,
 * kind). The key is a function of (operator, position) only, so a retried or
 * re-delivered batch overwrites the same object instead of adding a copy, and
 * a shard's dead letters list in stream order. No size limit applies in
 * practice (S3 objects go to 5 GiB per PutObject), so records of any size keep
 * their bytes exactly.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError, describeError } from '../../errors.ts';
import { encodeOffset } from '../../model/position.ts';
import type { DeadLetter } from '../../model/records.ts';
import type { DeadLetterOutput } from '../../ports/dead-letter-output.ts';
import { DeadLetterError } from '../../ports/errors.ts';
import { intOption } from '../../util/int-option.ts';
import { mapSettled } from '../../util/map-settled.ts';
import { toDeadLetterDocument } from '../documents.ts';
import { retryPolicy, withRetry, type RetryOptions, type RetryPolicy } from '../retry.ts';
import { joinKey } from './s3-sink.ts';

/** Options of {@link S3DeadLetterOutput}. */
export interface S3DeadLetterOutputProps {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix, without a trailing slash. @default '' */
  readonly prefix?: string;
  /** PutObject calls in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Backoff of transient errors (SlowDown, 5xx, dropped connections; see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
}

/**
 * Stores dead letters in S3 at deterministic keys.
 *
 * @example
 * const dlq = new S3DeadLetterOutput({ client: clients.s3, bucket: 'weir-checkpoints', prefix: 'weir' });
 */
export class S3DeadLetterOutput implements DeadLetterOutput {
  readonly #props: S3DeadLetterOutputProps;
  readonly #concurrency: number;
  readonly #retry: RetryPolicy;

  constructor(props: S3DeadLetterOutputProps) {
    if (!props.bucket)
      throw new ConfigError('bucket', props.bucket, 'must be a non-empty bucket name');
    const concurrency = intOption('concurrency', props.concurrency, 16, 1, 1000);
    this.#props = props;
    this.#concurrency = concurrency;
    this.#retry = retryPolicy(props.retry, { field: 'retry' });
  }

  /** The object key of a dead letter. */
  keyOf(entry: Pick<DeadLetter, 'operator' | 'position'>): string {
    return joinKey(
      this.#props.prefix ?? '',
      `${encodeURIComponent(entry.operator)}/dead-letter/${encodeURIComponent(entry.position.shardId)}/${encodeOffset(entry.position)}.json`,
    );
  }

  /** The key prefix under which an operator's dead letters live (for listing). */
  operatorPrefix(operator: string): string {
    return joinKey(this.#props.prefix ?? '', `${encodeURIComponent(operator)}/dead-letter/`);
  }

  async send(entries: readonly DeadLetter[]): Promise<void> {
    const { client, bucket } = this.#props;
    const settled = await mapSettled(entries, this.#concurrency, (entry) =>
      withRetry(
        () =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: this.keyOf(entry),
              Body: JSON.stringify(toDeadLetterDocument(entry)),
              ContentType: 'application/json',
            }),
          ),
        this.#retry,
      ),
    );
    const unsent = entries.filter((_, i) => settled[i]?.status === 'rejected');
    if (unsent.length > 0) {
      const first = settled.find((s) => s.status === 'rejected');
      const cause: unknown = first?.status === 'rejected' ? first.reason : undefined;
      throw new DeadLetterError(
        `S3DeadLetterOutput(${bucket})`,
        `PutObject failed: ${describeError(cause)}`,
        {
          unsent,
          retryable: true,
          cause,
        },
      );
    }
  }
}
