/**
 * A bulk Kinesis producer: batches records into PutRecords requests within
 * Kinesis' limits, retries only what failed, and reports where every record
 * landed.
 *
 * How one request moves through time (maxAttempts 3, one entry throttled):
 *
 *     attempt 1  PutRecords [r0 r1 r2 r3]  ->  r2: ProvisionedThroughputExceededException
 *                sleep random(0, min(maxDelay, base * 2^0))
 *     attempt 2  PutRecords [r2]           ->  ok
 *     done: r0..r3 stored once each; retriedEntries += 1
 *
 *     attempt 1  PutRecords [r4 ... r9]    ->  HTTP 500 (whole request)
 *                sleep random(0, min(maxDelay, base * 2^0))
 *     attempt 2  PutRecords [r4 ... r9]    ->  ok; retriedRequests += 1
 *
 * A whole-request failure that is not transient (ResourceNotFound,
 * AccessDenied, validation) fails at once; a transient one, or a failed entry,
 * that is still failing after `maxAttempts` fails with {@link ProducerError}
 * listing every failed input index and its last error code. Delays and the
 * transient-error classification are the adapters' retry policy
 * (lib/adapters/retry.ts); only the re-sending of failed entries is the
 * producer's own.
 */
import {
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { createHash } from 'node:crypto';
import { kinesisStreamTarget } from '../adapters/kinesis/list-shards.ts';
import {
  networkErrorCode,
  retryPolicy,
  sleepBeforeRetry,
  type RetryOptions,
} from '../adapters/retry.ts';
import { ConfigError, RecordTooLargeError, WeirError, errorName } from '../errors.ts';
import { position, type Position } from '../model/position.ts';
import { intOption } from '../util/int-option.ts';
import { KplAggregateBuilder } from './kpl.ts';

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
  readonly shardId: string;
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

const encoder = new TextEncoder();
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const MAX_HASH_KEY = (1n << 128n) - 1n;

interface Entry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** Data + partition key bytes. */
  readonly size: number;
  /** Input indices of the user records inside, in sub-sequence order. */
  readonly indices: readonly number[];
  readonly aggregated: boolean;
}

/** Input record `index` sent as one Kinesis record of its own (not aggregated). */
function plainEntry(record: ProducerRecord, data: Uint8Array, size: number, index: number): Entry {
  return {
    data,
    partitionKey: record.partitionKey,
    explicitHashKey: record.explicitHashKey,
    size,
    indices: [index],
    aggregated: false,
  };
}

/**
 * Sends records to a Kinesis stream with PutRecords, in order of input, within
 * Kinesis' limits. Resolves when every record is stored exactly once (as far
 * as the producer can tell: a request whose response is lost is retried and
 * may store duplicates; consumers dedupe on a record id when that matters).
 *
 * Oversized or malformed records fail fast: every record BEFORE the bad one
 * is sent and confirmed first, nothing at or after it is sent, and the error
 * ({@link RecordTooLargeError} or {@link InvalidRecordError}) names its index,
 * so fixing the record and re-running from that index stores each record once.
 *
 * Ordering: Kinesis orders records within a shard by arrival. A retried entry
 * arrives after the entries that succeeded with it, and concurrent requests
 * race; use `concurrency: 1` and `maxAttempts: 1` if strict per-key order
 * matters more than throughput.
 *
 * @param kinesis a KinesisClient (build it with createAwsClients).
 * @param stream a stream name, or an ARN (`arn:...`).
 *
 * @example
 * const { kinesis } = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 * const result = await putRecords(kinesis, 'clicks', events.map((e) => ({
 *   data: JSON.stringify(e),
 *   partitionKey: e.userId,
 * })));
 * console.log(result.records, result.perShard, result.positions[0]);
 */
