/**
 * KPL aggregation: many user records packed into one Kinesis record, in the
 * format the Kinesis Producer Library writes and the KCL reads
 * (amazon-kinesis-producer, aggregation-format.md):
 *
 *     0         4                        N        N+16
 *     +---------+------------------------+---------+
 *     | F3899AC2| protobuf AggregatedRecord | MD5(protobuf) |
 *     +---------+------------------------+---------+
 *
 *     message AggregatedRecord {
 *       repeated string partition_key_table     = 1;
 *       repeated string explicit_hash_key_table = 2;
 *       repeated Record records                 = 3;
 *     }
 *     message Record {
 *       required uint64 partition_key_index     = 1;
 *       optional uint64 explicit_hash_key_index = 2;
 *       required bytes  data                    = 3;
 *       repeated Tag    tags                    = 4;   // skipped
 *     }
 *
 * Decision on broken aggregates (differs from the KCL on purpose): a record
 * WITHOUT the magic prefix is a plain record and passes through as one user
 * record (subSequenceNumber 0, `aggregated: false`), like the KCL. A record
 * WITH the magic prefix whose MD5, protobuf or key indices are broken raises
 * {@link KplDecodeError}: the KCL hands such a record to the application as
 * plain bytes, which a JSON decoder then fails on with a misleading message,
 * or worse, half-decodes. weir's reader routes the error to the dead-letter
 * output with the Kinesis record's position and raw bytes instead. An
 * aggregate with zero user records is also an error, so that every Kinesis
 * record yields at least one user record or one dead letter and counts
 * reconcile.
 */
import { createHash } from 'node:crypto';
import { RecordDecodeError } from '../errors.ts';

/** The four bytes every KPL aggregate starts with. */
export const KPL_MAGIC: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
/** Bytes of the MD5 trailer. */
export const MD5_BYTES = 16;
/** Magic plus MD5: the fixed overhead of an aggregate around its protobuf. */
export const KPL_OVERHEAD_BYTES = KPL_MAGIC.length + MD5_BYTES;

/** Why an aggregate could not be decoded. */
export const KplDecodeReason = {
  TRUNCATED: 'truncated',
  BAD_MD5: 'bad-md5',
  BAD_PROTOBUF: 'bad-protobuf',
  MISSING_FIELD: 'missing-field',
  INDEX_OUT_OF_RANGE: 'index-out-of-range',
  BAD_UTF8: 'bad-utf8',
  EMPTY: 'empty',
} as const;
export type KplDecodeReason = (typeof KplDecodeReason)[keyof typeof KplDecodeReason];

/**
 * A Kinesis record carries the KPL magic prefix but is not a valid aggregate.
 * The whole Kinesis record belongs in the dead-letter output; `offset` (when
 * known) is the byte offset in the record's data where decoding failed.
 */
export class KplDecodeError extends RecordDecodeError {
  readonly reason: KplDecodeReason;
  readonly sequenceNumber: string;
  readonly offset: number | undefined;
  constructor(
    reason: KplDecodeReason,
    sequenceNumber: string,
    detail: string,
    offset?: number,
    options?: { cause?: unknown },
  ) {
    super(
      `KPL aggregate at sequence number ${sequenceNumber} is broken (${reason}): ${detail}` +
        (offset === undefined ? '' : ` [byte ${offset}]`),
      options,
    );
    this.reason = reason;
    this.sequenceNumber = sequenceNumber;
    this.offset = offset;
  }
}

/** A user record to pack into an aggregate. */
export interface KplUserRecordInput {
  readonly data: Uint8Array | string;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
}

/** One Kinesis record holding an aggregate, ready for PutRecords. */
export interface AggregatedKinesisRecord {
  readonly data: Uint8Array;
  /** The first user record's partition key: it decides the shard of the whole aggregate. */
  readonly partitionKey: string;
  /** The first user record's explicit hash key, when it has one. */
  readonly explicitHashKey?: string;
  /** How many user records are inside. */
  readonly count: number;
}

/** The fields {@link deaggregate} needs from a Kinesis record. */
export interface KinesisRecordLike {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly explicitHashKey?: string;
}

/**
 * A user record after de-aggregation: the input record's other fields
 * (arrival time, shard id...) are kept; data, keys and sub-sequence come from
 * the aggregate.
 */
export type DeaggregatedRecord<T extends KinesisRecordLike = KinesisRecordLike> = Omit<
  T,
  'data' | 'partitionKey' | 'explicitHashKey' | 'subSequenceNumber' | 'aggregated'
> & {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  /** Index of the user record in the aggregate; 0 for a plain record. */
  readonly subSequenceNumber: number;
  /** True when the record came out of a KPL aggregate. */
  readonly aggregated: boolean;
};

/** UTF-8 encoder shared by the builder and the decoder. */
export const utf8 = new TextEncoder();
/** Fails on invalid UTF-8 instead of inserting U+FFFD. */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A string as UTF-8 bytes; bytes as they are. */
export function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? utf8.encode(data) : data;
}

/** MD5 digest of `bytes`. */
export function md5(bytes: Uint8Array): Uint8Array {
  return createHash('md5').update(bytes).digest();
}

/** True when `data` starts with the KPL magic prefix. */
export function hasKplMagic(data: Uint8Array): boolean {
  return (
    data.length >= KPL_MAGIC.length &&
    data[0] === KPL_MAGIC[0] &&
    data[1] === KPL_MAGIC[1] &&
    data[2] === KPL_MAGIC[2] &&
    data[3] === KPL_MAGIC[3]
  );
}
