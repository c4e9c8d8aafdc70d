/**
 * SqsDeadLetterOutput: dead letters as SQS messages whose body is the
 * {@link DeadLetterDocument} JSON (position, base64 raw bytes, reason, kind).
 *
 * Guarantee: at-least-once on a standard queue (a retried batch may send a
 * dead letter twice; dedupe by the document's `id`). On a FIFO queue (URL
 * ending `.fifo`) each message gets `MessageDeduplicationId` =
 * SHA-256(id) and `MessageGroupId` = the source shard, so a retry within
 * SQS' 5-minute deduplication interval is dropped by SQS.
 *
 * Limits: SendMessageBatch takes at most 10 messages and `maxMessageBytes`
 * in total (256 KiB unless the queue's MaximumMessageSize was raised, up to
 * 1 MiB). Raw bytes are never truncated: a dead letter whose document is
 * larger than one message fails the whole `send` with
 * {@link DeadLetterTooLargeError} BEFORE anything is sent; use
 * `S3DeadLetterOutput` for streams with large records.
 */
import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigError, describeError } from '../../errors.ts';
import { deadLetterId } from '../../model/ids.ts';
import type { DeadLetter } from '../../model/records.ts';
import type { DeadLetterOutput } from '../../ports/dead-letter-output.ts';
import { DeadLetterError, DeadLetterTooLargeError } from '../../ports/errors.ts';
import { chunksBySize } from '../../util/chunks.ts';
import { toDeadLetterDocument } from '../documents.ts';
import { retryPolicy, sleepBeforeRetry, type RetryOptions, type RetryPolicy } from '../retry.ts';

/** SQS' classic message and batch size limit. */
export const SQS_DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
/** The largest MaximumMessageSize a queue can be configured with. */
export const SQS_MAX_MESSAGE_BYTES_LIMIT = 1024 * 1024;
/** Messages per SendMessageBatch. */
export const SQS_MAX_BATCH_ENTRIES = 10;

/** Options of {@link SqsDeadLetterOutput}. */
export interface SqsDeadLetterOutputProps {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /**
   * The queue's MaximumMessageSize: the limit for one message and for one
   * batch. @default 262144 (256 KiB)
   */
  readonly maxMessageBytes?: number;
  /** FIFO queue (deduplication and group ids). @default queueUrl ends with `.fifo` */
  readonly fifo?: boolean;
  /** Retries of failed entries and of calls failing with a transient error (see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap */
  readonly retry?: RetryOptions;
}

/**
 * Sends dead letters to an SQS queue.
 *
 * @example
 * const dlq = new SqsDeadLetterOutput({ client: clients.sqs, queueUrl });
 */
export class SqsDeadLetterOutput implements DeadLetterOutput {
  readonly #props: SqsDeadLetterOutputProps;
  readonly #maxBytes: number;
  readonly #fifo: boolean;
  readonly #retry: RetryPolicy;

  constructor(props: SqsDeadLetterOutputProps) {
    if (!props.queueUrl) throw new ConfigError('queueUrl', props.queueUrl, 'must be a queue URL');
    const maxBytes = props.maxMessageBytes ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 1024 || maxBytes > SQS_MAX_MESSAGE_BYTES_LIMIT) {
      throw new ConfigError(
        'maxMessageBytes',
        maxBytes,
        `must be an integer 1024..${SQS_MAX_MESSAGE_BYTES_LIMIT}`,
      );
    }
    this.#props = props;
    this.#maxBytes = maxBytes;
    this.#fifo = props.fifo ?? props.queueUrl.endsWith('.fifo');
    this.#retry = retryPolicy(props.retry, { field: 'retry' });
  }

  async send(entries: readonly DeadLetter[]): Promise<void> {
    const destination = `SqsDeadLetterOutput(${this.#props.queueUrl})`;
    const messages = entries.map((entry) => {
      const body = JSON.stringify(toDeadLetterDocument(entry));
      return { entry, body, size: Buffer.byteLength(body) };
    });
    for (const m of messages) {
      if (m.size > this.#maxBytes)
        throw new DeadLetterTooLargeError(destination, m.entry, m.size, this.#maxBytes, entries);
    }

    const retry = this.#retry;
    // Everything not in `sent` is reported unsent: an error can never under-report.
    const sent = new Set<(typeof messages)[number]>();
    const fail = (message: string, retryable: boolean, cause: unknown): DeadLetterError =>
      new DeadLetterError(destination, message, {
        unsent: messages.filter((m) => !sent.has(m)).map((m) => m.entry),
        retryable,
        cause,
      });
    let pending = messages;
    let lastError: unknown;
    for (let attempt = 0; pending.length > 0 && attempt < retry.maxAttempts; attempt += 1) {
      if (attempt > 0) await sleepBeforeRetry(retry, attempt - 1);
      const failed: typeof pending = [];
      for (const batch of chunksBySize(pending, SQS_MAX_BATCH_ENTRIES, this.#maxBytes)) {
        let out;
        try {
          out = await this.#props.client.send(
            new SendMessageBatchCommand({
              QueueUrl: this.#props.queueUrl,
              Entries: batch.map((m, i) => this.#request(m.entry, m.body, i)),
            }),
          );
        } catch (error) {
          lastError = error;
          if (!retry.isRetryable(error))
            throw fail(`SendMessageBatch failed: ${describeError(error)}`, false, error);
          failed.push(...batch);
          continue;
        }
        for (const ok of out.Successful ?? []) {
          const m = batch[Number(ok.Id)];
          if (m) sent.add(m);
        }
        let senderFault: Error | undefined;
        for (const f of out.Failed ?? []) {
          const m = batch[Number(f.Id)];
          if (!m) continue;
          lastError = new Error(`${f.Code ?? 'Failed'}: ${f.Message ?? ''}`);
          if (f.SenderFault === true) senderFault ??= lastError as Error;
          failed.push(m);
        }
        // Entries neither successful nor failed (should not happen) are retried, never assumed sent.
        for (const m of batch) if (!sent.has(m) && !failed.includes(m)) failed.push(m);
        if (senderFault)
          throw fail(`SQS rejected a dead letter (${senderFault.message})`, false, senderFault);
      }
      pending = failed;
    }
    if (pending.length > 0)
      throw fail(`SendMessageBatch kept failing: ${describeError(lastError)}`, true, lastError);
  }

  #request(entry: DeadLetter, body: string, i: number): SendMessageBatchRequestEntry {
    return {
      Id: String(i),
      MessageBody: body,
      ...(this.#fifo
        ? {
            MessageGroupId: entry.position.shardId.slice(0, 128),
            MessageDeduplicationId: createHash('sha256').update(deadLetterId(entry)).digest('hex'),
          }
        : {}),
    };
  }
}
