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
import { ProtobufError, ProtobufReader, ProtobufWriter, WireType, varintSize } from './protobuf.ts';

/** The four bytes every KPL aggregate starts with. */
export const KPL_MAGIC: Uint8Array = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const MD5_BYTES = 16;
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

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? utf8.encode(data) : data;
}

function md5(bytes: Uint8Array): Uint8Array {
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

/**
 * Packs user records into one KPL aggregate. Keys are de-duplicated into the
 * tables. All user records land on the shard chosen by the FIRST record's
 * partition key (or explicit hash key): that is how aggregation works, and
 * why the KCL and weir expose each user record's own partition key.
 *
 * @example
 * const agg = aggregate([{ data: '{"a":1}', partitionKey: 'u1' }, { data: '{"a":2}', partitionKey: 'u2' }]);
 * await kinesis.send(new PutRecordCommand({ StreamName, Data: agg.data, PartitionKey: agg.partitionKey }));
 */
export function aggregate(records: readonly KplUserRecordInput[]): AggregatedKinesisRecord {
  const first = records[0];
  if (first === undefined) throw new RangeError('aggregate() needs at least one user record');
  const builder = new KplAggregateBuilder();
  for (const r of records) builder.add(r);
  return builder.build();
}

/**
 * Incremental aggregate builder that knows the exact encoded size before
 * adding a record, so a producer can fill aggregates up to a byte limit.
 */
export class KplAggregateBuilder {
  private readonly pkIndex = new Map<string, number>();
  private readonly ehkIndex = new Map<string, number>();
  private readonly pkTable: Uint8Array[] = [];
  private readonly ehkTable: Uint8Array[] = [];
  private readonly records: { pk: number; ehk: number | undefined; data: Uint8Array }[] = [];
  private protobufBytes = 0;
  private outerKey: string | undefined;
  private outerEhk: string | undefined;

  /** User records added so far. */
  get count(): number {
    return this.records.length;
  }

  /**
   * Size in bytes of the Kinesis record (magic + protobuf + MD5 + outer
   * partition key) if `record` were added now.
   */
  sizeWith(record: KplUserRecordInput): number {
    const data = toBytes(record.data);
    const outerKey = this.outerKey ?? record.partitionKey;
    return (
      KPL_OVERHEAD_BYTES +
      this.protobufBytes +
      this.addedBytes(record, data.length) +
      utf8.encode(outerKey).length
    );
  }

  /** Current Kinesis record size (0 when empty). */
  get size(): number {
    if (this.outerKey === undefined) return 0;
    return KPL_OVERHEAD_BYTES + this.protobufBytes + utf8.encode(this.outerKey).length;
  }

  add(record: KplUserRecordInput): void {
    const data = toBytes(record.data);
    this.protobufBytes += this.addedBytes(record, data.length);
    let pk = this.pkIndex.get(record.partitionKey);
    if (pk === undefined) {
      pk = this.pkTable.length;
      this.pkIndex.set(record.partitionKey, pk);
      this.pkTable.push(utf8.encode(record.partitionKey));
    }
    let ehk: number | undefined;
    if (record.explicitHashKey !== undefined) {
      ehk = this.ehkIndex.get(record.explicitHashKey);
      if (ehk === undefined) {
        ehk = this.ehkTable.length;
        this.ehkIndex.set(record.explicitHashKey, ehk);
        this.ehkTable.push(utf8.encode(record.explicitHashKey));
      }
    }
    if (this.outerKey === undefined) {
      this.outerKey = record.partitionKey;
      this.outerEhk = record.explicitHashKey;
    }
    this.records.push({ pk, ehk, data });
  }

  build(): AggregatedKinesisRecord {
    if (this.outerKey === undefined) throw new RangeError('cannot build an empty aggregate');
    const w = new ProtobufWriter(this.protobufBytes + 16);
    for (const k of this.pkTable) w.bytes(1, k);
    for (const k of this.ehkTable) w.bytes(2, k);
    for (const r of this.records) {
      const inner = new ProtobufWriter(r.data.length + 24);
      inner.uint64(1, r.pk);
      if (r.ehk !== undefined) inner.uint64(2, r.ehk);
      inner.bytes(3, r.data);
      w.bytes(3, inner.finish());
    }
    const pb = w.finish();
    const out = new Uint8Array(KPL_OVERHEAD_BYTES + pb.length);
    out.set(KPL_MAGIC, 0);
    out.set(pb, KPL_MAGIC.length);
    out.set(md5(pb), KPL_MAGIC.length + pb.length);
    return {
      data: out,
      partitionKey: this.outerKey,
      ...(this.outerEhk !== undefined ? { explicitHashKey: this.outerEhk } : {}),
      count: this.records.length,
    };
  }

  /** Protobuf bytes that adding `record` would add (tables included). */
  private addedBytes(record: KplUserRecordInput, dataLength: number): number {
    let added = 0;
    let pk = this.pkIndex.get(record.partitionKey);
    if (pk === undefined) {
      pk = this.pkTable.length;
      added += lenField(utf8.encode(record.partitionKey).length);
    }
    let ehkBytes = 0;
    if (record.explicitHashKey !== undefined) {
      let ehk = this.ehkIndex.get(record.explicitHashKey);
      if (ehk === undefined) {
        ehk = this.ehkTable.length;
        added += lenField(utf8.encode(record.explicitHashKey).length);
      }
      ehkBytes = 1 + varintSize(ehk);
    }
    const inner = 1 + varintSize(pk) + ehkBytes + lenField(dataLength);
    return added + lenField(inner);
  }
}

/** Size of a length-delimited field with a one-byte tag. */
function lenField(payload: number): number {
  return 1 + varintSize(payload) + payload;
}

/**
 * Splits a Kinesis record into its user records. A plain record (no magic
 * prefix) comes back as one user record with subSequenceNumber 0. Throws
 * {@link KplDecodeError} when the record has the magic prefix but is broken;
 * never returns partial or wrong data.
 *
 * @example
 * for (const user of deaggregate({ data, partitionKey, sequenceNumber })) {
 *   handle(user.partitionKey, user.subSequenceNumber, user.data);
 * }
 */
export function deaggregate<T extends KinesisRecordLike>(record: T): DeaggregatedRecord<T>[] {
  const { data, sequenceNumber } = record;
  if (!hasKplMagic(data)) {
    return [
      {
        ...record,
        data,
        partitionKey: record.partitionKey,
        subSequenceNumber: 0,
        aggregated: false,
      },
    ];
  }
  if (data.length < KPL_OVERHEAD_BYTES) {
    throw new KplDecodeError(
      KplDecodeReason.TRUNCATED,
      sequenceNumber,
      `${data.length} bytes is shorter than magic + MD5 (${KPL_OVERHEAD_BYTES})`,
    );
  }
  const pbEnd = data.length - MD5_BYTES;
  const pb = data.subarray(KPL_MAGIC.length, pbEnd);
  const expected = md5(pb);
  const actual = data.subarray(pbEnd);
  for (let i = 0; i < MD5_BYTES; i++) {
    if (expected[i] !== actual[i]) {
      throw new KplDecodeError(
        KplDecodeReason.BAD_MD5,
        sequenceNumber,
        `MD5 trailer ${hex(actual)} does not match the protobuf's MD5 ${hex(expected)} (corrupt or truncated record)`,
        pbEnd,
      );
    }
  }
  let decoded: DecodedAggregate;
  try {
    decoded = decodeAggregate(pb, KPL_MAGIC.length);
  } catch (err) {
    if (err instanceof ProtobufError) {
      throw new KplDecodeError(
        KplDecodeReason.BAD_PROTOBUF,
        sequenceNumber,
        err.message,
        err.offset,
        { cause: err },
      );
    }
    if (err instanceof AggregateShapeError) {
      throw new KplDecodeError(err.reason, sequenceNumber, err.message, err.offset);
    }
    throw err;
  }
  if (decoded.records.length === 0) {
    throw new KplDecodeError(
      KplDecodeReason.EMPTY,
      sequenceNumber,
      'the aggregate holds no user records',
    );
  }
  return decoded.records.map((r, i) => {
    const out = {
      ...record,
      data: r.data,
      partitionKey: r.partitionKey,
      subSequenceNumber: i,
      aggregated: true,
    } as DeaggregatedRecord<T> & { explicitHashKey?: string };
    if (r.explicitHashKey !== undefined) out.explicitHashKey = r.explicitHashKey;
    else delete out.explicitHashKey;
    return out;
  });
}

interface DecodedUserRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
}
interface DecodedAggregate {
  readonly records: DecodedUserRecord[];
}

