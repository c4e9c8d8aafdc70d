/**
 * Recording the range a failing attempt leaves unapplied in its shard's
 * progress (docs/recovery.md, "Partial writes of the given-up attempts"):
 * if the event source mapping gives up on it, a later batch that raises an
 * item the attempt wrote keeps the attempt's offset under `skipped:`
 * (core/guard.ts), even once the shard has committed past the range, so the
 * redrive of the range does not apply those records to it again. A commit
 * covering the range (the retry succeeded) or the range's redrive removes it.
 */
import type { ShardId } from '../model/position.ts';
import type { ShardProgress } from '../model/progress.ts';
import type { SequenceRange } from '../model/shard-ranges.ts';
import type { StateStore, StoredProgress } from '../ports/state-store.ts';

/** Conditional writes before giving up (the shard's committed position moved meanwhile). */
const ATTEMPTS = 3;

/**
 * Adds `range` to the failing ranges of `shardId`'s progress, starting from
 * the progress the caller read. Returns whether it was recorded (`false`:
 * the progress kept moving; the range was then covered by a commit).
 */
export async function recordFailingRange(
  store: StateStore,
  operator: string,
  shardId: ShardId,
  range: SequenceRange,
  read: StoredProgress,
  now: number,
): Promise<boolean> {
  let progress = read;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const shard: ShardProgress = progress.shards.find((s) => s.shardId === shardId) ?? {
      shardId,
      committed: null,
      watermark: null,
      lastActivity: now,
      closed: false,
    };
    const { settles: _never, ...kept } = shard;
    const written: ShardProgress = { ...kept, failing: [...(shard.failing ?? []), range] };
    if (await store.writeShardProgress(operator, written, progress.generation)) return true;
    progress = await store.readProgress(operator);
  }
  return false;
}
