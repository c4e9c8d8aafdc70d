/**
 * Tumbling and sliding windows in one batch: windows aligned to the epoch,
 * the same for every key, so a record's windows follow from its event time
 * alone (the assigner's `windowStart` / `windowStarts`).
 *
 *   record ─► windows (assigner) ─► late? (maxTimestamp + allowedLateness < w)
 *                                     │ yes: late output (sliding: only those windows)
 *                                     ▼ no
 *              one delta per (key, window) in this batch (pre-aggregation)
 *                                     ▼
 *              one guarded conditional write per (key, window) (state-writer.ts)
 *
 * A sliding record late for some of its windows goes to state for the
 * others and to the late output once, listing the windows it was late for.
 */
import type { AggregateFunction } from './aggregate.ts';
import { RecordStatus } from './batch.ts';
import type { Batch } from './batch.ts';
import type { BatchWindows, WindowsContext } from './batch-windows.ts';
import type { BatchGuard } from './guard.ts';
import type { OperatorStore } from './operator-store.ts';
import type { RecordCursor } from './record-cursor.ts';
import type { RecordPipeline } from './record-pipeline.ts';
import { changed, writeUntilApplied } from './state-writer.ts';
import type { SlidingWindows, TumblingWindows } from './window.ts';
import { DeadLetterReason, LateReason } from '../model/records.ts';
import type { TimeWindow } from '../model/time-window.ts';
import type { WindowItem, WindowRef, WindowWrite } from '../ports/state-store.ts';

/** One (key, window)'s pre-aggregated delta in this batch, and the records in it. */
interface Group<ACC> extends WindowRef {
  acc: ACC;
  /** Batch indexes of the records folded into `acc`, ascending. */
  readonly idxs: number[];
}

/** What tumbling and sliding windows share: the groups, the reclaim, the writes. */
abstract class AlignedWindows<IN, ACC> implements BatchWindows<IN> {
  protected readonly batch: Batch<IN>;
  protected readonly agg: AggregateFunction<IN, ACC, unknown>;
  protected readonly lateness: number;
  /** start -> key -> group. */
  protected readonly byStart = new Map<number, Map<string, Group<ACC>>>();
  protected readonly groups: Group<ACC>[] = [];
  /** Sliding: per record, how many of its windows it is in state for. */
  protected winCount: Uint16Array | undefined;
  private readonly guard: BatchGuard;
  private readonly store: OperatorStore;
  private readonly pipeline: RecordPipeline<IN>;

  constructor(ctx: WindowsContext<IN, ACC>) {
    this.batch = ctx.batch;
    this.guard = ctx.guard;
    this.store = ctx.store;
    this.pipeline = ctx.pipeline;
    this.agg = ctx.aggregate;
    this.lateness = ctx.allowedLateness;
  }

  abstract addAll(cursor: RecordCursor<IN>): void;
  abstract add(i: number, key: string, value: IN, t: number, w: number): void;

  /**
   * A new group of (key, [start, end)) in `inner` (the groups starting at
   * `start`). Callers look the group up themselves: the lookup is on the
   * hot path and stays inline there, the creation is not.
   */
  protected newGroup(
    inner: Map<string, Group<ACC>>,
    key: string,
    start: number,
    end: number,
  ): Group<ACC> {
    const g: Group<ACC> = { key, start, end, acc: this.agg.createAccumulator(), idxs: [] };
    inner.set(key, g);
    this.groups.push(g);
    return g;
  }

  /** The groups starting at `start`. */
  protected startingAt(start: number): Map<string, Group<ACC>> {
    let inner = this.byStart.get(start);
    if (inner === undefined) this.byStart.set(start, (inner = new Map<string, Group<ACC>>()));
    return inner;
  }

  lowestEnd(): number {
    let lowest = Infinity;
    for (const g of this.groups) if (g.end < lowest) lowest = g.end;
    return lowest;
  }

