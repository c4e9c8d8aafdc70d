/** The producer's vocabulary: Kinesis' limits, options, results and errors (see producer.ts). */
import { WeirError } from '../errors.ts';
import type { RetryOptions } from '../adapters/retry.ts';
import type { Position, ShardId } from '../model/position.ts';
import type { PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';

/** Kinesis' PutRecords limits (defaults of {@link PutRecordsOptions}). */
export const KINESIS_LIMITS = {
  /** Records per PutRecords request. */
  maxRecordsPerRequest: 500,
  /** Bytes per request, counting data and partition keys. 5 MiB. */
  maxRequestBytes: 5 * 1024 * 1024,
  /** Bytes per record, data plus partition key: the stream default, 1 MiB. */
  maxRecordBytes: 1024 * 1024,
  /** A stream's MaxRecordSize can be raised to 10 MiB (UpdateMaxRecordSize). */
  maxRecordBytesCeiling: 10 * 1024 * 1024,
  /** Partition keys are 1..256 Unicode characters. */
  maxPartitionKeyLength: 256,
} as const;

/** An open shard's hash key range, as ListShards reports it. */
export interface ShardHashRange {
  readonly shardId: ShardId;
  /** Decimal, inclusive. */
  readonly startingHashKey: string;
  /** Decimal, inclusive. */
  readonly endingHashKey: string;
}

/** One record to put. */
export interface ProducerRecord {
  /** The payload; strings are sent as UTF-8. */
  readonly data: Uint8Array | string;
  /** 1..256 Unicode characters; MD5 of it picks the shard. */
  readonly partitionKey: string;
  /** A decimal 0..2^128-1 that overrides the partition key's hash. */
  readonly explicitHashKey?: string;
}

/** What the producer needs of a KinesisClient; a hand-written fake fits too. */
export interface KinesisPutRecordsClient {
  send(
    command: PutRecordsCommand,
    options?: { abortSignal?: AbortSignal },
  ): Promise<PutRecordsCommandOutput>;
}

/** Progress, reported after every PutRecords response. */
export interface ProducerProgress {
  /** User records confirmed stored so far. */
  readonly sent: number;
  /** Total user records, when given in {@link PutRecordsOptions.total}. */
  readonly total: number | undefined;
  /** Entries re-sent after a partial failure, so far. */
  readonly retriedEntries: number;
  /** Whole requests re-sent after a transient error, so far. */
  readonly retriedRequests: number;
  /** PutRecords calls made so far, retries included. */
  readonly requests: number;
}

/**
 * Options of {@link putRecords}. Every field is optional. The retry fields
 * (`maxAttempts`, `maxDelayMs`, `isRetryable`, `random`, `sleep`) are the
 * shared {@link RetryOptions}; `maxAttempts` counts attempts per entry, and
 * `isRetryable` judges a failed request (a failed entry is always retried).
 */
export interface PutRecordsOptions extends RetryOptions {
  /** Backoff base: the cap of the first retry's delay, 0..3600000 ms. @default 100 */
  readonly baseDelayMs?: number;
  /** PutRecords requests in flight at once. @default 4 */
  readonly concurrency?: number;
  /** Records per second sent (retries included), token bucket; unlimited when absent. @default undefined */
  readonly ratePerSecond?: number;
  /**
   * Pack user records into KPL aggregates (see kpl.ts). `true` packs records
   * in input order: an aggregate lands on the shard of its FIRST record's key.
   * `{ shards }` (from {@link listShardHashRanges}) packs per shard, as the
   * KPL does: each user record goes in an aggregate pinned to the shard its
   * own key hashes to, so per-key shard affinity holds. @default false
   */
  readonly aggregate?: boolean | { readonly shards: readonly ShardHashRange[] };
  /** The stream's maximum record size (data + partition key). @default 1048576 (1 MiB) */
  readonly maxRecordBytes?: number;
  /** Records per request, at most 500. @default 500 */
  readonly maxRecordsPerRequest?: number;
  /** Bytes per request (data + partition keys), at most 5 MiB. @default 5242880 */
  readonly maxRequestBytes?: number;
  /** Keep the position of every input record in the result. @default true */
  readonly recordPositions?: boolean;
  /** Total records, if known, for progress. @default undefined */
  readonly total?: number;
  /** Called after every PutRecords response. @default none */
  readonly onProgress?: (progress: ProducerProgress) => void;
  /** Stops reading input; in-flight requests finish, then {@link ProducerError} (reason `aborted`). @default none */
  readonly signal?: AbortSignal;
  /** Milliseconds clock for the rate limiter. @default performance.now */
  readonly now?: () => number;
}

/** What {@link putRecords} did. */
export interface PutRecordsResult {
  /** User records stored (each exactly once). */
  readonly records: number;
  /** Kinesis records stored (fewer than `records` when aggregating). */
  readonly kinesisRecords: number;
  /** PutRecords calls made, retries included. */
  readonly requests: number;
  /** Entries re-sent after partial failures. */
  readonly retriedEntries: number;
  /** Whole requests re-sent after transient errors. */
  readonly retriedRequests: number;
  /** Bytes of data and partition keys stored (retries not counted). */
  readonly bytes: number;
  /** Position of input record i at index i (empty when `recordPositions` is false). */
  readonly positions: readonly Position[];
  /** User records stored per shard id. */
  readonly perShard: Readonly<Record<string, number>>;
}

/** One input record that could not be stored. */
export interface FailedEntry {
  /** Index of the user record in the input. */
  readonly index: number;
  /** Kinesis' ErrorCode for the entry, or the exception name for a failed request. */
  readonly errorCode: string;
  readonly errorMessage: string;
  /** Attempts made for it. */
  readonly attempts: number;
}

/** Why {@link ProducerError} was thrown. */
export const ProducerFailure = {
  /** Entries or requests still failing after maxAttempts. */
  EXHAUSTED: 'exhausted',
  /** A request failed with an error that retrying cannot fix. */
  FATAL: 'fatal',
  /** The signal was aborted. */
  ABORTED: 'aborted',
} as const;
export type ProducerFailure = (typeof ProducerFailure)[keyof typeof ProducerFailure];

/**
 * The producer gave up. `failed` lists every input record known not to be
 * stored, with its error code; `partial` says what was stored (records not in
 * `failed` and not in `partial.positions` were never sent).
 */
export class ProducerError extends WeirError {
  readonly reason: ProducerFailure;
  readonly failed: readonly FailedEntry[];
  readonly partial: PutRecordsResult;
  constructor(
    reason: ProducerFailure,
    message: string,
    failed: readonly FailedEntry[],
    partial: PutRecordsResult,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.reason = reason;
    this.failed = failed;
    this.partial = partial;
  }
}

/** A record is malformed (partition key, explicit hash key). Nothing of it was sent. */
export class InvalidRecordError extends WeirError {
  readonly index: number;
  readonly field: string;
  constructor(index: number, field: string, requirement: string) {
    super(`Record ${index}: ${field} ${requirement}`);
    this.index = index;
    this.field = field;
  }
}
