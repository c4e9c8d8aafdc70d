/**
 * The checkpoint format: the vocabulary of a stored checkpoint (manifest,
 * parts, the in-progress marker) shared by the engine that takes and reads
 * checkpoints (lib/core/checkpoint/) and the CheckpointStore adapters that
 * store them. docs/recovery.md describes the layout and its guarantees.
 */
import type { OperatorProgress } from './progress.ts';

/** The manifest format this version writes and reads. */
export type CheckpointFormat = 'weir.checkpoint/1';

/** The format this version writes and reads. */
export const CHECKPOINT_FORMAT: CheckpointFormat = 'weir.checkpoint/1';

/** One stored state part of a checkpoint. */
export interface CheckpointPart {
  /** Object name inside the checkpoint folder: `part-<index, 5 digits>.ndjson.gz`. */
  readonly name: string;
  /** Unique within the checkpoint; parts are listed in index order. */
  readonly index: number;
  /** The scan segment whose items the part holds. */
  readonly segment: number;
  /** Window items (lines) in the part. */
  readonly items: number;
  /** Size of the stored (compressed) object in bytes. */
  readonly bytes: number;
  /** SHA-256 of the stored bytes, lowercase hex. */
  readonly sha256: string;
}

/**
 * A complete checkpoint's description, stored as `manifest.json`.
 *
 * `progress` was read BEFORE the state scan began: every record at or below a
 * shard's `committed` position is in the items of the parts (progress is
 * written after the state writes of its batch, and the scan reads strongly
 * consistently after it). Items may hold more (the scan is fuzzy: batches
 * continued while it ran); each item's `absorbed` positions say exactly what,
 * so replaying each shard from `committed` re-applies only what is missing.
 */
export interface CheckpointManifest {
  readonly format: CheckpointFormat;
  readonly operator: string;
  /** The source stream the positions belong to. */
  readonly streamArn: string;
  readonly id: string;
  /** The newest complete checkpoint when this one started; `null` for the first. */
  readonly previousId: string | null;
  /** Processing time (epoch ms) at which the positions were captured. */
  readonly startedAt: number;
  /** Processing time (epoch ms) at which the last part was written. */
  readonly completedAt: number;
  /** Per-shard progress and the published operator watermark, captured before the scan. */
  readonly progress: OperatorProgress;
  /** Segments of the parallel scan (every part names its segment). */
  readonly totalSegments: number;
  /** Sum of the parts' items. */
  readonly items: number;
  /** Sum of the parts' stored bytes. */
  readonly bytes: number;
  /** In index order. */
  readonly parts: readonly CheckpointPart[];
  /**
   * The operator's restore generation when the positions were captured
   * (docs/recovery.md, "Restore generation and fencing"); absent means 0.
   * Informational for a restore, which always raises the store's generation.
   */
  readonly restoreGeneration?: number | undefined;
}

/** Where one scan segment of a checkpoint being taken stands. */
export interface CheckpointSegmentState {
  readonly segment: number;
  /** The StateStore's scan cursor after the last page stored in a part; `null` before the first page. */
  readonly cursor: string | null;
  /** Every page of the segment is stored in parts. */
  readonly done: boolean;
  /**
   * Merging windows only: the last key whose windows were re-read as a whole
   * (its items may continue on the next page, which then skips them).
   */
  readonly settledKey?: string | undefined;
}

/**
 * A checkpoint being taken over several calls (a table too large for one
 * Lambda invocation), stored as `in-progress.json` next to its parts. The
 * parts listed here hold exactly the items before each segment's cursor.
 */
export interface CheckpointInProgress {
  readonly format: CheckpointFormat;
  readonly operator: string;
  readonly streamArn: string;
  readonly id: string;
  readonly previousId: string | null;
  readonly startedAt: number;
  /** Processing time of the last save; retention leaves folders saved recently alone. */
  readonly updatedAt: number;
  /** Calls that worked on this checkpoint so far (1 for the first). */
  readonly calls: number;
  readonly progress: OperatorProgress;
  /** The restore generation read with the progress (absent: 0); the scan reads under it. */
  readonly restoreGeneration?: number | undefined;
  readonly totalSegments: number;
  readonly segments: readonly CheckpointSegmentState[];
  readonly parts: readonly CheckpointPart[];
}
