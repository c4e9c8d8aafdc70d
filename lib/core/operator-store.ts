/**
 * The StateStore port as one operator sees it: every store call the core
 * makes goes through here, with the operator's name bound. It adds nothing
 * today; it is the one place where something must be added to every read
 * and write of an operator's state (restore fencing, issue 9: a generation
 * read with the progress and made a condition of every state and progress
 * write).
 */
import type { OperatorProgress, ShardProgress } from '../model/progress.ts';
import type {
  OutboxAck,
  StateStore,
  WindowItem,
  WindowRef,
  WindowWrite,
} from '../ports/state-store.ts';

/** One operator's view of a {@link StateStore}. */
export class OperatorStore {
  /** The operator whose state this is. */
  readonly operator: string;
  private readonly store: StateStore;

  constructor(store: StateStore, operator: string) {
    this.store = store;
    this.operator = operator;
  }

  /** Every shard's progress and the published operator watermark. */
  readProgress(): Promise<OperatorProgress> {
    return this.store.readProgress(this.operator);
  }

  /** A shard's progress; `false` when it would move backwards (nothing written). */
  writeShardProgress(progress: ShardProgress): Promise<boolean> {
    return this.store.writeShardProgress(this.operator, progress);
  }

  /** Raises the operator watermark to at least `watermark`; returns the stored value. */
  advanceWatermark(watermark: number): Promise<number> {
    return this.store.advanceWatermark(this.operator, watermark);
  }

  /** Window items (tombstones included), in the order of `refs`. */
  getWindows(refs: readonly WindowRef[]): Promise<readonly (WindowItem | undefined)[]> {
    return this.store.getWindows(this.operator, refs);
  }

  /** Every window item of each key (sessions). */
  listKeyWindows(keys: readonly string[]): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    return this.store.listKeyWindows(this.operator, keys);
  }

  /** Atomic groups of conditional writes; one flag per group. */
  write(groups: readonly (readonly WindowWrite[])[]): Promise<readonly boolean[]> {
    return this.store.write(this.operator, groups);
  }

  /** Pending items due at `watermark`, at most `limit`. */
  listDue(watermark: number, limit: number): Promise<readonly WindowItem[]> {
    return this.store.listDue(this.operator, watermark, limit);
  }

  /** Open items whose lateness has passed at `watermark`, at most `limit`. */
  listExpired(watermark: number, limit: number): Promise<readonly WindowItem[]> {
    return this.store.listExpired(this.operator, watermark, limit);
  }

  /** Items whose outbox holds an unacknowledged result, at most `limit`. */
  listOutbox(limit: number): Promise<readonly WindowItem[]> {
    return this.store.listOutbox(this.operator, limit);
  }

  /** Clears outbox entries that still hold the acknowledged versions. */
  ackOutbox(acks: readonly OutboxAck[]): Promise<readonly boolean[]> {
    return this.store.ackOutbox(this.operator, acks);
  }
}
