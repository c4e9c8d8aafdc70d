/**
 * Retention: keep the newest `keep` complete checkpoints, delete the older
 * ones (manifest first, so a delete cut short never leaves a listed
 * checkpoint without its parts), and delete orphan folders (no manifest)
 * older than the newest complete checkpoint, unless their `in-progress.json`
 * was saved within `inProgressGraceMs` (a taking that may still be resumed).
 *
 *     newest ─────────────────────────────────────────────────────► oldest
 *     [in-progress]  [complete] [complete] [orphan] [complete] [complete]
 *      left alone     kept (keep = 2)       deleted   deleted    deleted
 *      (newer than the newest complete)
 *
 * Folders newer than the newest complete checkpoint are never touched: one
 * of them may be a taking in progress. Tombstones in the state table must
 * outlive the oldest kept checkpoint (docs/state-table.md, TTL): compare
 * `oldestKeptAt` with `tombstoneTtlSeconds`.
 */
import { ConfigError } from '../../errors.ts';
import type { Clock } from '../../ports/clock.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import { checkpointIdTime } from '../../model/checkpoint-id.ts';

/** How many checkpoints to keep. */
export interface RetentionPolicy {
  /** Complete checkpoints to keep (corrupt ones count: verify to find them). 1..10000. */
  readonly keep: number;
  /**
   * A folder without manifest whose `in-progress.json` was saved less than
   * this long ago (processing time) is left alone even when older than the
   * newest complete checkpoint. @default 3600000 (1 hour)
   */
  readonly inProgressGraceMs?: number;
}

/** What {@link applyRetention} did. */
export interface RetentionReport {
  /** Complete checkpoints kept, newest first. */
  readonly kept: readonly string[];
  /** Complete checkpoints deleted. */
  readonly deleted: readonly string[];
  /** Folders without manifest deleted. */
  readonly orphansDeleted: readonly string[];
  /** Capture time of the oldest kept checkpoint (epoch ms); `undefined` when none is kept. */
  readonly oldestKeptAt: number | undefined;
}

/**
 * Applies a retention policy to an operator's checkpoints.
 *
 * @example
 * const report = await applyRetention(checkpoints, 'clicks', { keep: 7 }, systemClock);
 */
export async function applyRetention(
  checkpoints: CheckpointStore,
  operator: string,
  policy: RetentionPolicy,
  clock: Clock,
): Promise<RetentionReport> {
  if (!Number.isInteger(policy.keep) || policy.keep < 1 || policy.keep > 10_000) {
    throw new ConfigError('keep', policy.keep, 'must be an integer 1..10000');
  }
  const grace = policy.inProgressGraceMs ?? 3_600_000;
  if (!Number.isFinite(grace) || grace < 0) {
    throw new ConfigError('inProgressGraceMs', grace, 'must be a non-negative number of ms');
  }
  const folders = await checkpoints.list(operator);
  const complete = folders.filter((f) => f.complete).map((f) => f.id);
  const kept = complete.slice(0, policy.keep);
  const deleted = complete.slice(policy.keep);
  const newest = complete[0];
  const orphans: string[] = [];
  if (newest !== undefined) {
    for (const f of folders) {
      if (f.complete || f.id >= newest) continue;
      if (f.inProgress) {
        const state = await checkpoints.readInProgress(operator, f.id).catch(() => undefined);
        if (state !== undefined && clock.now() - state.updatedAt < grace) continue;
      }
      orphans.push(f.id);
    }
  }
  // Oldest first: should this stop half-way, the newest checkpoints are intact.
  for (const id of [...deleted].reverse()) await checkpoints.delete(operator, id);
  for (const id of [...orphans].reverse()) await checkpoints.delete(operator, id);
  const oldest = kept.at(-1);
  return {
    kept,
    deleted,
    orphansDeleted: orphans,
    oldestKeptAt: oldest === undefined ? undefined : checkpointIdTime(oldest),
  };
}
