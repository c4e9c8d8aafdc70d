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
 * absorbed: the shard id, or for a redriven range (a batch the event source
 * mapping gave up on, read back by `weir redrive`) a source of its own,
 * `redrive:<shardId>:<startSequenceNumber>` ({@link RedriveRange}). A
 * per-shard high-water mark cannot tell "absorbed" from "skipped" below it,
 * so a redriven range is guarded by what items absorbed of that range only:
 *
 *   shard  ── b1 ── b2 ──[ r: given up ]── b4 ── b5 ──►   items' absorbed[shard] = b5 (above r)
 *   redrive:shard:r  its own source: absorbed up to an offset inside r
 *
 * What an item holds of r is the highest of: its own `redrive:` offset
 * (a redrive that stopped midway), its shard offset when that lies inside r
 * (the attempts that failed on r wrote the item, and no later batch did),
 * and the offsets preserved under `skipped:<shardId>@<offset>` when a later
 * batch raised an item that a failed attempt had written: an offset above
 * the shard's committed position but below the batch's first live record
 * can only come from an attempt whose records were skipped, and so can an
 * offset inside a range the shard's progress records as failing (an attempt
 * failed on it and no commit covered it since), even once the shard
 * committed past it ({@link BatchGuard.absorbedWith}).
 *
 * A redriven range may hold offsets a restore's replay applied (its
 * `replayed` spans, docs/recovery.md "What a restore does to redriven
 * ranges"): those records are skipped like committed ones.
 */
import { BatchOrderError } from './errors.ts';
import { comparePositions, encodeOffset, sequenceNumber } from '../model/position.ts';
import type { Position, ShardId } from '../model/position.ts';
import type { DecodedRecord, SourceRecord } from '../model/records.ts';
import { inSpans, rangeOffsets } from '../model/shard-ranges.ts';
import type { ReplayedSpan, SequenceRange } from '../model/shard-ranges.ts';

/** The error of a batch whose record `i` (at `pos`) is of another shard or out of order (out of line: cold). */
function orderError(shardId: ShardId, i: number, pos: Position): BatchOrderError {
  return new BatchOrderError(
    pos.shardId !== shardId
      ? `batch for ${shardId} contains a record of ${pos.shardId} at index ${i}`
      : `batch for ${shardId}: positions not strictly increasing at index ${i} (${pos.sequenceNumber})`,
  );
}

/** Prefix of the absorbed-map keys that preserve a skipped attempt's offset (see the file comment). */
export const SKIPPED_SOURCE_PREFIX = 'skipped:';

/** Prefix of a redriven range's source (see the file comment). */
export const REDRIVE_SOURCE_PREFIX = 'redrive:';

/**
 * A range of one shard read back by a redrive, as its own source: `source`
 * names it in items' absorbed maps and in its progress record; `from` and
 * `to` bound it (encoded offsets, inclusive).
 */
export interface RedriveRange {
  readonly source: string;
  readonly from: string;
  readonly to: string;
  /** Offsets of the range a restore's replay applied: skipped like committed records. @default none */
  readonly replayed?: readonly ReplayedSpan[];
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
  private readonly range: RedriveRange | undefined;
  /** Encoded bounds of the shard's failing ranges (a live batch only). */
  private readonly failing: readonly { readonly from: string; readonly to: string }[];

  /**
   * `committed` is the committed offset of the batch's source: the shard's,
   * or with `range` (a redrive) the range's own. `failing`: the shard's
   * failing ranges (its progress).
   */
  constructor(
    shardId: ShardId,
    records: readonly (SourceRecord | DecodedRecord<unknown>)[],
    committed: string | null,
    range?: RedriveRange,
    failing?: readonly SequenceRange[],
  ) {
    this.shardId = shardId;
    this.source = range?.source ?? shardId;
    this.range = range;
    this.failing = range === undefined && failing !== undefined ? failing.map(rangeOffsets) : [];
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
    const live = this.pastCommitted || this.aboveCommitted(i, pos);
    const spans = this.range?.replayed;
    return live && (spans === undefined || !inSpans(spans, this.encAt(i)));
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
    if (item === undefined) return undefined;
    const range = this.range;
    return range === undefined ? item.absorbed[this.source] : this.absorbedOfRange(item, range);
  }

  /** Whether `item` has absorbed record `i`. */
  holds(item: Absorbing | undefined, i: number): boolean {
    const abs = this.absorbedBy(item);
    return abs !== undefined && abs >= this.encAt(i);
  }

  /**
   * `absorbed` with this batch's source raised to `offset` (callers
   * guarantee it is higher). When the shard offset it replaces lies above
   * the committed position, or inside a failing range of the shard, and
   * below this batch's first live record, an attempt that may have been
   * given up on wrote it: it is kept under a `skipped:` key, so a redrive of
   * that range knows what the item holds of it.
   */
  absorbedWith(absorbed: Readonly<Record<string, string>>, offset: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k in absorbed) out[k] = absorbed[k] as string;
    const prev = absorbed[this.source];
    if (
      this.range === undefined &&
      prev !== undefined &&
      this.firstLive < this.records.length &&
      prev < this.encAt(this.firstLive) &&
      (this.committed === null || prev > this.committed || this.inFailing(prev))
    )
      out[`${SKIPPED_SOURCE_PREFIX}${this.shardId}@${prev}`] = prev;
    out[this.source] = offset;
    return out;
  }

  /** Whether the encoded offset lies in one of the shard's failing ranges. */
  private inFailing(offset: string): boolean {
    return this.failing.some((r) => offset >= r.from && offset <= r.to);
  }

  /** The highest offset inside `range` that `item` is known to hold of it (file comment). */
  private absorbedOfRange(item: Absorbing, range: RedriveRange): string | undefined {
    const a = item.absorbed;
    let best = a[range.source];
    const inRange = (v: string | undefined): v is string =>
      v !== undefined && v >= range.from && v <= range.to && (best === undefined || v > best);
    const own = a[this.shardId];
    if (inRange(own)) best = own;
    const prefix = `${SKIPPED_SOURCE_PREFIX}${this.shardId}@`;
    for (const k in a) {
      if (!k.startsWith(prefix)) continue;
      const v = a[k];
      if (inRange(v)) best = v;
    }
    return best;
  }
}

/**
 * The source of the redriven range of `shardId` that starts at
 * `startSequenceNumber`, with its bounds as encoded offsets (every
 * sub-sequence of the first and last sequence numbers included).
 */
export function redriveRange(
  shardId: ShardId,
  startSequenceNumber: string,
  endSequenceNumber: string,
): RedriveRange {
  const from = encodeOffset({
    sequenceNumber: sequenceNumber(startSequenceNumber),
    subSequenceNumber: 0,
  });
  const to = encodeOffset({
    sequenceNumber: sequenceNumber(endSequenceNumber),
    subSequenceNumber: 9_999_999_999,
  });
  return { source: `${REDRIVE_SOURCE_PREFIX}${shardId}:${startSequenceNumber}`, from, to };
}
