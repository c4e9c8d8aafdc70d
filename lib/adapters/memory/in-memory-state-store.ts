/**
 * In-memory {@link StateStore}: the reference adapter used by unit tests, the
 * test harness and benchmarks. It enforces exactly the conditions a DynamoDB
 * adapter enforces with condition expressions, and keeps the due and expiry
 * indexes as min-heaps with lazy deletion (the analogue of sparse GSIs).
 */
import { WeirError } from '../../errors.ts';
import type {
  OutboxAck,
  OperatorProgress,
  ShardProgress,
  StateStore,
  WindowItem,
  WindowRef,
  WindowWrite,
} from '../../ports/state-store.ts';

interface HeapEntry {
  readonly at: number;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly revision: number;
  /** Found stale by a query: removed by the next {@link MinHeap.compact}. */
  dead: boolean;
}

/** Binary min-heap on `at`. */
class MinHeap {
  private a: HeapEntry[] = [];
  get size(): number {
    return this.a.length;
  }
  /** The heap array (a parent's `at` is never above its children's). */
  get entries(): readonly HeapEntry[] {
    return this.a;
  }
  /** Removes entries marked dead and restores the heap order (Floyd's heapify, O(n)). */
  compact(): void {
    const a = this.a.filter((e) => !e.dead);
    this.a = a;
    for (let i = (a.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
  private siftDown(i: number): void {
    const a = this.a;
    const n = a.length;
    const e = a[i] as HeapEntry;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (a[r] as HeapEntry).at < (a[l] as HeapEntry).at ? r : l;
      const ce = a[c] as HeapEntry;
      if (ce.at >= e.at) break;
      a[i] = ce;
      i = c;
    }
    a[i] = e;
  }
  peek(): HeapEntry | undefined {
    return this.a[0];
  }
  push(e: HeapEntry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = a[p] as HeapEntry;
      if (pe.at <= e.at) break;
      a[i] = pe;
      i = p;
    }
    a[i] = e;
  }
  pop(): HeapEntry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (a[r] as HeapEntry).at < (a[l] as HeapEntry).at ? r : l;
      const ce = a[c] as HeapEntry;
      if (ce.at >= last.at) break;
      a[i] = ce;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Per key: open items in a short array (a key has few open windows; scanning
 * numbers beats hashing non-Smi timestamps) and tombstones in an array
 * sorted by (start, end), found by binary search (no `start/end` strings to
 * build and hash on every lookup).
 */
interface KeyEntry {
  readonly open: WindowItem[];
  tombs: WindowItem[] | undefined;
}
type Items = Map<string, KeyEntry>;

interface OperatorState {
  readonly items: Items;
  readonly due: MinHeap;
  readonly expiry: MinHeap;
  readonly progress: Map<string, ShardProgress>;
  /**
   * Items with an unacknowledged outbox (the analogue of a sparse GSI), in
   * insertion order; `outboxByKey` finds a key's entries without building a
   * `start/end/key` string per lookup.
   */
  readonly outbox: Set<WindowRef>;
  readonly outboxByKey: Map<string, WindowRef[]>;
  watermark: number | null;
}

function outboxRemove(s: OperatorState, key: string, start: number, end: number): void {
  const refs = s.outboxByKey.get(key);
  if (refs === undefined) return;
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i] as WindowRef;
    if (r.start === start && r.end === end) {
      s.outbox.delete(r);
      if (refs.length === 1) s.outboxByKey.delete(key);
      else refs.splice(i, 1);
      return;
    }
  }
}

function trackOutbox(s: OperatorState, item: WindowItem): void {
  const { key, start, end } = item;
  if (item.outbox === null) {
    outboxRemove(s, key, start, end);
    return;
  }
  let refs = s.outboxByKey.get(key);
  if (refs === undefined) s.outboxByKey.set(key, (refs = []));
  for (const r of refs) if (r.start === start && r.end === end) return;
  const ref: WindowRef = { key, start, end };
  refs.push(ref);
  s.outbox.add(ref);
}

/**
 * Keeps the outbox index in step with a put of `item` over `prev`. Membership
 * depends only on whether the outbox is set, so a put that keeps it set (or
 * unset) leaves the index, and its order, as it was.
 */
