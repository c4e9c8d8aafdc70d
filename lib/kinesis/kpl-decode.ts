/** KPL de-aggregation: one Kinesis record back into its user records (format in kpl-format.ts). */
import {
  KPL_MAGIC,
  KPL_OVERHEAD_BYTES,
  KplDecodeError,
  KplDecodeReason,
  MD5_BYTES,
  hasKplMagic,
  md5,
  strictUtf8,
  type DeaggregatedRecord,
  type KinesisRecordLike,
} from './kpl-format.ts';
import { ProtobufError, ProtobufReader, WireType } from './protobuf.ts';

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