  /**
   * Within one attempt the watermark only rises, so a window item whose
   * absorbed position for this shard is at or above a late record's holds
   * the record (a later record of the same shard in the same window was on
   * time, so this one was too). Those windows are dropped from its late
   * entry, and a record left with no late window counts as in state
   * (already applied). Only batches with late records pay the extra read.
   */
  async reclaimLate(): Promise<void> {
    const batch = this.batch;
    if (batch.late.length === 0) return;
    const at = (key: string, w: TimeWindow): string => `${w.start}/${w.end}/${key}`;
    const refs = new Map<string, WindowRef>();
    // Every late entry of the operator's carries its key.
    for (const l of batch.late) {
      const key = l.key as string;
      for (const w of l.windows) refs.set(at(key, w), { key, start: w.start, end: w.end });
    }
    const list = [...refs.values()];
    const items = await this.store.getWindows(list);
    const byRef = new Map<string, WindowItem | undefined>();
    list.forEach((r, j) => byRef.set(at(r.key, r), items[j]));
    const keep: boolean[] = [];
    batch.late.forEach((l, j) => {
      const i = batch.lateIdx[j] as number;
      const key = l.key as string;
      const still = l.windows.filter((w) => !this.guard.holds(byRef.get(at(key, w)), i));
      if (still.length === l.windows.length) return void keep.push(true);
      if (still.length === 0) {
        keep.push(false);
        if (batch.status[i] === RecordStatus.IN_STATE) batch.partiallyLate--;
        else batch.markApplied(i);
        return;
      }
      keep.push(true);
      batch.late[j] = { ...l, windows: still };
    });
    batch.retainLate(keep);
  }

  async write(): Promise<number> {
    const pending = this.groups.filter((g) => g.idxs.length > 0);
    const items = await this.store.getWindows(pending);
    return writeUntilApplied(
      this.store,
      pending,
      items,
      (retry) => this.store.getWindows(retry),
      (g, item, attempt) => this.plan(g, item, attempt > 1),
    );
  }

  /**
   * One group's write: the batch's delta merged into the stored item, minus
   * what the item already absorbed (the guard's cut). `rebuild`: the delta
   * is re-folded from the records (a retry after a lost race, whose first
   * plan may have dropped records the item now holds).
   */
  private plan(
    g: Group<ACC>,
    item: WindowItem | undefined,
    rebuild: boolean,
  ): WindowWrite[] | undefined {
    const { agg, guard, batch } = this;
    const idxs = g.idxs;
    const last = idxs[idxs.length - 1] as number;
    let acc = g.acc;
    const cut = item === undefined ? 0 : guard.cut(guard.absorbedBy(item));
    if (last < cut) {
      for (const i of idxs) batch.applied[i] = 1;
      return undefined;
    }
    if ((idxs[0] as number) < cut) acc = this.rebuild(idxs, cut);
    else if (rebuild) acc = this.rebuild(idxs, 0);
    const lastEnc = guard.encAt(last);
    if (item === undefined) {
      const created: WindowItem = {
        key: g.key,
        start: g.start,
        end: g.end,
        accumulator: agg.serialize(acc),
        absorbed: guard.absorbedWith({}, lastEnc),
        firedVersion: 0,
        pending: true,
        cleanupAt: g.end - 1 + this.lateness,
        revision: 1,
        purged: false,
        supersedes: [],
        outbox: null,
      };
      return [{ kind: 'put', expectedRevision: null, item: created }];
    }
    if (item.purged) {
      this.purgedWindow(g.key, idxs, cut, { start: g.start, end: g.end });
      return undefined;
    }
    const merged = agg.merge(agg.deserialize(item.accumulator), acc);
    const absorbed = guard.absorbedWith(item.absorbed, lastEnc);
    const next = changed(
      item,
      agg.serialize(merged),
      absorbed,
      item.firedVersion,
      true,
      false,
      item.supersedes,
    );
    return [{ kind: 'put', expectedRevision: item.revision, item: next }];
  }

  /** Re-folds a group's records, keeping only those at index `cut` or above (the guard). */
  private rebuild(idxs: readonly number[], cut: number): ACC {
    const { agg, batch } = this;
    let acc = agg.createAccumulator();
    for (const i of idxs) {
      if (batch.status[i] !== RecordStatus.IN_STATE) continue;
      if (i < cut) {
        batch.applied[i] = 1;
        continue;
      }
      acc = agg.add(this.pipeline.eventAt(batch, i), acc);
    }
    return acc;
  }

  /** Records for a window whose state is gone: only reachable after a restore moved the watermark back. */
  private purgedWindow(
    key: string,
    idxs: readonly number[],
    cut: number,
    window: TimeWindow,
  ): void {
    const batch = this.batch;
    for (const i of idxs) {
      if (batch.status[i] !== RecordStatus.IN_STATE || i < cut) continue;
      batch.lateRecord(i, key, [window], LateReason.WINDOW_PURGED, -Infinity);
      const wc = this.winCount;
      if (wc !== undefined) wc[i] = (wc[i] ?? 1) - 1;
      if (wc === undefined || wc[i] === 0) batch.status[i] = RecordStatus.LATE;
    }
  }
}