export async function putRecords(
  kinesis: KinesisPutRecordsClient,
  stream: string,
  records: AsyncIterable<ProducerRecord> | Iterable<ProducerRecord>,
  options: PutRecordsOptions = {},
): Promise<PutRecordsResult> {
  const policy = retryPolicy(options, { defaults: { baseDelayMs: 100 } });
  const { maxAttempts, sleep } = policy;
  const concurrency = intOption('concurrency', options.concurrency, 4, 1, 256);
  const maxRecordBytes = intOption(
    'maxRecordBytes',
    options.maxRecordBytes,
    KINESIS_LIMITS.maxRecordBytes,
    1,
    KINESIS_LIMITS.maxRecordBytesCeiling,
  );
  let maxRecordsPerRequest = intOption(
    'maxRecordsPerRequest',
    options.maxRecordsPerRequest,
    KINESIS_LIMITS.maxRecordsPerRequest,
    1,
    KINESIS_LIMITS.maxRecordsPerRequest,
  );
  const maxRequestBytes = intOption(
    'maxRequestBytes',
    options.maxRequestBytes,
    KINESIS_LIMITS.maxRequestBytes,
    1,
    KINESIS_LIMITS.maxRequestBytes,
  );
  const rate = options.ratePerSecond;
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) {
    throw new ConfigError('ratePerSecond', rate, 'must be a positive number of records per second');
  }
  if (options.total !== undefined && !(Number.isInteger(options.total) && options.total >= 0)) {
    throw new ConfigError('total', options.total, 'must be a non-negative integer');
  }
  // With a low rate, smaller requests keep the flow smooth instead of one burst per N seconds.
  if (rate !== undefined)
    maxRecordsPerRequest = Math.max(1, Math.min(maxRecordsPerRequest, Math.floor(rate)));
  const now = options.now ?? (() => performance.now());
  const keepPositions = options.recordPositions ?? true;
  const signal = options.signal;
  const target = kinesisStreamTarget(stream);
  const bucket = rate === undefined ? undefined : new TokenBucket(rate, now, sleep, signal);

  // Mutable tallies behind the result.
  const positions: Position[] = [];
  const perShard: Record<string, number> = {};
  let sent = 0;
  let kinesisRecords = 0;
  let requests = 0;
  let retriedEntries = 0;
  let retriedRequests = 0;
  let bytes = 0;
  const failed: FailedEntry[] = [];
  let failure: { reason: ProducerFailure; message: string; cause?: unknown } | undefined;

  const snapshot = (): PutRecordsResult => ({
    records: sent,
    kinesisRecords,
    requests,
    retriedEntries,
    retriedRequests,
    bytes,
    positions: keepPositions ? positions : [],
    perShard: { ...perShard },
  });
  const progress = (): void =>
    options.onProgress?.({ sent, total: options.total, retriedEntries, retriedRequests, requests });

  /** Sends one batch until every entry is stored or attempts run out. */
  const sendBatch = async (batch: readonly Entry[]): Promise<void> => {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      if (bucket) await bucket.take(pending.reduce((n, e) => n + e.indices.length, 0));
      requests++;
      let out: PutRecordsCommandOutput;
      try {
        out = await kinesis.send(
          new PutRecordsCommand({
            ...target,
            Records: pending.map((e): PutRecordsRequestEntry => ({
              Data: e.data,
              PartitionKey: e.partitionKey,
              ...(e.explicitHashKey !== undefined ? { ExplicitHashKey: e.explicitHashKey } : {}),
            })),
          }),
        );
      } catch (err) {
        const name = networkErrorCode(err) ?? errorName(err);
        const message = err instanceof Error ? err.message : String(err);
        const transient = policy.isRetryable(err);
        if (!transient || attempt >= maxAttempts) {
          for (const e of pending) {
            for (const index of e.indices)
              failed.push({ index, errorCode: name, errorMessage: message, attempts: attempt });
          }
          failure ??= transient
            ? {
                reason: ProducerFailure.EXHAUSTED,
                message: `PutRecords still failing after ${attempt} attempts (${name}: ${message})`,
                cause: err,
              }
            : {
                reason: ProducerFailure.FATAL,
                message: `PutRecords failed: ${name}: ${message}`,
                cause: err,
              };
          return;
        }
        retriedRequests++;
        await sleepBeforeRetry(policy, attempt - 1, signal);
        continue;
      }
      const results = out.Records ?? [];
      if (results.length !== pending.length) {
        failure ??= {
          reason: ProducerFailure.FATAL,
          message: `PutRecords answered ${results.length} results for ${pending.length} records`,
        };
        for (const e of pending) {
          for (const index of e.indices) {
            failed.push({
              index,
              errorCode: 'MalformedResponse',
              errorMessage: 'result count mismatch',
              attempts: attempt,
            });
          }
        }
        return;
      }
      const retry: Entry[] = [];
      const codes: { code: string; message: string }[] = [];
      results.forEach((r, i) => {
        const e = pending[i] as Entry;
        if (
          r.ErrorCode !== undefined ||
          r.SequenceNumber === undefined ||
          r.ShardId === undefined
        ) {
          retry.push(e);
          codes.push({
            code: r.ErrorCode ?? 'MissingSequenceNumber',
            message: r.ErrorMessage ?? '',
          });
          return;
        }
        kinesisRecords++;
        bytes += e.size;
        perShard[r.ShardId] = (perShard[r.ShardId] ?? 0) + e.indices.length;
        sent += e.indices.length;
        if (keepPositions) {
          e.indices.forEach((index, sub) => {
            positions[index] = position(
              r.ShardId as string,
              r.SequenceNumber as string,
              e.aggregated ? sub : 0,
            );
          });
        }
      });
      progress();
      if (retry.length === 0) return;
      if (attempt >= maxAttempts) {
        retry.forEach((e, i) => {
          const c = codes[i] as { code: string; message: string };
          for (const index of e.indices)
            failed.push({ index, errorCode: c.code, errorMessage: c.message, attempts: attempt });
        });
        failure ??= {
          reason: ProducerFailure.EXHAUSTED,
          message: `${retry.length} record(s) still failing after ${attempt} attempts`,
        };
        return;
      }
      retriedEntries += retry.length;
      pending = retry;
      await sleepBeforeRetry(policy, attempt - 1, signal);
    }
  };

  // Bounded in-flight requests. sendBatch never rejects (failures are recorded), so
  // nothing here can float; the catch is a last guard against a bug.
  const inFlight = new Set<Promise<void>>();
  const launch = async (batch: readonly Entry[]): Promise<void> => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const p: Promise<void> = sendBatch(batch)
      .catch((err: unknown) => {
        failure ??= {
          reason: ProducerFailure.FATAL,
          message: `producer bug: ${String(err)}`,
          cause: err,
        };
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const drain = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.race(inFlight);
  };

  // Batch assembly.
  let batch: Entry[] = [];
  let batchBytes = 0;
  let batchRecords = 0;
  const pushEntry = async (entry: Entry): Promise<void> => {
    if (
      batch.length > 0 &&
      (batch.length + 1 > maxRecordsPerRequest ||
        batchBytes + entry.size > maxRequestBytes ||
        (bucket !== undefined && batchRecords + entry.indices.length > maxRecordsPerRequest))
    ) {
      await flushBatch();
    }
    batch.push(entry);
    batchBytes += entry.size;
    batchRecords += entry.indices.length;
  };
  const flushBatch = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    batchBytes = 0;
    batchRecords = 0;
    await launch(b);
  };

  // Aggregation state: one slot (builder) per target shard when shard-aware,
  // a single slot otherwise.
  const aggregating = options.aggregate !== undefined && options.aggregate !== false;
  const ranges =
    typeof options.aggregate === 'object' ? prepareRanges(options.aggregate.shards) : undefined;
  interface Slot {
    builder: KplAggregateBuilder;
    indices: number[];
    /** Pins the aggregate to its shard (the shard's starting hash key). */
    readonly pin: string | undefined;
  }
  const slots = new Map<string, Slot>();
  let bufferedBytes = 0;
  const slotFor = (record: { partitionKey: string; explicitHashKey?: string }): Slot => {
    const range = ranges === undefined ? undefined : findRange(ranges, hashKeyOf(record));
    const id = range?.shardId ?? '';
    let slot = slots.get(id);
    if (slot === undefined) {
      slot = { builder: new KplAggregateBuilder(), indices: [], pin: range?.startingHashKey };
      slots.set(id, slot);
    }
    return slot;
  };
  const flushSlot = async (slot: Slot): Promise<void> => {
    if (slot.builder.count === 0) return;
    const agg = slot.builder.build();
    const pin = slot.pin ?? agg.explicitHashKey;
    const entry: Entry = {
      data: agg.data,
      partitionKey: agg.partitionKey,
      explicitHashKey: pin,
      size: agg.data.length + encoder.encode(agg.partitionKey).length,
      indices: slot.indices,
      aggregated: true,
    };
    bufferedBytes -= slot.builder.size;
    slot.builder = new KplAggregateBuilder();
    slot.indices = [];
    await pushEntry(entry);
  };
  const flushAggregates = async (): Promise<void> => {
    for (const slot of slots.values()) await flushSlot(slot);
  };

  let rejected: Error | undefined;
  let inputError: { error: unknown } | undefined;
  let index = 0;
  try {
    try {
      for await (const record of records) {
        if (failure !== undefined) break;
        if (signal?.aborted) {
          failure = { reason: ProducerFailure.ABORTED, message: 'aborted', cause: signal.reason };
          break;
        }
        const i = index++;
        const data = typeof record.data === 'string' ? encoder.encode(record.data) : record.data;
        const problem = validateRecord(i, record, data.length, maxRecordBytes);
        if (problem !== undefined) {
          rejected = problem;
          break;
        }
        const size = data.length + encoder.encode(record.partitionKey).length;
        if (!aggregating) {
          await pushEntry(plainEntry(record, data, size, i));
          continue;
        }
        const user = {
          data,
          partitionKey: record.partitionKey,
          ...(record.explicitHashKey !== undefined
            ? { explicitHashKey: record.explicitHashKey }
            : {}),
        };
        // An aggregate must fit one Kinesis record and one request.
        const limit = Math.min(maxRecordBytes, maxRequestBytes);
        const slot = slotFor(user);
        if (slot.builder.count > 0 && slot.builder.sizeWith(user) > limit) await flushSlot(slot);
        if (slot.builder.sizeWith(user) > limit) {
          // Too big even alone inside an aggregate, but valid as a plain record.
          await pushEntry(plainEntry(record, data, size, i));
          continue;
        }
        bufferedBytes -= slot.builder.size;
        slot.builder.add(user);
        bufferedBytes += slot.builder.size;
        slot.indices.push(i);
        // Bound memory with many shards: never buffer more than one request's worth.
        if (bufferedBytes > maxRequestBytes) {
          let largest = slot;
          for (const s of slots.values()) if (s.builder.size > largest.builder.size) largest = s;
          await flushSlot(largest);
        }
      }
    } catch (error) {
      // The input failed (a bad NDJSON line, an unreadable file): like a bad
      // record, everything read before it is still sent.
      inputError = { error };
    }
    if (failure === undefined) {
      await flushAggregates();
      await flushBatch();
    }
  } finally {
    // Whatever happened, let in-flight requests finish so the tallies are final.
    await drain();
  }
  if (failure !== undefined) {
    failed.sort((a, b) => a.index - b.index);
    const list = failed
      .slice(0, 10)
      .map((f) => `#${f.index} ${f.errorCode}`)
      .join(', ');
    throw new ProducerError(
      failure.reason,
      `${failure.message}; ${sent} record(s) stored, ${failed.length} failed` +
        (failed.length > 0 ? ` (${list}${failed.length > 10 ? ', ...' : ''})` : ''),
      failed,
      snapshot(),
      failure.cause === undefined ? undefined : { cause: failure.cause },
    );
  }
  if (inputError !== undefined) throw inputError.error;
  if (rejected !== undefined) throw rejected;
  return snapshot();
}

