/**
 * The producer's records before they are sent: validation, the entries a
 * request carries, the rate limiter and the shard ranges aggregation pins to.
 */
import { createHash } from 'node:crypto';
import { ConfigError, RecordTooLargeError } from '../errors.ts';
import {
  InvalidRecordError,
  KINESIS_LIMITS,
  type ProducerRecord,
  type ShardHashRange,
} from './producer-types.ts';
import type { ShardId } from '../model/position.ts';

export const encoder = new TextEncoder();
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const MAX_HASH_KEY = (1n << 128n) - 1n;

/** One Kinesis record of a request: a user record, or an aggregate of several. */
export interface Entry {
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
export function plainEntry(
  record: ProducerRecord,
  data: Uint8Array,
  size: number,
  index: number,
): Entry {
  return {
    data,
    partitionKey: record.partitionKey,
    explicitHashKey: record.explicitHashKey,
    size,
    indices: [index],
    aggregated: false,
  };
}

/** Why input record `index` cannot be sent, or undefined when it can. */
export function validateRecord(
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
export class TokenBucket {
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

/** A shard's hash key range as bigints, for the binary search. */
export interface PreparedRange {
  readonly shardId: ShardId;
  readonly start: bigint;
  readonly end: bigint;
  readonly startingHashKey: string;
}

/** Validated ranges, sorted by starting hash key. */
export function prepareRanges(shards: readonly ShardHashRange[]): PreparedRange[] {
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
export function findRange(
  ranges: readonly PreparedRange[],
  key: bigint,
): PreparedRange | undefined {
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