function trackOutboxChange(s: OperatorState, item: WindowItem, prev: WindowItem | undefined): void {
  const had = prev !== undefined && prev.outbox !== null;
  if ((item.outbox !== null) !== had) trackOutbox(s, item);
}

/** Index of the tombstone [start, end) in `tombs` (sorted by start, end), or -(insertion point) - 1. */
function tombIndex(tombs: readonly WindowItem[], start: number, end: number): number {
  let lo = 0;
  let hi = tombs.length - 1;
  // Fast paths: tombstones are mostly appended in order and looked up past the last.
  if (hi < 0) return -1;
  const last = tombs[hi] as WindowItem;
  if (start > last.start || (start === last.start && end > last.end)) return -(hi + 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = tombs[mid] as WindowItem;
    const c = t.start - start || t.end - end;
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function getTomb(e: KeyEntry, start: number, end: number): WindowItem | undefined {
  const tombs = e.tombs;
  if (tombs === undefined) return undefined;
  const i = tombIndex(tombs, start, end);
  return i >= 0 ? tombs[i] : undefined;
}

function setTomb(e: KeyEntry, item: WindowItem): void {
  const tombs = (e.tombs ??= []);
  const i = tombIndex(tombs, item.start, item.end);
  if (i >= 0) tombs[i] = item;
  else if (-i - 1 === tombs.length) tombs.push(item);
  else tombs.splice(-i - 1, 0, item);
}

function deleteTomb(e: KeyEntry, start: number, end: number): void {
  const tombs = e.tombs;
  if (tombs === undefined) return;
  const i = tombIndex(tombs, start, end);
  if (i >= 0) tombs.splice(i, 1);
}

/** Simulated crash of the store, for failure-injection tests. */
export class InjectedCrashError extends WeirError {}

function indexIn(open: readonly WindowItem[], start: number, end: number): number {
  for (let i = 0; i < open.length; i++) {
    const it = open[i] as WindowItem;
    if (it.start === start && it.end === end) return i;
  }
  return -1;
}

function getItem(items: Items, key: string, start: number, end: number): WindowItem | undefined {
  const e = items.get(key);
  if (e === undefined) return undefined;
  const i = indexIn(e.open, start, end);
  if (i >= 0) return e.open[i];
  return getTomb(e, start, end);
}

function setItem(items: Items, item: WindowItem): void {
  let e = items.get(item.key);
  if (e === undefined) items.set(item.key, (e = { open: [], tombs: undefined }));
  const i = indexIn(e.open, item.start, item.end);
  if (item.purged) {
    if (i >= 0) e.open.splice(i, 1);
    setTomb(e, item);
    return;
  }
  if (i >= 0) e.open[i] = item;
  else {
    e.open.push(item);
    deleteTomb(e, item.start, item.end);
  }
}

function deleteItem(items: Items, key: string, start: number, end: number): void {
  const e = items.get(key);
  if (e === undefined) return;
  const i = indexIn(e.open, start, end);
  if (i >= 0) e.open.splice(i, 1);
  else deleteTomb(e, start, end);
  if (e.open.length === 0 && (e.tombs === undefined || e.tombs.length === 0)) items.delete(key);
}

function* allOf(items: Items): Generator<WindowItem> {
  for (const e of items.values()) {
    yield* e.open;
    if (e.tombs !== undefined) yield* e.tombs;
  }
}

/**
 * The in-memory state store.
 * @example
 * const store = new InMemoryStateStore();
 * const op = createWindowOperator(definition, { store, clock: new ManualClock() });
 */
export class InMemoryStateStore implements StateStore {
  private readonly operators = new Map<string, OperatorState>();
  private crashAfterGroups: number | undefined;
  private crashOnProgress = false;
  /** Number of `write` calls and groups applied, for tests and benchmarks. */
  readonly stats = { writeCalls: 0, groupsApplied: 0, conflicts: 0 };

  private op(operator: string): OperatorState {
    let s = this.operators.get(operator);
    if (s === undefined) {
      s = {
        items: new Map(),
        due: new MinHeap(),
        expiry: new MinHeap(),
        progress: new Map(),
        outbox: new Set(),
        outboxByKey: new Map(),
        watermark: null,
      };
      this.operators.set(operator, s);
    }
    return s;
  }

  /**
   * The next `write` call that updates window content (a put with `pending`
   * set, as opposed to a firing or a purge) applies `groups` groups, then
   * throws {@link InjectedCrashError}.
   */
  crashDuringNextStateUpdate(groups: number): void {
    this.crashAfterGroups = groups;
  }

  /** Cancels an injected crash that has not happened yet. */
  disarm(): void {
    this.crashAfterGroups = undefined;
    this.crashOnProgress = false;
  }

  /** The next `writeShardProgress` throws {@link InjectedCrashError} without writing. */
  crashOnNextProgressWrite(): void {
    this.crashOnProgress = true;
  }

  readProgress(operator: string): Promise<OperatorProgress> {
    const s = this.op(operator);
    return Promise.resolve({ watermark: s.watermark, shards: [...s.progress.values()] });
  }

  writeShardProgress(operator: string, progress: ShardProgress): Promise<boolean> {
    if (this.crashOnProgress) {
      this.crashOnProgress = false;
      return Promise.reject(new InjectedCrashError('injected crash before the progress write'));
    }
    const s = this.op(operator);
    const old = s.progress.get(progress.shardId);
    if (old !== undefined) {
      if (
        old.committed !== null &&
        (progress.committed === null || progress.committed < old.committed)
      )
        return Promise.resolve(false);
      if (
        old.watermark !== null &&
        (progress.watermark === null || progress.watermark < old.watermark)
      )
        return Promise.resolve(false);
    }
    s.progress.set(progress.shardId, { ...progress });
    return Promise.resolve(true);
  }

  advanceWatermark(operator: string, watermark: number): Promise<number> {
    const s = this.op(operator);
    if (s.watermark === null || watermark > s.watermark) s.watermark = watermark;
    return Promise.resolve(s.watermark);
  }

  getWindows(
    operator: string,
    refs: readonly WindowRef[],
  ): Promise<readonly (WindowItem | undefined)[]> {
    const items = this.op(operator).items;
    return Promise.resolve(refs.map((r) => getItem(items, r.key, r.start, r.end)));
  }

  listKeyWindows(
    operator: string,
    keys: readonly string[],
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    const s = this.op(operator);
    const out = new Map<string, WindowItem[]>();
    for (const key of keys) {
      const list: WindowItem[] = [];
      const e = s.items.get(key);
      if (e !== undefined) {
        list.push(...e.open);
        if (e.tombs !== undefined) list.push(...e.tombs);
      }
      out.set(key, list);
    }
    return Promise.resolve(out);
  }

  write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
  ): Promise<readonly boolean[]> {
    const s = this.op(operator);
    this.stats.writeCalls++;
    const out: boolean[] = [];
    let crashAfter: number | undefined;
    if (
      this.crashAfterGroups !== undefined &&
      groups.some((g) => g.some((w) => w.kind === 'put' && w.item.pending))
    ) {
      crashAfter = this.crashAfterGroups;
      this.crashAfterGroups = undefined;
    }
    for (const group of groups) {
      if (crashAfter !== undefined && crashAfter-- <= 0) {
        return Promise.reject(
          new InjectedCrashError('injected crash in the middle of a state write'),
        );
      }
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
    return Promise.resolve(out);
  }

  /** A single conditional put with one lookup (the common case). */
  private putOne(s: OperatorState, w: Extract<WindowWrite, { kind: 'put' }>): boolean {
    const item = w.item;
    const e = s.items.get(item.key);
    const i = e === undefined ? -1 : indexIn(e.open, item.start, item.end);
    const cur =
      i >= 0
        ? (e as KeyEntry).open[i]
        : e === undefined
          ? undefined
          : getTomb(e, item.start, item.end);
    if (w.expectedRevision === null ? cur !== undefined : cur?.revision !== w.expectedRevision) {
      return false;
    }
    if (i >= 0 && !item.purged) (e as KeyEntry).open[i] = item;
    else setItem(s.items, item);
    this.indexWrite(s, item, cur);
    trackOutboxChange(s, item, cur);
    return true;
  }

  private indexWrite(s: OperatorState, item: WindowItem, prev: WindowItem | undefined): void {
    if (item.purged) return;
    const { key, start, end, revision } = item;
    // One due entry per pending spell: pushed when the item becomes pending.
    if (item.pending && (prev === undefined || !prev.pending || prev.purged)) {
      s.due.push({ at: end - 1, key, start, end, revision, dead: false });
    }
    // cleanupAt is fixed by the bounds, which are the identity: one expiry entry per open item.
    if (prev === undefined || prev.purged) {
      s.expiry.push({ at: item.cleanupAt, key, start, end, revision, dead: false });
    }
  }

  private conditionsHold(s: OperatorState, group: readonly WindowWrite[]): boolean {
    for (const w of group) {
      const ref = w.kind === 'put' ? w.item : w.ref;
      const cur = getItem(s.items, ref.key, ref.start, ref.end);
      if (w.expectedRevision === null ? cur !== undefined : cur?.revision !== w.expectedRevision)
        return false;
    }
    return true;
  }

  private applyWrite(s: OperatorState, w: WindowWrite): void {
    if (w.kind === 'delete') {
      deleteItem(s.items, w.ref.key, w.ref.start, w.ref.end);
      outboxRemove(s, w.ref.key, w.ref.start, w.ref.end);
      return;
    }
    const item = w.item;
    const prev = getItem(s.items, item.key, item.start, item.end);
    setItem(s.items, item);
    this.indexWrite(s, item, prev);
    trackOutboxChange(s, item, prev);
  }

  /**
   * The valid items of index entries with `at <= bound` (`at < bound` unless
   * `inclusive`), at most `limit` (those with the lowest `at` when more
   * qualify; otherwise in no particular order). A query does not
   * consume the index (the caller may crash before acting): the heap is
   * walked in place, only from the root down to entries within the bound;
   * stale entries (and duplicates from an earlier pending spell) found on the
   * way are removed.
   */
  private drain(
    s: OperatorState,
    heap: MinHeap,
    bound: number,
    inclusive: boolean,
    due: boolean,
    limit: number,
  ): WindowItem[] {
    const a = heap.entries;
    const n = a.length;
    if (n === 0 || limit <= 0) return [];
    let out: WindowItem[] = [];
    const ats: number[] = [];
    const seen = new Set<WindowItem>();
    let stale = 0;
    const stack: number[] = [0];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const e = a[i] as HeapEntry;
      if (inclusive ? e.at > bound : e.at >= bound) continue;
      const l = 2 * i + 1;
      if (l < n) stack.push(l);
      if (l + 1 < n) stack.push(l + 1);
      const item = getItem(s.items, e.key, e.start, e.end);
      if (item === undefined || item.purged || (due && !item.pending) || seen.has(item)) {
        e.dead = true;
        stale++;
        continue;
      }
      seen.add(item);
      out.push(item);
      ats.push(e.at);
    }
    if (stale > 0) heap.compact();
    if (out.length > limit) {
      const order = out.map((_, j) => j);
      order.sort((x, y) => (ats[x] as number) - (ats[y] as number) || x - y);
      const sorted = order.map((j) => out[j] as WindowItem);
      out = sorted.slice(0, limit);
    }
    return out;
  }

  listDue(operator: string, watermark: number, limit: number): Promise<readonly WindowItem[]> {
    const s = this.op(operator);
    return Promise.resolve(this.drain(s, s.due, watermark, true, true, limit));
  }

  listExpired(operator: string, watermark: number, limit: number): Promise<readonly WindowItem[]> {
    const s = this.op(operator);
    return Promise.resolve(this.drain(s, s.expiry, watermark, false, false, limit));
  }

  listOutbox(operator: string, limit: number): Promise<readonly WindowItem[]> {
    const s = this.op(operator);
    const out: WindowItem[] = [];
    for (const ref of s.outbox.values()) {
      if (out.length >= limit) break;
      const item = getItem(s.items, ref.key, ref.start, ref.end);
      if (item?.outbox) out.push(item);
    }
    return Promise.resolve(out);
  }

  ackOutbox(operator: string, acks: readonly OutboxAck[]): Promise<readonly boolean[]> {
    const s = this.op(operator);
    return Promise.resolve(
      acks.map((a) => {
        const item = getItem(s.items, a.key, a.start, a.end);
        if (item?.outbox?.version !== a.version) return false;
        const next: WindowItem = { ...item, outbox: null, revision: item.revision + 1 };
        setItem(s.items, next);
        // The due/expiry heaps hold revisions only as hints; validity is re-checked on read.
        trackOutbox(s, next);
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
}