/** Tumbling windows: one window per record. */
export class TumblingBatchWindows<IN, ACC> extends AlignedWindows<IN, ACC> {
  private readonly assigner: TumblingWindows;
  private readonly size: number;
  /** The window of the last record, and its groups: consecutive records mostly share it. */
  private lastStart = NaN;
  private lastInner: Map<string, Group<ACC>> | undefined;

  constructor(ctx: WindowsContext<IN, ACC>, assigner: TumblingWindows) {
    super(ctx);
    this.assigner = assigner;
    this.size = assigner.size;
  }

  addAll(cursor: RecordCursor<IN>): void {
    for (let i = 0; i < this.batch.n; i++) {
      const key = cursor.next(i);
      if (key !== undefined) this.add(i, key, cursor.value as IN, cursor.time, cursor.watermark);
    }
  }

  add(i: number, key: string, value: IN, t: number, w: number): void {
    const batch = this.batch;
    const size = this.size;
    const lastStart = this.lastStart;
    // Consecutive records mostly share a window: skip the (floating-point) modulo then.
    const start = t >= lastStart && t < lastStart + size ? lastStart : this.assigner.windowStart(t);
    const end = start + size;
    if (end - 1 + this.lateness < w) return this.late(i, key, start, end, w);
    let inner: Map<string, Group<ACC>>;
    if (start === lastStart) inner = this.lastInner as Map<string, Group<ACC>>;
    else {
      inner = this.startingAt(start);
      this.lastStart = start;
      this.lastInner = inner;
    }
    const g = inner.get(key) ?? this.newGroup(inner, key, start, end);
    try {
      g.acc = this.agg.add(value, g.acc);
    } catch (e) {
      return batch.deadLetter(i, DeadLetterReason.AGGREGATE_THREW, e);
    }
    g.idxs.push(i);
    batch.status[i] = RecordStatus.IN_STATE;
  }

  /** Record `i` is late for its window (out of line: the hot path stays small enough to inline). */
  private late(i: number, key: string, start: number, end: number, w: number): void {
    this.batch.lateRecord(i, key, [{ start, end }], LateReason.WINDOW_CLOSED, w);
    this.batch.status[i] = RecordStatus.LATE;
  }
}

/** Sliding windows: up to ceil(size/slide) windows per record, each judged late on its own. */
export class SlidingBatchWindows<IN, ACC> extends AlignedWindows<IN, ACC> {
  private readonly assigner: SlidingWindows;
  private readonly size: number;
  /** The starts of the current record's windows (`SlidingWindows.windowStarts`). */
  private readonly starts: Float64Array;

  constructor(ctx: WindowsContext<IN, ACC>, assigner: SlidingWindows) {
    super(ctx);
    this.assigner = assigner;
    this.size = assigner.size;
    this.starts = new Float64Array(assigner.maxWindowsPerRecord);
    this.winCount = new Uint16Array(ctx.batch.n);
  }

  addAll(cursor: RecordCursor<IN>): void {
    for (let i = 0; i < this.batch.n; i++) {
      const key = cursor.next(i);
      if (key !== undefined) this.add(i, key, cursor.value as IN, cursor.time, cursor.watermark);
    }
  }

  add(i: number, key: string, value: IN, t: number, w: number): void {
    const batch = this.batch;
    const starts = this.starts;
    const count = this.assigner.windowStarts(t, starts);
    let lateWindows: TimeWindow[] | undefined;
    let added = 0;
    for (let j = 0; j < count; j++) {
      const start = starts[j] as number;
      const end = start + this.size;
      if (end - 1 + this.lateness < w) {
        (lateWindows ??= []).push({ start, end });
        continue;
      }
      const inner = this.byStart.get(start) ?? this.startingAt(start);
      const g = inner.get(key) ?? this.newGroup(inner, key, start, end);
      try {
        g.acc = this.agg.add(value, g.acc);
      } catch (e) {
        // add is deterministic: it throws for the record's first window or not at all.
        return batch.deadLetter(i, DeadLetterReason.AGGREGATE_THREW, e);
      }
      g.idxs.push(i);
      added++;
    }
    (this.winCount as Uint16Array)[i] = added;
    if (lateWindows !== undefined) this.late(i, key, lateWindows, added, w);
    batch.status[i] = added > 0 ? RecordStatus.IN_STATE : RecordStatus.LATE;
  }

  /** Record `i` is late for `windows` and in state for `added` others (out of line: cold). */
  private late(i: number, key: string, windows: TimeWindow[], added: number, w: number): void {
    this.batch.lateRecord(i, key, windows, LateReason.WINDOW_CLOSED, w);
    if (added > 0) this.batch.partiallyLate++;
  }
}
