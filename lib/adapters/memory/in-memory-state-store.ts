/**
 * In-memory {@link StateStore}: the reference adapter used by unit tests, the
 * test harness and benchmarks. It enforces exactly the conditions a DynamoDB
 * adapter enforces with condition expressions, and keeps the due and expiry
 * indexes as min-heaps with lazy deletion (the analogue of sparse GSIs).
 */
import { ConfigError, WeirError } from '../../errors.ts';
import { keptJudgedView, progressRegresses } from '../../model/progress.ts';
import type { OperatorProgress, ShardProgress } from '../../model/progress.ts';
import type {
  OutboxAck,
  ScannableStateStore,
  WindowItem,
  WindowRef,
  WindowScanPage,
  WindowScanRequest,
  WindowWrite,
} from '../../ports/state-store.ts';

/**
 * One (key, start, end) while an item exists for it, open or purged. Index
 * entries point at the slot, so checking one is a field read, not a lookup;
 * a deleted item's slot is emptied and a re-created item gets a new slot.
 */
interface Slot {
  /** The slot's identity: the bounds of the item that created it (they never change). */
  readonly ref: WindowRef;
  /** The stored item (open or a tombstone); `undefined` once deleted. */
  item: WindowItem | undefined;
  /** Query stamp: the last {@link InMemoryStateStore.drain} that returned this slot. */
  seen: number;
}

/**
 * Binary min-heap of (at, slot) with lazy deletion, in parallel arrays: the
 * keys in a Float64Array (no boxed number per entry), the slots beside them.
 */
class MinHeap {
  private ats = new Float64Array(1024);
  private slots: Slot[] = [];
  /** Entries found stale by a query, removed by the next {@link compact}. */
  private dead = new Uint8Array(1024);
  private n = 0;

  get size(): number {
    return this.n;
  }
  at(i: number): number {
    return this.ats[i] as number;
  }
  slot(i: number): Slot {
    return this.slots[i] as Slot;
  }
  markDead(i: number): void {
    this.dead[i] = 1;
  }
  /** Removes entries marked dead and restores the heap order (Floyd's heapify, O(n)). */
  compact(): void {
    const { ats, slots, dead } = this;
    let w = 0;
    for (let i = 0; i < this.n; i++) {
      if (dead[i] === 1) continue;
      ats[w] = ats[i] as number;
      slots[w] = slots[i] as Slot;
      w++;
    }
    dead.fill(0, 0, this.n);
    slots.length = w;
    this.n = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
  private siftDown(i: number): void {
    const { ats, slots } = this;
    const n = this.n;
    const at = ats[i] as number;
    const slot = slots[i] as Slot;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (ats[r] as number) < (ats[l] as number) ? r : l;
      const cat = ats[c] as number;
      if (cat >= at) break;
      ats[i] = cat;
      slots[i] = slots[c] as Slot;
      i = c;
    }
    ats[i] = at;
    slots[i] = slot;
  }
  push(at: number, slot: Slot): void {
    if (this.n === this.ats.length) {
      const ats = new Float64Array(this.n * 2);
      ats.set(this.ats);
      this.ats = ats;
      const dead = new Uint8Array(this.n * 2);
      dead.set(this.dead);
      this.dead = dead;
    }
    const { ats, slots } = this;
    let i = this.n++;
    slots.push(slot);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pat = ats[p] as number;
      if (pat <= at) break;
      ats[i] = pat;
      slots[i] = slots[p] as Slot;
      i = p;
    }
    ats[i] = at;
    slots[i] = slot;
  }
}

/**
 * Per key: slots of open items in a short array (a key has few open windows;
 * scanning numbers beats hashing non-Smi timestamps) and slots of tombstones
 * in an array sorted by (start, end), found by binary search.
 */
interface KeyEntry {
  readonly open: Slot[];
  tombs: Slot[] | undefined;
}
type Items = Map<string, KeyEntry>;

interface OperatorState {
  readonly items: Items;
  readonly due: MinHeap;
  readonly expiry: MinHeap;
  readonly progress: Map<string, ShardProgress>;
  /** Slots whose item has an unacknowledged outbox (the analogue of a sparse GSI), in insertion order. */
  readonly outbox: Set<Slot>;
  watermark: number | null;
}

