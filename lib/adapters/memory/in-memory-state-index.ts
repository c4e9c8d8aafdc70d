/**
 * The in-memory state store's item index: slots per (key, window), open
 * items and tombstones per key, and the min-heaps of the due and expiry
 * indexes (the analogue of DynamoDB's sparse GSIs).
 */
import type { WindowItem, WindowRef } from '../../ports/state-store.ts';

/**
 * One (key, start, end) while an item exists for it, open or purged. Index
 * entries point at the slot, so checking one is a field read, not a lookup;
 * a deleted item's slot is emptied and a re-created item gets a new slot.
 */
export interface Slot {
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
export class MinHeap {
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
export interface KeyEntry {
  readonly open: Slot[];
  tombs: Slot[] | undefined;
}
export type Items = Map<string, KeyEntry>;

/** Index of the tombstone [start, end) in `tombs` (sorted by start, end), or -(insertion point) - 1. */
export function tombIndex(tombs: readonly Slot[], start: number, end: number): number {
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

export function insertTomb(e: KeyEntry, slot: Slot): void {
  const tombs = (e.tombs ??= []);
  const i = tombIndex(tombs, slot.ref.start, slot.ref.end);
  if (i >= 0) tombs[i] = slot;
  else if (-i - 1 === tombs.length) tombs.push(slot);
  else tombs.splice(-i - 1, 0, slot);
}

/** Removes `slot` from `list`, keeping the order (without splice's array of removed elements). */
export function removeFrom(list: Slot[], slot: Slot): void {
  const i = list.indexOf(slot);
  if (i < 0) return;
  for (let j = i + 1; j < list.length; j++) list[j - 1] = list[j] as Slot;
  list.length--;
}

export function findSlot(e: KeyEntry | undefined, start: number, end: number): Slot | undefined {
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

export function getItem(
  items: Items,
  key: string,
  start: number,
  end: number,
): WindowItem | undefined {
  return findSlot(items.get(key), start, end)?.item;
}

export function* allOf(items: Items): Generator<WindowItem> {
  for (const e of items.values()) {
    for (const s of e.open) yield s.item as WindowItem;
    if (e.tombs !== undefined) for (const s of e.tombs) yield s.item as WindowItem;
  }
}

/**
 * The valid items of index entries with `at <= bound` (`at < bound` unless
 * `inclusive`), at most `limit` (those with the lowest `at` when more
 * qualify; otherwise in no particular order). A query does not
 * consume the index (the caller may crash before acting): the heap is
 * walked in place, only from the root down to entries within the bound;
 * stale entries (and duplicates from an earlier pending spell) found on the
 * way are removed. `stamp` is new for each query (a slot already returned
 * by this query is a duplicate entry).
 */
export function drainHeap(
  heap: MinHeap,
  stamp: number,
  bound: number,
  inclusive: boolean,
  due: boolean,
  limit: number,
): WindowItem[] {
  const n = heap.size;
  if (n === 0 || limit <= 0) return [];
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
