/**
 * The CheckpointStore port: durable storage of checkpoints (Flink's
 * checkpoint storage), separate from the working state (the StateStore, its
 * state backend). The S3 adapter is the real one; the in-memory adapter
 * keeps the same objects in a map for fast tests. The engine side that takes
 * and reads checkpoints lives in `lib/core/checkpoint/` and encodes the
 * items; this port stores lines and manifests and guards their integrity.
 *
 * Layout (one folder per checkpoint; docs/recovery.md):
 *
 *   <prefix>/<uri operator>/checkpoints/<id>/part-00000.ndjson.gz   state parts (gzip NDJSON, one WindowItem per line)
 *   <prefix>/<uri operator>/checkpoints/<id>/part-00001.ndjson.gz
 *   <prefix>/<uri operator>/checkpoints/<id>/in-progress.json       while a taking spans several calls
 *   <prefix>/<uri operator>/checkpoints/<id>/manifest.json          written last: the checkpoint exists
 *
 * A checkpoint exists exactly when its manifest does. A folder without a
 * manifest is a checkpoint being taken (its `in-progress.json` says how far)
 * or the remains of an abandoned one (orphan parts, which retention deletes).
 *
 * Ids are `<epoch ms, 16 digits>-<8 hex random>`: they sort as strings in the
 * order their positions were captured, so the latest checkpoint is found by
 * listing folder names, and two takers never pick the same id.
 */
import type { OperatorProgress } from '../model/progress.ts';

/** The manifest format this version writes and reads. */
export type CheckpointFormat = 'weir.checkpoint/1';

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
   * Reserved for the restore generation (fencing of batches in flight during
   * a restore), which a later version adds; format 1 readers accept a
   * non-negative integer here and carry it through unchanged.
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
  readonly totalSegments: number;
  readonly segments: readonly CheckpointSegmentState[];
  readonly parts: readonly CheckpointPart[];
}

/** What {@link CheckpointStore.writePart} stores. */
export interface CheckpointPartInput {
  readonly operator: string;
  readonly checkpointId: string;
  readonly index: number;
  readonly segment: number;
  /** One encoded window item per line, without line terminators (see `encodeCheckpointItem`). */
  readonly lines: readonly string[];
}

/** One checkpoint folder, as listed. */
export interface CheckpointFolder {
  readonly id: string;
  /** `manifest.json` is stored: the checkpoint is complete (its content may still be corrupt). */
  readonly complete: boolean;
  /** `in-progress.json` is stored. */
  readonly inProgress: boolean;
  /** Objects in the folder (manifest and marker included). */
  readonly objects: number;
  /** Sum of the folder's stored object sizes. */
  readonly bytes: number;
}

/** Durable storage of an operator's checkpoints. */
export interface CheckpointStore {
  /**
   * Stores one part (gzip of the lines joined by `\n`, with a final `\n`) and
   * returns its descriptor with size and SHA-256 of the stored bytes.
   * Writing the same index again replaces the object.
   */
  writePart(part: CheckpointPartInput): Promise<CheckpointPart>;
  /**
   * Reads a part back and verifies it against `part` (from `manifest`): size,
   * SHA-256 and number of lines. Returns the lines. A missing, truncated or
   * corrupt part is a `CheckpointError` naming the checkpoint, the part, the
   * problem and `manifest.previousId`.
   */
  readPart(manifest: CheckpointManifest, part: CheckpointPart): Promise<readonly string[]>;
  /** Saves (replaces) the state of a checkpoint being taken. */
  saveInProgress(state: CheckpointInProgress): Promise<void>;
  /** The saved state of a checkpoint being taken, or `undefined` if there is none. */
  readInProgress(operator: string, id: string): Promise<CheckpointInProgress | undefined>;
  /**
   * Makes the checkpoint exist: checks that every part the manifest lists is
   * stored with its size (else `CheckpointError`, and nothing is written),
   * deletes parts of the folder the manifest does not list (left by a failed
   * call), writes `manifest.json`, then removes `in-progress.json`.
   */
  commit(manifest: CheckpointManifest): Promise<void>;
  /**
   * Reads a manifest. No manifest: `CheckpointError` (`not-found`); one that
   * does not parse or has an unknown `format`: `CheckpointError` naming the
   * format found and the one read, and the next older complete checkpoint.
   */
  readManifest(operator: string, id: string): Promise<CheckpointManifest>;
  /** The newest checkpoint whose manifest is stored (by id), without reading it; `undefined` if none. */
  latestId(operator: string): Promise<string | undefined>;
  /** Every checkpoint folder of the operator (complete, being taken, or orphan), newest first. */
  list(operator: string): Promise<readonly CheckpointFolder[]>;
  /**
   * Deletes a checkpoint folder: the manifest first, so that a delete
   * interrupted half-way never leaves a listed checkpoint without its parts.
   * Deleting a missing checkpoint does nothing.
   */
  delete(operator: string, id: string): Promise<void>;
}
