/**
 * In-memory {@link StateStore}: the reference adapter used by unit tests, the
 * test harness and benchmarks. It enforces exactly the conditions a DynamoDB
 * adapter enforces with condition expressions, and keeps the due and expiry
 * indexes as min-heaps with lazy deletion (the analogue of sparse GSIs).
 */
import { FencedError, WeirError } from '../../errors.ts';
import { keptJudgedView, progressRegresses } from '../../model/progress.ts';
import { keptFailingRanges, keptReplayedSpans } from '../../model/shard-ranges.ts';
import type { OperatorProgress, ShardProgress } from '../../model/progress.ts';
import type {
  OutboxAck,
  RestorableStateStore,
  ScannableStateStore,
  StoredProgress,
  WindowItem,
  WindowRef,
  WindowScanPage,
  WindowScanRequest,
  WindowWrite,
} from '../../ports/state-store.ts';
import {
  MinHeap,
  drainHeap,
  allOf,
  findSlot,
  getItem,
  insertTomb,
  removeFrom,
  type Items,
  type KeyEntry,
  type Slot,
} from './in-memory-state-index.ts';
import { scanPage } from './in-memory-state-scan.ts';

interface OperatorState {
  /** The restore generation: every call made under another one is fenced. */
  generation: number;
  readonly items: Items;
  readonly due: MinHeap;
  readonly expiry: MinHeap;
  readonly progress: Map<string, ShardProgress>;
  /** Slots whose item has an unacknowledged outbox (the analogue of a sparse GSI), in insertion order. */
  readonly outbox: Set<Slot>;
  /** Sessions: each key's head version (absent: 0). */
  readonly heads: Map<string, number>;
  watermark: number | null;
}

/**
 * The in-memory state store.
 * @example
 * const store = new InMemoryStateStore();
 * const op = createWindowOperator(definition, { store, clock: new ManualClock() });
 */
export class InMemoryStateStore implements ScannableStateStore, RestorableStateStore {
  private readonly operators = new Map<string, OperatorState>();
  /** Stamp of the last index query (see `drainHeap`). */
  private drains = 0;
  /** Number of `write` calls and groups applied, for tests and benchmarks. */
  readonly stats = { writeCalls: 0, groupsApplied: 0, conflicts: 0 };

  private op(operator: string): OperatorState {
    let s = this.operators.get(operator);
    if (s === undefined) {
      s = emptyState(0);
      this.operators.set(operator, s);
    }
    return s;
  }