class AggregateShapeError extends Error {
  constructor(
    readonly reason: KplDecodeReason,
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function decodeString(bytes: Uint8Array, what: string, offset: number): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new AggregateShapeError(KplDecodeReason.BAD_UTF8, `${what} is not valid UTF-8`, offset);
  }
}

function expectWireType(actual: number, expected: WireType, field: string, offset: number): void {
  if (actual !== expected)
    throw new ProtobufError(`${field} has wire type ${actual}, expected ${expected}`, offset);
}

function decodeAggregate(pb: Uint8Array, base: number): DecodedAggregate {
  const reader = new ProtobufReader(pb, base);
  const pkTable: string[] = [];
  const ehkTable: string[] = [];
  const raw: { pk: bigint; ehk: bigint | undefined; data: Uint8Array; offset: number }[] = [];
  while (!reader.done()) {
    const t = reader.tag();
    switch (t.field) {
      case 1: {
        expectWireType(t.wireType, WireType.LEN, 'partition_key_table', t.offset);
        const v = reader.lengthDelimited();
        pkTable.push(decodeString(v.bytes, `partition_key_table[${pkTable.length}]`, v.offset));
        break;
      }
      case 2: {
        expectWireType(t.wireType, WireType.LEN, 'explicit_hash_key_table', t.offset);
        const v = reader.lengthDelimited();
        ehkTable.push(
          decodeString(v.bytes, `explicit_hash_key_table[${ehkTable.length}]`, v.offset),
        );
        break;
      }
      case 3: {
        expectWireType(t.wireType, WireType.LEN, 'records', t.offset);
        const v = reader.lengthDelimited();
        raw.push({ ...decodeRecord(v.bytes, v.offset, raw.length), offset: t.offset });
        break;
      }
      default:
        reader.skip(t.wireType, t.field);
    }
  }
  // Indices are checked after the whole message is read: protobuf allows the
  // tables to come after the records that reference them.
  const records = raw.map((r, i): DecodedUserRecord => {
    if (r.pk >= BigInt(pkTable.length)) {
      throw new AggregateShapeError(
        KplDecodeReason.INDEX_OUT_OF_RANGE,
        `records[${i}].partition_key_index ${r.pk} is outside the partition key table (${pkTable.length} entries)`,
        r.offset,
      );
    }
    if (r.ehk !== undefined && r.ehk >= BigInt(ehkTable.length)) {
      throw new AggregateShapeError(
        KplDecodeReason.INDEX_OUT_OF_RANGE,
        `records[${i}].explicit_hash_key_index ${r.ehk} is outside the explicit hash key table (${ehkTable.length} entries)`,
        r.offset,
      );
    }
    return {
      data: r.data,
      partitionKey: pkTable[Number(r.pk)] as string,
      explicitHashKey: r.ehk === undefined ? undefined : ehkTable[Number(r.ehk)],
    };
  });
  return { records };
}