/** Index of the tombstone [start, end) in `tombs` (sorted by start, end), or -(insertion point) - 1. */
function tombIndex(tombs: readonly Slot[], start: number, end: number): number {
  let lo = 0;
  let hi = tombs.length - 1;
  // Fast paths: tombstones are mostly appended in order and looked up past the last.
  if (hi < 0) return -1;
  const last = (tombs[hi] as Slot).ref;
  if (start > last.start || (start === last.start && end > last.end)) return -(hi + 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = (tombs[mid] as Slot).ref;
    const c = t.start - start || t.end - end;
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function insertTomb(e: KeyEntry, slot: Slot): void {
  const tombs = (e.tombs ??= []);
  const i = tombIndex(tombs, slot.ref.start, slot.ref.end);
  if (i >= 0) tombs[i] = slot;
  else if (-i - 1 === tombs.length) tombs.push(slot);
  else tombs.splice(-i - 1, 0, slot);
}

/** Removes `slot` from `list`, keeping the order (without splice's array of removed elements). */
function removeFrom(list: Slot[], slot: Slot): void {
  const i = list.indexOf(slot);
  if (i < 0) return;
  for (let j = i + 1; j < list.length; j++) list[j - 1] = list[j] as Slot;
  list.length--;
}

function findSlot(e: KeyEntry | undefined, start: number, end: number): Slot | undefined {
  if (e === undefined) return undefined;
  const open = e.open;
  for (let i = 0; i < open.length; i++) {
    const s = open[i] as Slot;
    const r = s.ref;
    if (r.start === start && r.end === end) return s;
  }
  const tombs = e.tombs;
  if (tombs === undefined) return undefined;
  const i = tombIndex(tombs, start, end);
  return i >= 0 ? tombs[i] : undefined;
}

function getItem(items: Items, key: string, start: number, end: number): WindowItem | undefined {
  return findSlot(items.get(key), start, end)?.item;
}

function* allOf(items: Items): Generator<WindowItem> {
  for (const e of items.values()) {
    for (const s of e.open) yield s.item as WindowItem;
    if (e.tombs !== undefined) for (const s of e.tombs) yield s.item as WindowItem;
  }
}

/**
 * The in-memory state store.
 * @example
 * const store = new InMemoryStateStore();
 * const op = createWindowOperator(definition, { store, clock: new ManualClock() });
 */
export class InMemoryStateStore implements ScannableStateStore {
  private readonly operators = new Map<string, OperatorState>();
  /** Stamp of the last index query (see {@link drain}). */
  private drains = 0;
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
        watermark: null,
      };
      this.operators.set(operator, s);
    }
    return s;
  }

  readProgress(operator: string): Promise<OperatorProgress> {
    const s = this.op(operator);
    return Promise.resolve({ watermark: s.watermark, shards: [...s.progress.values()] });
  }

  writeShardProgress(operator: string, progress: ShardProgress): Promise<boolean> {
    const s = this.op(operator);
    const old = s.progress.get(progress.shardId);
    if (old !== undefined && progressRegresses(old, progress)) return Promise.resolve(false);
    const { shardId, committed, watermark, lastActivity, closed } = progress;
    const judged = keptJudgedView(old?.judged, progress);
    s.progress.set(shardId, {
      shardId,
      committed,
      watermark,
      lastActivity,
      closed,
      ...(judged === undefined ? {} : { judged }),
    });
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
        for (const slot of e.open) list.push(slot.item as WindowItem);
        if (e.tombs !== undefined) for (const slot of e.tombs) list.push(slot.item as WindowItem);
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
    return Promise.resolve(out);
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
      const ref = w.kind === 'put' ? w.item : w.ref;
      const cur = getItem(s.items, ref.key, ref.start, ref.end);
      if (w.expectedRevision === null ? cur !== undefined : cur?.revision !== w.expectedRevision)
        return false;
    }
    return true;
  }

  private applyWrite(s: OperatorState, w: WindowWrite): void {
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
    heap: MinHeap,
    bound: number,
    inclusive: boolean,
    due: boolean,
    limit: number,
  ): WindowItem[] {
    const n = heap.size;
    if (n === 0 || limit <= 0) return [];
    const stamp = ++this.drains;
    let out: WindowItem[] = [];
    const ats: number[] = [];
    let stale = 0;
    const stack: number[] = [0];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const at = heap.at(i);
      if (inclusive ? at > bound : at >= bound) continue;
      const l = 2 * i + 1;
      if (l < n) stack.push(l);
      if (l + 1 < n) stack.push(l + 1);
      const slot = heap.slot(i);
      const item = slot.item;
      if (item === undefined || item.purged || (due && !item.pending) || slot.seen === stamp) {
        heap.markDead(i);
        stale++;
        continue;
      }
      slot.seen = stamp;
      out.push(item);
      ats.push(at);
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
    return Promise.resolve(this.drain(s.due, watermark, true, true, limit));
  }

  listExpired(operator: string, watermark: number, limit: number): Promise<readonly WindowItem[]> {
    const s = this.op(operator);
    return Promise.resolve(this.drain(s.expiry, watermark, false, false, limit));
  }

  listOutbox(operator: string, limit: number): Promise<readonly WindowItem[]> {
    const s = this.op(operator);
    const out: WindowItem[] = [];
    for (const slot of s.outbox) {
      if (out.length >= limit) break;
      const item = slot.item;
      if (item?.outbox) out.push(item);
    }
    return Promise.resolve(out);
  }

  ackOutbox(operator: string, acks: readonly OutboxAck[]): Promise<readonly boolean[]> {
    const s = this.op(operator);
    return Promise.resolve(
      acks.map((a) => {
        const slot = findSlot(s.items.get(a.key), a.start, a.end);
        const item = slot?.item;
        if (slot === undefined || item?.outbox?.version !== a.version) return false;
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
    try {
      return Promise.resolve(this.scanPage(operator, request));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new WeirError(String(e)));
    }
  }

  private scanPage(operator: string, request: WindowScanRequest): WindowScanPage {
    checkScanRequest(request);
    const { segment, totalSegments, limit } = request;
    const after = request.cursor === null ? undefined : parseScanCursor(request.cursor);
    const items = this.op(operator).items;
    const keys: string[] = [];
    for (const key of items.keys()) {
      if (scanSegmentOf(key, totalSegments) !== segment) continue;
      if (after === undefined || key >= after.key) keys.push(key);
    }
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const out: WindowItem[] = [];
    let more = false;
    for (const key of keys) {
      const e = items.get(key) as KeyEntry;
      const own = [...e.open, ...(e.tombs ?? [])]
        .map((s) => s.item as WindowItem)
        .filter(
          (it) =>
            after === undefined ||
            key > after.key ||
            it.start > after.start ||
            (it.start === after.start && it.end > after.end),
        )
        .sort((a, b) => a.start - b.start || a.end - b.end);
      for (const it of own) {
        if (out.length === limit) {
          more = true;
          break;
        }
        out.push(it);
      }
      if (more) break;
    }
    const last = out.at(-1);
    return {
      items: out,
      cursor: more && last !== undefined ? JSON.stringify([last.key, last.start, last.end]) : null,
    };
  }
}

/** The scan segment of a key: FNV-1a (32 bit) of its UTF-16 code units modulo `totalSegments`. */
function scanSegmentOf(key: string, totalSegments: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % totalSegments;
}

function checkScanRequest(r: WindowScanRequest): void {
  if (!Number.isInteger(r.totalSegments) || r.totalSegments < 1 || r.totalSegments > 1_000_000)
    throw new ConfigError('totalSegments', r.totalSegments, 'must be an integer 1..1000000');
  if (!Number.isInteger(r.segment) || r.segment < 0 || r.segment >= r.totalSegments)
    throw new ConfigError('segment', r.segment, `must be an integer 0..${r.totalSegments - 1}`);
  if (!Number.isInteger(r.limit) || r.limit < 1)
    throw new ConfigError('limit', r.limit, 'must be a positive integer');
}

function parseScanCursor(cursor: string): { key: string; start: number; end: number } {
  let v: unknown;
  try {
    v = JSON.parse(cursor);
  } catch {
    v = undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    typeof v[0] !== 'string' ||
    typeof v[1] !== 'number' ||
    typeof v[2] !== 'number'
  )
    throw new ConfigError('cursor', cursor, 'must be a cursor returned by scanWindows');
  return { key: v[0], start: v[1], end: v[2] };
}
