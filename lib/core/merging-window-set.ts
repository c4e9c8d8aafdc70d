/**
 * Session merging for one key (Flink's `MergingWindowSet`): the key's
 * sessions of this batch, merged with its stored sessions wherever they
 * overlap or touch (`SessionWindows.connects`).
 *
 *   stored:   [10──────30)        [45──60)          [80──90)
 *   batch:              [28───40)    [50─55)  [70─75)
 *   merged:   [10─────────────40)  [45──60)  [70─75) [80──90)
 *                 one window          │        new     untouched:
 *                 (absorbs [10,30))   │      session   no write
 *                                   updated in place
 *
 * Only merged sessions that contain a batch session are returned: the
 * others are not written.
 */
import type { WindowItem } from '../ports/state-store.ts';

/** One session after merging. */
export interface MergedSession<ACC> {
  readonly start: number;
  readonly end: number;
  /** The merged accumulator: batch sessions' deltas and stored accumulators, merged in start order. */
  readonly acc: ACC;
  /** The stored open sessions it absorbs, in start order (empty: a new session). */
  readonly stored: readonly WindowItem[];
  /** A tombstone of the key at exactly these bounds: the merged session revives it. */
  readonly tombstone: WindowItem | undefined;
}

/** What merging needs of the aggregate. */
export interface AccumulatorMerge<ACC> {
  merge(a: ACC, b: ACC): ACC;
  deserialize(json: WindowItem['accumulator']): ACC;
}

interface Part<ACC> {
  readonly start: number;
  readonly end: number;
  readonly acc: ACC | undefined;
  readonly item: WindowItem | undefined;
}

/** The sessions of one key, the batch's and the stored ones. */
export class MergingWindowSet<ACC> {
  private readonly parts: Part<ACC>[] = [];
  private readonly agg: AccumulatorMerge<ACC>;

  constructor(agg: AccumulatorMerge<ACC>) {
    this.agg = agg;
  }

  /** Adds a session of this batch (its records' proto-windows, already merged in time order). */
  addBatchSession(start: number, end: number, acc: ACC): void {
    this.parts.push({ start, end, acc, item: undefined });
  }

  /**
   * Merges the batch's sessions with the key's stored items (tombstones
   * only revive a session of exactly their bounds; they never merge) and
   * returns the merged sessions that contain a batch session.
   */
  merge(stored: readonly WindowItem[]): MergedSession<ACC>[] {
    const parts = this.parts;
    const tombstones = new Map<string, WindowItem>();
    for (const it of stored) {
      if (it.purged) tombstones.set(`${it.start}/${it.end}`, it);
      else parts.push({ start: it.start, end: it.end, acc: undefined, item: it });
    }
    // Stable: a batch session sorts before a stored one of the same bounds.
    parts.sort((a, b) => a.start - b.start || a.end - b.end);
    const out: MergedSession<ACC>[] = [];
    let group: Part<ACC>[] = [];
    let groupEnd = -Infinity;
    // Sorted by start, two sessions connect (overlap or touch) when the
    // later one starts at or before the end of what came before it.
    for (const p of parts) {
      if (group.length > 0 && p.start <= groupEnd) {
        group.push(p);
        if (p.end > groupEnd) groupEnd = p.end;
      } else {
        this.close(group, groupEnd, tombstones, out);
        group = [p];
        groupEnd = p.end;
      }
    }
    this.close(group, groupEnd, tombstones, out);
    return out;
  }

  private close(
    group: readonly Part<ACC>[],
    end: number,
    tombstones: ReadonlyMap<string, WindowItem>,
    out: MergedSession<ACC>[],
  ): void {
    if (group.length === 0 || group.every((p) => p.item !== undefined)) return;
    const agg = this.agg;
    let acc: ACC | undefined;
    for (const p of group) {
      const a = p.acc ?? agg.deserialize((p.item as WindowItem).accumulator);
      acc = acc === undefined ? a : agg.merge(acc, a);
    }
    const stored = group.filter((p) => p.item !== undefined).map((p) => p.item as WindowItem);
    const start = Math.min(...group.map((p) => p.start));
    out.push({ start, end, acc: acc as ACC, stored, tombstone: tombstones.get(`${start}/${end}`) });
  }
}
