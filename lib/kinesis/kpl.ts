/**
 * KPL aggregation: packing user records into one Kinesis record. The format,
 * and the decision on broken aggregates, are described in kpl-format.ts;
 * de-aggregation is in kpl-decode.ts. This module is the entry for all three.
 */
import { varintSize, ProtobufWriter } from './protobuf.ts';
import {
  KPL_MAGIC,
  KPL_OVERHEAD_BYTES,
  md5,
  toBytes,
  utf8,
  type AggregatedKinesisRecord,
  type KplUserRecordInput,
} from './kpl-format.ts';

export {
  KPL_MAGIC,
  KPL_OVERHEAD_BYTES,
  KplDecodeError,
  KplDecodeReason,
  hasKplMagic,
  type AggregatedKinesisRecord,
  type DeaggregatedRecord,
  type KinesisRecordLike,
  type KplUserRecordInput,
} from './kpl-format.ts';
export { deaggregate } from './kpl-decode.ts';

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
