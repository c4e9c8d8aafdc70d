/**
 * The producer's batching: entries gathered into PutRecords requests within
 * Kinesis' limits, and user records packed into KPL aggregates (one per
 * target shard when shard-aware).
 */
import { KplAggregateBuilder } from './kpl.ts';
import {
  encoder,
  findRange,
  hashKeyOf,
  plainEntry,
  type Entry,
  type PreparedRange,
} from './producer-entries.ts';
import type { ProducerRecord } from './producer-types.ts';

/** Gathers entries into requests of at most `maxRecordsPerRequest` entries and `maxRequestBytes`. */
export class RequestBatcher {
  #batch: Entry[] = [];
  #bytes = 0;
  #records = 0;

  constructor(
    private readonly maxRecordsPerRequest: number,
    private readonly maxRequestBytes: number,
    /** With a rate limit, user records (not only entries) per request are bounded too. */
    private readonly limitUserRecords: boolean,
    private readonly launch: (batch: readonly Entry[]) => Promise<void>,
  ) {}

  async push(entry: Entry): Promise<void> {
    if (
      this.#batch.length > 0 &&
      (this.#batch.length + 1 > this.maxRecordsPerRequest ||
        this.#bytes + entry.size > this.maxRequestBytes ||
        (this.limitUserRecords && this.#records + entry.indices.length > this.maxRecordsPerRequest))
    ) {
      await this.flush();
    }
    this.#batch.push(entry);
    this.#bytes += entry.size;
    this.#records += entry.indices.length;
  }

  async flush(): Promise<void> {
    if (this.#batch.length === 0) return;
    const b = this.#batch;
    this.#batch = [];
    this.#bytes = 0;
    this.#records = 0;
    await this.launch(b);
  }
}

interface Slot {
  builder: KplAggregateBuilder;
  indices: number[];
  /** Pins the aggregate to its shard (the shard's starting hash key). */
  readonly pin: string | undefined;
}

/**
 * Aggregation state: one slot (builder) per target shard when shard-aware
 * (`ranges` given), a single slot otherwise. Never buffers more than one
 * request's worth of bytes across slots.
 */
export class AggregateSlots {
  readonly #slots = new Map<string, Slot>();
  #bufferedBytes = 0;

  constructor(
    private readonly ranges: readonly PreparedRange[] | undefined,
    private readonly maxRecordBytes: number,
    private readonly maxRequestBytes: number,
    private readonly batcher: RequestBatcher,
  ) {}

  /** Adds input record `index` (already validated; `size` is data + partition key bytes). */
  async add(record: ProducerRecord, data: Uint8Array, size: number, index: number): Promise<void> {
    const user = {
      data,
      partitionKey: record.partitionKey,
      ...(record.explicitHashKey !== undefined ? { explicitHashKey: record.explicitHashKey } : {}),
    };
    // An aggregate must fit one Kinesis record and one request.
    const limit = Math.min(this.maxRecordBytes, this.maxRequestBytes);
    const slot = this.#slotFor(user);
    if (slot.builder.count > 0 && slot.builder.sizeWith(user) > limit) await this.#flushSlot(slot);
    if (slot.builder.sizeWith(user) > limit) {
      // Too big even alone inside an aggregate, but valid as a plain record.
      await this.batcher.push(plainEntry(record, data, size, index));
      return;
    }
    this.#bufferedBytes -= slot.builder.size;
    slot.builder.add(user);
    this.#bufferedBytes += slot.builder.size;
    slot.indices.push(index);
    // Bound memory with many shards: never buffer more than one request's worth.
    if (this.#bufferedBytes > this.maxRequestBytes) {
      let largest = slot;
      for (const s of this.#slots.values()) if (s.builder.size > largest.builder.size) largest = s;
      await this.#flushSlot(largest);
    }
  }

  /** Every non-empty aggregate into the batcher. */
  async flush(): Promise<void> {
    for (const slot of this.#slots.values()) await this.#flushSlot(slot);
  }

  #slotFor(record: { partitionKey: string; explicitHashKey?: string }): Slot {
    const range = this.ranges === undefined ? undefined : findRange(this.ranges, hashKeyOf(record));
    const id = range?.shardId ?? '';
    let slot = this.#slots.get(id);
    if (slot === undefined) {
      slot = { builder: new KplAggregateBuilder(), indices: [], pin: range?.startingHashKey };
      this.#slots.set(id, slot);
    }
    return slot;
  }

  async #flushSlot(slot: Slot): Promise<void> {
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
    this.#bufferedBytes -= slot.builder.size;
    slot.builder = new KplAggregateBuilder();
    slot.indices = [];
    await this.batcher.push(entry);
  }
}
