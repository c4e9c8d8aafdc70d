/**
 * Record positions inside a Kinesis stream.
 *
 * A position is (shardId, sequenceNumber, subSequenceNumber). Within a shard
 * positions are totally ordered; they are compared as BigInt, never Number
 * (Kinesis sequence numbers have up to 56 decimal digits), and stored as
 * fixed-width zero-padded decimal strings so DynamoDB condition expressions
 * compare them correctly as strings.
 */

declare const shardIdBrand: unique symbol;
declare const sequenceNumberBrand: unique symbol;

/** A Kinesis shard id, such as `shardId-000000000000`. */
export type ShardId = string & { readonly [shardIdBrand]: true };

/** A Kinesis sequence number: a decimal string of up to 128 digits. */
export type SequenceNumber = string & { readonly [sequenceNumberBrand]: true };

/** Where a record sits in the stream. */
export interface Position {
  readonly shardId: ShardId;
  readonly sequenceNumber: SequenceNumber;
  /** Non-zero only for user records de-aggregated from a KPL aggregate. */
  readonly subSequenceNumber: number;
}

/** Width of a stored sequence number (Kinesis allows up to 128 digits). */
export const SEQUENCE_NUMBER_WIDTH = 128;
/** Width of a stored sub-sequence number. */
export const SUB_SEQUENCE_WIDTH = 10;

const DIGITS = /^[0-9]{1,128}$/;

/** Brands a string as a shard id. */
export function shardId(value: string): ShardId {
  return value as ShardId;
}

/** Validates and brands a sequence number. */
export function sequenceNumber(value: string): SequenceNumber {
  if (!DIGITS.test(value)) {
    throw new RangeError(
      `sequence number must be 1..128 decimal digits (given ${JSON.stringify(value)})`,
    );
  }
  return value as SequenceNumber;
}

/** Builds a position. */
export function position(shard: string, seq: string, sub = 0): Position {
  return { shardId: shardId(shard), sequenceNumber: sequenceNumber(seq), subSequenceNumber: sub };
}

/** Compares two sequence numbers numerically: negative, zero or positive. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The error of comparing positions of two shards (out of line: callers compare on the hot path). */
function unordered(a: Position, b: Position): RangeError {
  return new RangeError(
    `positions of different shards are not ordered (${a.shardId} vs ${b.shardId})`,
  );
}

/**
 * Compares two positions of the same shard. Throws when the shards differ:
 * positions of different shards have no order.
 */
export function comparePositions(a: Position, b: Position): number {
  if (a.shardId !== b.shardId) throw unordered(a, b);
  const x = a.sequenceNumber;
  const y = b.sequenceNumber;
  // Canonical sequence numbers (no leading zero) compare by length, then as
  // strings, without BigInt: the operator checks every record of a batch
  // against the one before it, and the common case costs one comparison.
  if (x.charCodeAt(0) !== 48 && y.charCodeAt(0) !== 48) {
    if (x.length !== y.length) return x.length - y.length;
    if (x < y) return -1;
    if (x !== y) return 1;
    return a.subSequenceNumber - b.subSequenceNumber;
  }
  const c = compareSequenceNumbers(x, y);
  return c !== 0 ? c : a.subSequenceNumber - b.subSequenceNumber;
}

const ZEROS = '0'.repeat(SEQUENCE_NUMBER_WIDTH);
const ZERO_SUB = '.' + '0'.repeat(SUB_SEQUENCE_WIDTH);

/**
 * Encodes a position's (sequence, sub-sequence) as a fixed-width string whose
 * lexicographic order equals the numeric order. Used in DynamoDB items and
 * condition expressions.
 */
export function encodeOffset(p: Pick<Position, 'sequenceNumber' | 'subSequenceNumber'>): string {
  const seq = p.sequenceNumber;
  const sub = p.subSequenceNumber;
  // Slicing constants instead of padStart: this runs once per state write on the hot path.
  const head = seq.length < SEQUENCE_NUMBER_WIDTH ? ZEROS.slice(seq.length) + seq : seq;
  if (sub === 0) return head + ZERO_SUB;
  const digits = String(sub);
  return (
    head +
    '.' +
    (digits.length < SUB_SEQUENCE_WIDTH
      ? ZEROS.slice(0, SUB_SEQUENCE_WIDTH - digits.length) + digits
      : digits)
  );
}

/** Inverse of {@link encodeOffset}. */
export function decodeOffset(encoded: string): {
  sequenceNumber: SequenceNumber;
  subSequenceNumber: number;
} {
  const [seq, sub] = encoded.split('.');
  if (seq === undefined || sub === undefined)
    throw new RangeError(`not an encoded offset: ${encoded}`);
  const trimmed = seq.replace(/^0+(?=\d)/, '');
  return { sequenceNumber: sequenceNumber(trimmed), subSequenceNumber: Number(sub) };
}