  /**
   * Runs `fn` on the operator's state if `generation` is the stored one;
   * otherwise a rejected {@link FencedError} (this store applies nothing of
   * a fenced call, which is stricter than the port asks).
   */
  private fenced<T>(operator: string, generation: number, fn: (s: OperatorState) => T): Promise<T> {
    const s = this.op(operator);
    if (generation !== s.generation)
      return Promise.reject(new FencedError(operator, generation, s.generation));
    try {
      return Promise.resolve(fn(s));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new WeirError(String(e)));
    }
  }

  readProgress(operator: string): Promise<StoredProgress> {
    const s = this.op(operator);
    return Promise.resolve({
      watermark: s.watermark,
      shards: [...s.progress.values()],
      generation: s.generation,
    });
  }

  raiseGeneration(operator: string): Promise<number> {
    const s = this.op(operator);
    s.generation++;
    return Promise.resolve(s.generation);
  }

  clearState(operator: string, generation: number): Promise<number> {
    return this.fenced(operator, generation, (s) => {
      const n = s.progress.size + [...allOf(s.items)].length;
      this.operators.set(operator, emptyState(s.generation));
      return n;
    });
  }

  loadWindows(operator: string, items: readonly WindowItem[], generation: number): Promise<void> {
    return this.fenced(operator, generation, (s) => {
      for (const item of items) {
        const e = s.items.get(item.key);
        this.put(s, e, findSlot(e, item.start, item.end), item);
      }
    });
  }

  resetProgress(operator: string, progress: OperatorProgress, generation: number): Promise<void> {
    return this.fenced(operator, generation, (s) => {
      s.progress.clear();
      for (const { settles: _never, ...p } of progress.shards) s.progress.set(p.shardId, p);
      s.watermark = progress.watermark;
    });
  }

  /** Forgets every operator's state and generation (tests: a lost state table). */
  wipe(): void {
    this.operators.clear();
  }

  writeShardProgress(
    operator: string,
    progress: ShardProgress,
    generation: number,
  ): Promise<boolean> {
    return this.fenced(operator, generation, (s) => this.putProgress(s, progress));
  }

  private putProgress(s: OperatorState, progress: ShardProgress): boolean {
    const old = s.progress.get(progress.shardId);
    if (old !== undefined && progressRegresses(old, progress)) return false;
    const { shardId, committed, watermark, lastActivity, closed } = progress;
    const judged = keptJudgedView(old?.judged, progress);
    const failing = keptFailingRanges(old?.failing, progress.failing, progress.settles);
    const replayed = keptReplayedSpans(old?.replayed, progress.replayed);
    s.progress.set(shardId, {
      shardId,
      committed,
      watermark,
      lastActivity,
      closed,
      ...(judged === undefined ? {} : { judged }),
      ...(failing === undefined ? {} : { failing }),
      ...(replayed === undefined ? {} : { replayed }),
    });
    return true;
  }

  advanceWatermark(operator: string, watermark: number, generation: number): Promise<number> {
    return this.fenced(operator, generation, (s) => {
      if (s.watermark === null || watermark > s.watermark) s.watermark = watermark;
      return s.watermark;
    });
  }

  getWindows(
    operator: string,
    refs: readonly WindowRef[],
    generation: number,
  ): Promise<readonly (WindowItem | undefined)[]> {
    return this.fenced(operator, generation, (s) =>
      refs.map((r) => getItem(s.items, r.key, r.start, r.end)),
    );
  }

  readSessionHeads(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<readonly number[]> {
    return this.fenced(operator, generation, (s) => keys.map((k) => s.heads.get(k) ?? 0));
  }

  listKeyWindows(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    return this.fenced(operator, generation, (s) => this.keyWindows(s, keys));
  }

  private keyWindows(s: OperatorState, keys: readonly string[]): Map<string, WindowItem[]> {
    const out = new Map<string, WindowItem[]>();
    for (const key of keys) {
      const list: WindowItem[] = [];
      const e = s.items.get(key);
      if (e !== undefined) {
        for (const slot of e.open) list.push(slot.item as WindowItem);
        if (e.tombs !== undefined) for (const slot of e.tombs) list.push(slot.item as WindowItem);
      }
      out.set(key, list);
    }
    return out;
  }

  write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]> {
    return this.fenced(operator, generation, (s) => this.writeGroups(s, groups));
  }

  private writeGroups(s: OperatorState, groups: readonly (readonly WindowWrite[])[]): boolean[] {
    this.stats.writeCalls++;
    const out: boolean[] = [];
    for (const group of groups) {
      if (group.length === 1 && group[0]?.kind === 'put') {
        if (this.putOne(s, group[0])) {
          this.stats.groupsApplied++;
          out.push(true);
        } else {
          this.stats.conflicts++;
          out.push(false);
        }
        continue;
      }
      if (!this.conditionsHold(s, group)) {
        this.stats.conflicts++;
        out.push(false);
        continue;
      }
      for (const w of group) this.applyWrite(s, w);
      this.stats.groupsApplied++;
      out.push(true);
    }
    return out;
  }

  /** A single conditional put with one lookup (the common case). */
  private putOne(s: OperatorState, w: Extract<WindowWrite, { kind: 'put' }>): boolean {
    const item = w.item;
    const e = s.items.get(item.key);
    const slot = findSlot(e, item.start, item.end);
    const cur = slot?.item;
    if (w.expectedRevision === null ? cur !== undefined : cur?.revision !== w.expectedRevision) {
      return false;
    }
    this.put(s, e, slot, item);
    return true;
  }

  /** Stores `item` in its slot (creating one if needed) and keeps the indexes in step. */
  private put(
    s: OperatorState,
    e: KeyEntry | undefined,
    slot: Slot | undefined,
    item: WindowItem,
  ): void {
    const prev = slot?.item;
    if (e === undefined) s.items.set(item.key, (e = { open: [], tombs: undefined }));
    if (slot === undefined) {
      slot = { ref: { key: item.key, start: item.start, end: item.end }, item, seen: 0 };
      if (item.purged) insertTomb(e, slot);
      else e.open.push(slot);
    } else {
      slot.item = item;
      const wasPurged = prev !== undefined && prev.purged;
      if (item.purged && !wasPurged) {
        removeFrom(e.open, slot);
        insertTomb(e, slot);
      } else if (!item.purged && wasPurged) {
        removeFrom(e.tombs as Slot[], slot);
        e.open.push(slot);
      }
    }
    // Outbox membership depends only on whether the outbox is set, so a put
    // that keeps it set leaves the entry, and its place in the order, as it was.
    if (item.outbox !== null) s.outbox.add(slot);
    else s.outbox.delete(slot);
    if (item.purged) return;
    // One due entry per pending spell: pushed when the item becomes pending.
    if (item.pending && (prev === undefined || !prev.pending || prev.purged)) {
      s.due.push(item.end - 1, slot);
    }
    // cleanupAt is fixed by the bounds, which are the identity: one expiry entry per open spell.
    if (prev === undefined || prev.purged) {
      s.expiry.push(item.cleanupAt, slot);
    }
  }

  private conditionsHold(s: OperatorState, group: readonly WindowWrite[]): boolean {
    for (const w of group) {
      if (w.kind === 'head') {
        if ((s.heads.get(w.key) ?? 0) !== w.expectedVersion) return false;
        continue;
      }
      const ref = w.kind === 'put' ? w.item : w.ref;
      const cur = getItem(s.items, ref.key, ref.start, ref.end);
      if (w.expectedRevision === null ? cur !== undefined : cur?.revision !== w.expectedRevision)
        return false;
    }
    return true;
  }

  private applyWrite(s: OperatorState, w: WindowWrite): void {
    if (w.kind === 'head') {
      s.heads.set(w.key, w.expectedVersion + 1);
      return;
    }
    if (w.kind === 'put') {
      const e = s.items.get(w.item.key);
      this.put(s, e, findSlot(e, w.item.start, w.item.end), w.item);
      return;
    }
    const { key, start, end } = w.ref;
    const e = s.items.get(key);
    const slot = findSlot(e, start, end);
    if (e === undefined || slot === undefined) return;
    if (slot.item?.purged === true) removeFrom(e.tombs as Slot[], slot);
    else removeFrom(e.open, slot);
    slot.item = undefined;
    s.outbox.delete(slot);
    if (e.open.length === 0 && (e.tombs === undefined || e.tombs.length === 0)) s.items.delete(key);
  }

  listDue(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    return this.fenced(operator, generation, (s) =>
      drainHeap(s.due, ++this.drains, watermark, true, true, limit),
    );
  }

  listExpired(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]> {
    return this.fenced(operator, generation, (s) =>
      drainHeap(s.expiry, ++this.drains, watermark, false, false, limit),
    );
  }

  listOutbox(operator: string, limit: number, generation: number): Promise<readonly WindowItem[]> {
    return this.fenced(operator, generation, (s) => {
      const out: WindowItem[] = [];
      for (const slot of s.outbox) {
        if (out.length >= limit) break;
        const item = slot.item;
        if (item?.outbox) out.push(item);
      }
      return out;
    });
  }

  ackOutbox(
    operator: string,
    acks: readonly OutboxAck[],
    generation: number,
  ): Promise<readonly boolean[]> {
    return this.fenced(operator, generation, (s) =>
      acks.map((a) => {
        const slot = findSlot(s.items.get(a.key), a.start, a.end);
        const item = slot?.item;
        const o = item?.outbox;
        if (slot === undefined || item === undefined || o === null || o === undefined) return false;
        if (o.version !== a.version || o.generation !== a.generation) return false;
        // The due/expiry heaps point at the slot; validity is re-checked on read.
        slot.item = { ...item, outbox: null, revision: item.revision + 1 };
        s.outbox.delete(slot);
        return true;
      }),
    );
  }

  /** Number of open (not purged) window items of an operator. */
  openWindowCount(operator: string): number {
    let n = 0;
    for (const item of allOf(this.op(operator).items)) if (!item.purged) n++;
    return n;
  }

  /** Every item of an operator (tests and checkpoints). */
  allItems(operator: string): WindowItem[] {
    return [...allOf(this.op(operator).items)];
  }

  /**
   * A deterministic split: a key belongs to segment FNV-1a(key) mod
   * `totalSegments`; within a segment items come in (key, start, end) order,
   * and the cursor is the last item returned, so a page resumes after it
   * whatever was written in between (as DynamoDB's ExclusiveStartKey does).
   */
  scanWindows(operator: string, request: WindowScanRequest): Promise<WindowScanPage> {
    const g = request.generation;
    const stored = this.op(operator).generation;
    if (g !== undefined && g !== stored)
      return Promise.reject(new FencedError(operator, g, stored));
    try {
      return Promise.resolve(scanPage(this.op(operator).items, request));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new WeirError(String(e)));
    }
  }
}

function emptyState(generation: number): OperatorState {
  return {
    generation,
    items: new Map(),
    due: new MinHeap(),
    expiry: new MinHeap(),
    progress: new Map(),
    outbox: new Set(),
    heads: new Map(),
    watermark: null,
  };
}