function validateRecord(
  index: number,
  record: ProducerRecord,
  dataBytes: number,
  maxRecordBytes: number,
): Error | undefined {
  const key = record.partitionKey;
  if (typeof key !== 'string' || key.length === 0) {
    return new InvalidRecordError(
      index,
      'partitionKey',
      'must be 1..256 Unicode characters (given an empty key)',
    );
  }
  // Kinesis counts Unicode characters (code points), not UTF-16 units.
  let chars = 0;
  for (const _ of key) chars++;
  if (chars > KINESIS_LIMITS.maxPartitionKeyLength) {
    return new InvalidRecordError(
      index,
      'partitionKey',
      `must be 1..256 Unicode characters (given ${chars})`,
    );
  }
  const ehk = record.explicitHashKey;
  if (ehk !== undefined && (!DECIMAL.test(ehk) || ehk.length > 39 || BigInt(ehk) > MAX_HASH_KEY)) {
    return new InvalidRecordError(
      index,
      'explicitHashKey',
      `must be a decimal 0..2^128-1 (given ${JSON.stringify(ehk)})`,
    );
  }
  const size = dataBytes + encoder.encode(key).length;
  if (size > maxRecordBytes) return new RecordTooLargeError(index, size, maxRecordBytes);
  return undefined;
}

