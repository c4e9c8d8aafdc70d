/**
 * The guard: what makes a batch idempotent under Lambda's at-least-once
 * delivery (docs/semantics.md, "Exactly-once state").
 *
 *   committed position (shard progress)   records at or below it are skipped
 *   absorbed offset (per state item)      records at or below it are already in that item
 *
 *        batch:   r0   r1   r2 │ r3   r4   r5 │ r6   r7
 *                 ─ skipped ── │ ── absorbed ─│── applied by this write ──
 *                       committed          item.absorbed[source]
 *                                           cut = 6
 *
 * Positions strictly increase along a batch (checked here), so "at or
 * below an offset" is a prefix of the batch: the guard turns an offset into
 * an index, the `cut`, once per offset and batch.
 *
 * The `source` is the key under which state items record what they
 * absorbed: today the shard id. (A redriven range would be its own source:
 * that change lands here.)
 */
import { BatchOrderError } from './errors.ts';
import { comparePositions, encodeOffset } from '../model/position.ts';
import type { Position, ShardId } from '../model/position.ts';
import type { DecodedRecord, SourceRecord } from '../model/records.ts';

/** The error of a batch whose record `i` (at `pos`) is of another shard or out of order (out of line: cold). */
function orderError(shardId: ShardId, i: number, pos: Position): BatchOrderError {
  return new BatchOrderError(
    pos.shardId !== shardId
      ? `batch for ${shardId} contains a record of ${pos.shardId} at index ${i}`
      : `batch for ${shardId}: positions not strictly increasing at index ${i} (${pos.sequenceNumber})`,
  );
}

/** Something that records, per source, the highest offset it absorbed (a state item). */
export interface Absorbing {
  readonly absorbed: Readonly<Record<string, string>>;
}

/** The guard of one attempt at one shard's batch. */
export class BatchGuard {
  /** The key of this batch's offsets in state items' absorbed maps. */
  readonly source: string;
  /** The shard's committed offset when the attempt started (`null`: nothing committed). */
  readonly committed: string | null;
  /** Index of the first record above the committed position (`n` when none). */
  firstLive: number;
  private readonly shardId: ShardId;
  private readonly records: readonly (SourceRecord | DecodedRecord<unknown>)[];
  /** Each record's encoded offset, computed when first needed. */
  private readonly enc: (string | undefined)[];
  /** Per absorbed offset seen on an item: how many leading records it covers (see {@link cut}). */
  private readonly cuts = new Map<string, number>();
  private prev: Position | undefined;
  private pastCommitted: boolean;

  constructor(
    shardId: ShardId,
    records: readonly (SourceRecord | DecodedRecord<unknown>)[],
    committed: string | null,
  ) {
    this.shardId = shardId;
    this.source = shardId;
    this.records = records;
    this.committed = committed;
    this.enc = new Array<string | undefined>(records.length);
    this.firstLive = committed === null ? 0 : records.length;
    this.pastCommitted = committed === null;
  }

  /**
   * Checks that record `i` belongs to the shard and follows the one before
   * it, and tells whether it is above the committed position (`false`: a
   * retry's record that is already durable; skip it). Called once per
   * record, in order.
   */
  admit(i: number): boolean {
    const pos = (this.records[i] as SourceRecord | DecodedRecord<unknown>).position;
    if (
      pos.shardId !== this.shardId ||
      (this.prev !== undefined && comparePositions(this.prev, pos) >= 0)
    )
      throw orderError(this.shardId, i, pos);
    this.prev = pos;
    return this.pastCommitted || this.aboveCommitted(i, pos);
  }

  /** Until the first record above the committed position: whether record `i` (at `pos`) is it. */
  private aboveCommitted(i: number, pos: Position): boolean {
    const e = encodeOffset(pos);
    if (e <= (this.committed as string)) return false;
    this.pastCommitted = true;
    this.enc[i] = e;
    this.firstLive = i;
    return true;
  }

  /** The encoded offset (`encodeOffset`) of record `i`. */
  encAt(i: number): string {
    let e = this.enc[i];
    if (e === undefined) {
      e = encodeOffset((this.records[i] as SourceRecord).position);
      this.enc[i] = e;
    }
    return e;
  }

  /** Index of the first record at `from` or later above the encoded offset `enc` (`n` when none). */
  indexAbove(enc: string, from = 0): number {
    let lo = from;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.encAt(mid) <= enc) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The guard as an index: a record `i` above the committed position is at
   * or below the absorbed offset `abs` exactly when `i < cut(abs)`. An
   * item's offset from an earlier batch is below the batch's first live
   * record, which costs one string comparison; other offsets are found by
   * binary search, once per batch.
   */
  cut(abs: string | undefined): number {
    if (abs === undefined) return 0;
    const first = this.firstLive;
    const n = this.records.length;
    if (first >= n || abs < this.encAt(first)) return 0;
    let c = this.cuts.get(abs);
    if (c === undefined) this.cuts.set(abs, (c = this.indexAbove(abs, first + 1)));
    return c;
  }

  /** What `item` absorbed of this batch's source (`undefined`: nothing). */
  absorbedBy(item: Absorbing | undefined): string | undefined {
    return item?.absorbed[this.source];
  }

  /** Whether `item` has absorbed record `i`. */
  holds(item: Absorbing | undefined, i: number): boolean {
    const abs = item?.absorbed[this.source];
    return abs !== undefined && abs >= this.encAt(i);
  }

  /** `absorbed` with this batch's source raised to `offset` (callers guarantee it is higher). */
  absorbedWith(absorbed: Readonly<Record<string, string>>, offset: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k in absorbed) out[k] = absorbed[k] as string;
    out[this.source] = offset;
    return out;
  }
}
