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
import type {
  CheckpointInProgress,
  CheckpointManifest,
  CheckpointPart,
} from '../model/checkpoint.ts';

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