/**
 * Records-per-second limiter. Requests take their record count at once; a
 * request larger than the bucket waits until the bucket is full and then
 * goes into debt, so the long-run rate holds.
 */
class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
    private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.tokens = Math.max(1, rate);
    this.last = now();
  }

  take(n: number): Promise<void> {
    // Serialize takers so concurrent requests queue fairly.
    const next = this.queue.then(() => this.takeNow(n));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async takeNow(n: number): Promise<void> {
    const capacity = Math.max(1, this.rate);
    const need = Math.min(n, capacity);
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
      this.last = t;
      if (this.tokens >= need || this.signal?.aborted) break;
      await this.sleep(Math.ceil(((need - this.tokens) / this.rate) * 1000), this.signal);
    }
    this.tokens -= n;
  }
}

interface PreparedRange {
  readonly shardId: string;
  readonly start: bigint;
  readonly end: bigint;
  readonly startingHashKey: string;
}

function prepareRanges(shards: readonly ShardHashRange[]): PreparedRange[] {
  if (shards.length === 0)
    throw new ConfigError('aggregate.shards', shards, 'must list at least one open shard');
  const out = shards.map((s, i) => {
    if (!DECIMAL.test(s.startingHashKey) || !DECIMAL.test(s.endingHashKey)) {
      throw new ConfigError(
        `aggregate.shards[${i}]`,
        s,
        'must have decimal startingHashKey and endingHashKey',
      );
    }
    return {
      shardId: s.shardId,
      start: BigInt(s.startingHashKey),
      end: BigInt(s.endingHashKey),
      startingHashKey: s.startingHashKey,
    };
  });
  return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** The 128-bit hash key Kinesis routes a record by: its explicit hash key, else MD5 of its partition key. */
export function hashKeyOf(record: {
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
}): bigint {
  if (record.explicitHashKey !== undefined) return BigInt(record.explicitHashKey);
  return BigInt(`0x${createHash('md5').update(record.partitionKey, 'utf8').digest('hex')}`);
}

/** Binary search; undefined when the key falls in a gap (ranges out of date). */
function findRange(ranges: readonly PreparedRange[], key: bigint): PreparedRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as PreparedRange;
    if (key < r.start) hi = mid - 1;
    else if (key > r.end) lo = mid + 1;
    else return r;
  }
  return undefined;
}