function decodeRecord(
  bytes: Uint8Array,
  base: number,
  index: number,
): { pk: bigint; ehk: bigint | undefined; data: Uint8Array } {
  // Offsets inside the sub-message are reported relative to the Kinesis record's data.
  const reader = new ProtobufReader(bytes, base);
  let pk: bigint | undefined;
  let ehk: bigint | undefined;
  let data: Uint8Array | undefined;
  while (!reader.done()) {
    const t = reader.tag();
    switch (t.field) {
      case 1:
        expectWireType(
          t.wireType,
          WireType.VARINT,
          `records[${index}].partition_key_index`,
          t.offset,
        );
        pk = reader.varint64();
        break;
      case 2:
        expectWireType(
          t.wireType,
          WireType.VARINT,
          `records[${index}].explicit_hash_key_index`,
          t.offset,
        );
        ehk = reader.varint64();
        break;
      case 3:
        expectWireType(t.wireType, WireType.LEN, `records[${index}].data`, t.offset);
        data = reader.lengthDelimited().bytes;
        break;
      default:
        // Field 4 (tags) and anything newer: not exposed by the KPL/KCL APIs.
        reader.skip(t.wireType, t.field);
    }
  }
  if (pk === undefined) {
    throw new AggregateShapeError(
      KplDecodeReason.MISSING_FIELD,
      `records[${index}] has no partition_key_index`,
      base,
    );
  }
  if (data === undefined) {
    throw new AggregateShapeError(
      KplDecodeReason.MISSING_FIELD,
      `records[${index}] has no data`,
      base,
    );
  }
  // Copy: callers may keep user records after the Kinesis record is gone.
  return { pk, ehk, data: data.slice() };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
