/**
 * The StateStore port as one operator sees it: every store call the core
 * makes goes through here, with the operator's name and the restore
 * generation bound. A batch or tick reads its progress, then works through
 * {@link OperatorStore.at} the generation it read, so every read and write
 * of the attempt is fenced by it (docs/recovery.md, "Restore generation and
 * fencing"): after a restore raised the generation, the attempt's calls fail
 * with `FencedError` and nothing of it lands in the restored state.
 */
import type { ShardProgress } from '../model/progress.ts';
import type {
  OutboxAck,
  StateStore,
  StoredProgress,
  WindowItem,
  WindowRef,
  WindowWrite,
} from '../ports/state-store.ts';

/** One operator's view of a {@link StateStore}, under one restore generation. */
export class OperatorStore {
  /** The operator whose state this is. */
  readonly operator: string;
  /** The restore generation every call is made under (the one the attempt read). */
  readonly generation: number;
  private readonly store: StateStore;

  constructor(store: StateStore, operator: string, generation = 0) {
    this.store = store;
    this.operator = operator;
    this.generation = generation;
  }

  /** The same store under `generation` (the one a progress read returned). */
  at(generation: number): OperatorStore {
    return generation === this.generation
      ? this
      : new OperatorStore(this.store, this.operator, generation);
  }

  /** Every shard's progress, the published operator watermark and the restore generation. */
  readProgress(): Promise<StoredProgress> {
    return this.store.readProgress(this.operator);
  }

  /** A shard's progress; `false` when it would move backwards (nothing written). */
  writeShardProgress(progress: ShardProgress): Promise<boolean> {
    return this.store.writeShardProgress(this.operator, progress, this.generation);
  }

  /** Raises the operator watermark to at least `watermark`; returns the stored value. */
  advanceWatermark(watermark: number): Promise<number> {
    return this.store.advanceWatermark(this.operator, watermark, this.generation);
  }

  /** Window items (tombstones included), in the order of `refs`. */
  getWindows(refs: readonly WindowRef[]): Promise<readonly (WindowItem | undefined)[]> {
    return this.store.getWindows(this.operator, refs, this.generation);
  }

  /** Each key's session head version, in the order of `keys` (read before the items). */
  readSessionHeads(keys: readonly string[]): Promise<readonly number[]> {
    return this.store.readSessionHeads(this.operator, keys, this.generation);
  }

  /** Every window item of each key (sessions). */
  listKeyWindows(keys: readonly string[]): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    return this.store.listKeyWindows(this.operator, keys, this.generation);
  }

  /** Atomic groups of conditional writes; one flag per group. */
  write(groups: readonly (readonly WindowWrite[])[]): Promise<readonly boolean[]> {
    return this.store.write(this.operator, groups, this.generation);
  }

  /** Pending items due at `watermark`, at most `limit`. */
  listDue(watermark: number, limit: number): Promise<readonly WindowItem[]> {
    return this.store.listDue(this.operator, watermark, limit, this.generation);
  }

  /** Open items whose lateness has passed at `watermark`, at most `limit`. */
  listExpired(watermark: number, limit: number): Promise<readonly WindowItem[]> {
    return this.store.listExpired(this.operator, watermark, limit, this.generation);
  }

  /** Items whose outbox holds an unacknowledged result, at most `limit`. */
  listOutbox(limit: number): Promise<readonly WindowItem[]> {
    return this.store.listOutbox(this.operator, limit, this.generation);
  }

  /** Clears outbox entries that still hold the acknowledged results. */
  ackOutbox(acks: readonly OutboxAck[]): Promise<readonly boolean[]> {
    return this.store.ackOutbox(this.operator, acks, this.generation);
  }
}
