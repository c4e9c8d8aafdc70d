/**
 * Restoring an operator's state from a checkpoint: the state half of
 * `weir restore` (pausing the mapping and replaying the stream are the
 * caller's). Pure TypeScript over the StateStore and CheckpointStore ports.
 *
 *   open manifest ─► verify every part ─► raise generation ─► collect fired ─► clear ─► load items ─► reset progress
 *   (id | latest)    (nothing touched      (fences every       (stale-          (old      (part by     (manifest's
 *                     if one is bad)        batch in flight)    results.ts)      gen)      part)        positions)
 *
 * After it, every shard's progress and the operator watermark are the
 * manifest's, the window items are the checkpoint's, all under a generation
 * no batch in flight read: their calls fail with `FencedError`, and their
 * retries are judged by the restored positions and absorbed maps
 * (docs/recovery.md, "Restore generation and fencing"). Replaying each
 * shard from its restored `committed` position through the same batch path
 * then re-applies exactly what the items are missing.
 */
import { ConfigError } from '../../errors.ts';
import type { CheckpointManifest } from '../../model/checkpoint.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import type { RestorableStateStore, WindowItem } from '../../ports/state-store.ts';
import { openCheckpoint, readCheckpointItems, verifyCheckpoint } from './read-checkpoint.ts';
import { withReplayStarts } from './replay-spans.ts';
import { collectFiredWindows, isWindowScanner, type FiredWindow } from './stale-results.ts';

/** What {@link restoreState} needs. */
export interface RestoreStateProps {
  /** The operator's state store (its working state is replaced). */
  readonly state: RestorableStateStore;
  /** Where the checkpoint is stored. */
  readonly checkpoints: CheckpointStore;
  readonly operator: string;
  /** A checkpoint id, or `'latest'` for the newest complete one. */
  readonly checkpoint: string;
  /**
   * Read and check every part before touching the state, so a corrupt or
   * partial checkpoint fails with `CheckpointError` and leaves the state as
   * it was. Turning it off reads each part once instead of twice; a bad
   * part then fails the restore half-way (under the new generation: run it
   * again, from this checkpoint or the previous one). @default true
   */
  readonly verify?: boolean;
  /** Window items per `loadWindows` call. @default 500 */
  readonly batchSize?: number;
  /** Called after each `loadWindows` call with the items loaded so far (progress bars). */
  readonly onItems?: (loaded: number, total: number) => void;
}

/** What {@link restoreState} did. */
export interface RestoredState {
  /** The checkpoint restored. */
  readonly manifest: CheckpointManifest;
  /** The restore generation the state is now under (one above the one before). */
  readonly generation: number;
  /** Items of the old generation deleted (window and progress items). */
  readonly cleared: number;
  /** Window items loaded (open windows and tombstones). */
  readonly windows: number;
  /** Shards whose progress was reset to the manifest's position. */
  readonly shards: number;
  /**
   * Windows that had fired in the replaced state and that the checkpoint
   * does not hold as fired: their results may be stale, and the restore
   * retracts those the replay does not fire again (stale-results.ts). Empty
   * when the store cannot scan or the state was lost.
   */
  readonly firedAfterCheckpoint: readonly FiredWindow[];
}

/**
 * Replaces an operator's state with a checkpoint's: raises the restore
 * generation (fencing every batch and tick in flight), deletes the state of
 * older generations, loads the checkpoint's window items and resets every
 * shard's progress and the operator watermark to the manifest's positions.
 * Returns the new generation and counts. The caller pauses the event source
 * mapping before and replays every shard from the manifest's positions after.
 *
 * @example
 * const restored = await restoreState({ state, checkpoints, operator: 'clicks', checkpoint: 'latest' });
 * console.log(`generation ${restored.generation}: ${restored.windows} windows, ${restored.shards} shards`);
 * // then: replay each shard after restored.manifest.progress.shards[i].committed
 */
export async function restoreState(props: RestoreStateProps): Promise<RestoredState> {
  const { state, checkpoints, operator } = props;
  const batchSize = props.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ConfigError('batchSize', batchSize, 'must be a positive integer (items per load)');
  const manifest = await openCheckpoint(checkpoints, operator, props.checkpoint);
  if (props.verify ?? true) {
    const v = await verifyCheckpoint(checkpoints, operator, manifest.id);
    const first = v.problems[0];
    if (first !== undefined) throw first;
  }
  const generation = await state.raiseGeneration(operator);
  const fired = isWindowScanner(state) ? await collectFiredWindows(state, operator) : undefined;
  const cleared = await state.clearState(operator, generation);
  let windows = 0;
  let chunk: WindowItem[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    await state.loadWindows(operator, chunk, generation);
    windows += chunk.length;
    chunk = [];
    props.onItems?.(windows, manifest.items);
  };
  for await (const item of readCheckpointItems(checkpoints, manifest)) {
    chunk.push(fired?.toLoad(item) ?? item);
    if (chunk.length >= batchSize) await flush();
  }
  await flush();
  // Each shard's progress also records where this restore's replay starts (replay-spans.ts).
  await state.resetProgress(operator, withReplayStarts(manifest.progress), generation);
  return {
    manifest,
    generation,
    cleared,
    windows,
    shards: manifest.progress.shards.length,
    firedAfterCheckpoint: fired?.windows() ?? [],
  };
}
