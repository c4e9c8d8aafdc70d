/**
 * KinesisSink: items as records of a Kinesis stream, AT-LEAST-ONCE.
 *
 * Kinesis has no conditional put, so a retried PutRecords, a Lambda retry or
 * an outbox re-drive can deliver the same item twice. Every payload carries
 * the item's deterministic id (`resultId` for results, `lateRecordId` for late
 * records); consumers dedupe by `id` (and, for results, keep the highest
 * (`generation`, `version`) per window; `generation` is absent for 0). The partition key is the result's key (hashed with
 * SHA-256 when longer than Kinesis' 256 characters), so one key's versions
 * land on one shard in order of writing.
 *
 *     write([a, b, c]) ─ PutRecords ─▶ a ✓  b ✗ (throttled)  c ✓
 *                      ─ backoff ───▶ PutRecords [b] ─▶ b ✓          only failed entries are re-sent
 *
 * Limits: 500 records and 5 MiB per PutRecords (the sink splits), 1 MiB per
 * record (data + partition key); a larger item is not written and is
 * reported in a non-retryable {@link SinkError}.
 */
import { createHash } from 'node:crypto';
import {
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { ConfigError, RecordTooLargeError, describeError } from '../../errors.ts';
import type { LateRecord, WindowResult } from '../../model/records.ts';
import { SinkError } from '../../ports/errors.ts';
import {
  SinkOutcome,
  type Sink,
  type SinkItemReport,
  type SinkWriteReport,
} from '../../ports/sink.ts';
import { chunksBySize } from '../../util/chunks.ts';
import { lateRecordJson, windowResultJson } from '../documents.ts';
import { retryPolicy, sleepBeforeRetry, type RetryOptions, type RetryPolicy } from '../retry.ts';
import { sinkWriteReport } from '../sink-report.ts';

/** Kinesis' per-record limit: data plus partition key. */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;
/** Kinesis' per-request limit of records (PutRecords). */
export const KINESIS_MAX_BATCH_RECORDS = 500;
/** Kinesis' per-request limit of bytes, data plus partition keys (PutRecords). */
export const KINESIS_MAX_BATCH_BYTES = 5 * 1024 * 1024;
const MAX_PARTITION_KEY_CHARS = 256;

/** How items become Kinesis records. */
export interface KinesisRecordFormat<T> {
  /** The record's data; must contain the item's id for consumers to dedupe. */
  data(item: T): Uint8Array | string;
  /** The partition key (any string; hashed when longer than 256 characters). */
  partitionKey(item: T): string;
}

/** Results as JSON (see `windowResultJson`), partitioned by key. */
export const windowResultKinesisFormat: KinesisRecordFormat<WindowResult> = {
  data: (r) => windowResultJson(r),
  partitionKey: (r) => r.key,
};

/** Late records as JSON (raw bytes base64), partitioned by source shard. */
export const lateRecordKinesisFormat: KinesisRecordFormat<LateRecord> = {
  data: (r) => lateRecordJson(r),
  partitionKey: (r) => r.position.shardId,
};

/** Options of {@link KinesisSink}. */
export interface KinesisSinkProps<T> {
  readonly client: KinesisClient;
  /** The output stream's name (or give `streamArn`). */
  readonly streamName?: string;
  /** The output stream's ARN; wins over `streamName`. */
  readonly streamArn?: string;
  readonly format: KinesisRecordFormat<T>;
  /**
   * Retries of failed entries and of calls failing with a transient error,
   * with full-jitter backoff (see {@link RetryOptions}). @default 8 attempts, 25 ms base, 5 s cap
   */
  readonly retry?: RetryOptions;
}

/**
 * Writes items to a Kinesis stream at least once.
 *
 * @example
 * const sink = new KinesisSink({ client: clients.kinesis, streamName: 'results', format: windowResultKinesisFormat });
 */
export class KinesisSink<T> implements Sink<T> {
  readonly #props: KinesisSinkProps<T>;
  readonly #target: { StreamName: string } | { StreamARN: string };
  readonly #retry: RetryPolicy;

  constructor(props: KinesisSinkProps<T>) {
    if (props.streamArn) this.#target = { StreamARN: props.streamArn };
    else if (props.streamName) this.#target = { StreamName: props.streamName };
    else throw new ConfigError('streamName', props.streamName, 'or streamArn must be given');
    this.#props = props;
    this.#retry = retryPolicy(props.retry, { field: 'retry' });
  }

  async write(items: readonly T[]): Promise<SinkWriteReport> {
    const retry = this.#retry;
    const done: SinkItemReport[] = [];
    const tooLarge: number[] = [];
    let pending: { index: number; entry: PutRecordsRequestEntry; size: number }[] = [];
    items.forEach((item, index) => {
      const raw = this.#props.format.data(item);
      const data = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
      const partitionKey = safePartitionKey(this.#props.format.partitionKey(item));
      const size = data.byteLength + Buffer.byteLength(partitionKey);
      if (size > KINESIS_MAX_RECORD_BYTES) tooLarge.push(index);
      else pending.push({ index, entry: { Data: data, PartitionKey: partitionKey }, size });
    });

    let lastError: unknown;
    for (let attempt = 0; pending.length > 0 && attempt < retry.maxAttempts; attempt += 1) {
      if (attempt > 0) await sleepBeforeRetry(retry, attempt - 1);
      const failed: typeof pending = [];
      for (const batch of chunksBySize(
        pending,
        KINESIS_MAX_BATCH_RECORDS,
        KINESIS_MAX_BATCH_BYTES,
      )) {
        try {
          const out = await this.#props.client.send(
            new PutRecordsCommand({ ...this.#target, Records: batch.map((b) => b.entry) }),
          );
          const results = out.Records ?? [];
          batch.forEach((b, i) => {
            const r = results[i];
            if (r && r.ErrorCode === undefined && r.SequenceNumber !== undefined) {
              done.push({ index: b.index, outcome: SinkOutcome.Written });
            } else {
              failed.push(b);
              lastError = new Error(
                `${r?.ErrorCode ?? 'NoResult'}: ${r?.ErrorMessage ?? 'no result for entry'}`,
              );
            }
          });
        } catch (error) {
          lastError = error;
          if (!retry.isRetryable(error)) {
            throw this.#error(items, done, false, error);
          }
          failed.push(...batch);
        }
      }
      pending = failed;
    }

    if (pending.length > 0 || tooLarge.length > 0) {
      const retryable = tooLarge.length === 0;
      const cause =
        pending.length === 0 && tooLarge[0] !== undefined
          ? new RecordTooLargeError(
              tooLarge[0],
              sizeOf(this.#props.format, items[tooLarge[0]] as T),
              KINESIS_MAX_RECORD_BYTES,
            )
          : lastError;
      throw this.#error(items, done, retryable, cause);
    }
    return sinkWriteReport(done);
  }

  /** Every item not in `done` is unwritten: the error can never under-report. */
  #error(
    items: readonly T[],
    done: SinkItemReport[],
    retryable: boolean,
    cause: unknown,
  ): SinkError<T> {
    const written = new Set(done.map((d) => d.index));
    const idx = items.map((_, i) => i).filter((i) => !written.has(i));
    const target = 'StreamARN' in this.#target ? this.#target.StreamARN : this.#target.StreamName;
    return new SinkError<T>(
      `KinesisSink(${target})`,
      `PutRecords failed: ${describeError(cause)}`,
      { unwritten: idx.map((i) => items[i] as T), report: sinkWriteReport(done), retryable, cause },
    );
  }
}

function sizeOf<T>(format: KinesisRecordFormat<T>, item: T): number {
  const raw = format.data(item);
  return (
    (typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength) +
    Buffer.byteLength(safePartitionKey(format.partitionKey(item)))
  );
}

/** Kinesis partition keys are 1..256 Unicode characters; longer (or empty) keys are hashed. */
export function safePartitionKey(key: string): string {
  if (key.length >= 1 && [...key].length <= MAX_PARTITION_KEY_CHARS) return key;
  return createHash('sha256').update(key).digest('hex');
}
