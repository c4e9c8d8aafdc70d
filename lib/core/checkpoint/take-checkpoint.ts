/**
 * Taking a checkpoint: orchestration over the StateStore (progress, scan),
 * the CheckpointStore (parts, in-progress state, manifest) and the Clock.
 * Pure TypeScript: compression and hashing happen behind the CheckpointStore.
 *
 * A fuzzy checkpoint, taken while batches go on (docs/recovery.md):
 *
 *     taker      capture ──► save in-progress ──► scan segments in parallel ─────────────► manifest
 *                progress    (positions)          page, page, part, page, part, ...        (exists now)
 *                   │                               │          │
 *     shard 0  ── b7 ──┼── b8 ────────── b9 ─────────┼───── b10 ─┼──────────────────────────
 *     shard 1  ── c3 ──┼──────── c4 ─────────── c5 ──┼───────────┼──────── c6 ───────────────
 *                   │                               │          │
 *                committed = end of b7, c3          items read here hold b8/c4/... or not:
 *                                                   each says so in its `absorbed` positions
 *
 * 1. Read every shard's progress and the published watermark FIRST (one
 *    consistent read). Progress is written after its batch's state writes,
 *    so every record at or below a shard's `committed` is in state by then.
 * 2. Save `in-progress.json` (positions, no parts yet).
 * 3. Scan the operator's window items (open items and tombstones) with
 *    `totalSegments` segments, `concurrency` at a time; each segment streams
 *    its pages into parts of at most `partMaxItems` items and
 *    `partMaxBytes` bytes of NDJSON (a part ends on a page boundary, so one
 *    page larger than `partMaxBytes` is a part of its own). After each part,
 *    the segment's cursor and the part go into `in-progress.json`.
 * 4. At the `deadline` (a Lambda's remaining time), every segment stores
 *    what it has read as a part and its cursor, and the call returns
 *    `in-progress`; {@link CheckpointTaker.resume} continues the same
 *    checkpoint later (the same positions, the remaining items).
 * 5. When every segment is done: the manifest, written last.
 *
 * Restoring the items and replaying each shard after `committed` gives the
 * state of an uninterrupted run: records at or below `committed` are in the
 * items; records above it are re-applied exactly where an item's `absorbed`
 * position says they are missing. Memory is bounded by `concurrency` x
 * (`partMaxBytes` + one page).
 */
import { CheckpointError, CheckpointProblem, ConfigError } from '../../errors.ts';
import { intOption } from '../../util/int-option.ts';
import type { Clock } from '../../ports/clock.ts';
import {
  CHECKPOINT_FORMAT,
  type CheckpointInProgress,
  type CheckpointManifest,
} from '../../model/checkpoint.ts';
import { newCheckpointId } from '../../model/checkpoint-id.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import type { ScannableStateStore } from '../../ports/state-store.ts';
import { SegmentScan } from './segment-scan.ts';

export { utf8Length } from './segment-scan.ts';

/** Options of {@link CheckpointTaker}. */
export interface CheckpointTakerProps {
  /** The operator's working state; read, never written. */
  readonly state: ScannableStateStore;
  readonly checkpoints: CheckpointStore;
  /** Processing time: ids, `startedAt`, `completedAt`, the deadline. */
  readonly clock: Clock;
  readonly operator: string;
  /** ARN of the source stream, recorded in the manifest for the replay. */
  readonly streamArn: string;
  /** Segments of the parallel scan. 1..1000. @default 4 */
  readonly totalSegments?: number;
  /** Segments scanned (and parts written) at once. 1..totalSegments. @default totalSegments */
  readonly concurrency?: number;
  /** Items a scan page reads (DynamoDB: evaluates). 1..partMaxItems. @default 1000 */
  readonly pageSize?: number;
  /** Most items per part. 1..10,000,000. @default 10000 */
  readonly partMaxItems?: number;
  /** Most NDJSON bytes (before compression) per part, unless one page alone is larger. >= 1024. @default 8388608 (8 MiB) */
  readonly partMaxBytes?: number;
  /**
   * The operator merges windows (session windows). A merge deletes windows
   * and creates one in a single transaction, which a scan page boundary can
   * tear (the checkpoint would hold a window and the merge that replaced
   * it, or neither). With this set, every key a page holds is re-read whole
   * (`listKeyWindows`, a strongly consistent Query per key) until two reads
   * agree, and the settled windows replace the scanned ones: about one more
   * read request per key. @default false
   */
  readonly mergingWindows?: boolean;
  /** Random numbers in [0, 1) for the id suffix. @default Math.random */
  readonly random?: () => number;
}

/** Options of one call. */
export interface TakeOptions {
  /**
   * Processing time (`clock.now()`) from which no new scan page is requested:
   * what was read is stored, the cursors are saved, and the call returns
   * `in-progress`. Leave room for one page and one part write after it.
   * @default none (run to completion)
   */
  readonly deadline?: number;
}

/** The outcome of a call, as a value. */
export const CheckpointRunStatus = { Complete: 'complete', InProgress: 'in-progress' } as const;

/** What one call did. */
export interface CheckpointRunStats {
  /** Scan pages read in this call. */
  readonly pages: number;
  /** Items read in this call. */
  readonly items: number;
  /** Parts written in this call. */
  readonly parts: number;
  /** Processing time this call took (clock ms). */
  readonly elapsedMs: number;
}

/** The checkpoint is complete: its manifest is stored. */
export interface CheckpointCompleted {
  readonly status: typeof CheckpointRunStatus.Complete;
  readonly manifest: CheckpointManifest;
  readonly stats: CheckpointRunStats;
}

/** The deadline came first: continue with {@link CheckpointTaker.resume}(`state.id`). */
export interface CheckpointSuspended {
  readonly status: typeof CheckpointRunStatus.InProgress;
  readonly state: CheckpointInProgress;
  readonly stats: CheckpointRunStats;
}

/** What {@link CheckpointTaker.take} and {@link CheckpointTaker.resume} return. */
export type CheckpointRun = CheckpointCompleted | CheckpointSuspended;

/**
 * Takes checkpoints of one operator.
 *
 * @example
 * const taker = new CheckpointTaker({ state, checkpoints, clock: systemClock, operator: 'clicks', streamArn });
 * // In a Lambda: continue a checkpoint that did not fit the last invocation, or start one.
 * const run = await taker.takeOrResume({ deadline: Date.now() + context.getRemainingTimeInMillis() - 20_000 });
 * if (run.status === 'complete') console.log(run.manifest.id, run.manifest.items);
 */
export class CheckpointTaker {
  readonly #p: Required<Omit<CheckpointTakerProps, 'concurrency'>> & { concurrency: number };

  constructor(props: CheckpointTakerProps) {
    if (typeof props.operator !== 'string' || props.operator === '')
      throw new ConfigError('operator', props.operator, 'must be a non-empty operator name');
    if (typeof props.streamArn !== 'string' || props.streamArn === '')
      throw new ConfigError('streamArn', props.streamArn, 'must be the source stream ARN');
    const totalSegments = intOption('totalSegments', props.totalSegments, 4, 1, 1000);
    const partMaxItems = intOption('partMaxItems', props.partMaxItems, 10_000, 1, 10_000_000);
    this.#p = {
      ...props,
      totalSegments,
      concurrency: intOption('concurrency', props.concurrency, totalSegments, 1, totalSegments),
      partMaxItems,
      pageSize: intOption(
        'pageSize',
        props.pageSize,
        Math.min(1000, partMaxItems),
        1,
        partMaxItems,
      ),
      partMaxBytes: intOption('partMaxBytes', props.partMaxBytes, 8 * 1024 * 1024, 1024, 2 ** 31),
      mergingWindows: props.mergingWindows ?? false,
      random: props.random ?? Math.random,
    };
  }

  /**
   * Starts a checkpoint: captures progress, then scans. Returns `complete`,
   * or `in-progress` when the deadline came first.
   */
  async take(options: TakeOptions = {}): Promise<CheckpointRun> {
    const { checkpoints, clock, operator, state, totalSegments } = this.#p;
    const startedAt = clock.now();
    const id = newCheckpointId(startedAt, this.#p.random);
    const previousId = (await checkpoints.latestId(operator)) ?? null;
    // Progress BEFORE the scan: every record at or below `committed` is in state now.
    const { generation, ...progress } = await state.readProgress(operator);
    const initial: CheckpointInProgress = {
      format: CHECKPOINT_FORMAT,
      operator,
      streamArn: this.#p.streamArn,
      id,
      previousId,
      startedAt,
      updatedAt: clock.now(),
      calls: 1,
      progress,
      ...(generation > 0 ? { restoreGeneration: generation } : {}),
      totalSegments,
      segments: Array.from({ length: totalSegments }, (_, segment) => ({
        segment,
        cursor: null,
        done: false,
      })),
      parts: [],
    };
    await checkpoints.saveInProgress(initial);
    return this.#run(initial, options.deadline, startedAt);
  }

  /**
   * Continues checkpoint `id` from its saved cursors, with the positions
   * captured when it started. An already complete checkpoint is returned as
   * it is; one without `in-progress.json` (deleted by retention or by hand)
   * is a `CheckpointError` (`abandoned`): take a new one.
   */
  async resume(id: string, options: TakeOptions = {}): Promise<CheckpointRun> {
    const { checkpoints, clock, operator } = this.#p;
    const started = clock.now();
    const stored = await this.#manifestIfStored(id);
    if (stored !== undefined) {
      return { status: CheckpointRunStatus.Complete, manifest: stored, stats: noStats(0) };
    }
    const saved = await checkpoints.readInProgress(operator, id);
    if (saved === undefined) {
      throw new CheckpointError({
        operator,
        checkpointId: id,
        part: 'in-progress.json',
        problem: CheckpointProblem.Abandoned,
        detail:
          'nothing to resume: there is no in-progress.json (retention or a delete removed the folder); take a new checkpoint',
      });
    }
    if (saved.streamArn !== this.#p.streamArn) {
      throw new CheckpointError({
        operator,
        checkpointId: id,
        part: 'in-progress.json',
        problem: CheckpointProblem.Invalid,
        detail: `it was started for stream ${saved.streamArn}, not ${this.#p.streamArn}`,
      });
    }
    return this.#run({ ...saved, calls: saved.calls + 1 }, options.deadline, started);
  }

  /** The newest checkpoint being taken (in-progress, no manifest) that is newer than the newest complete one. */
  async pendingId(): Promise<string | undefined> {
    const folders = await this.#p.checkpoints.list(this.#p.operator);
    for (const f of folders) {
      if (f.complete) return undefined;
      if (f.inProgress) return f.id;
    }
    return undefined;
  }

  /** Resumes the pending checkpoint ({@link pendingId}) if there is one, else takes a new one. */
  async takeOrResume(options: TakeOptions = {}): Promise<CheckpointRun> {
    const pending = await this.pendingId();
    return pending === undefined ? this.take(options) : this.resume(pending, options);
  }

  async #manifestIfStored(id: string): Promise<CheckpointManifest | undefined> {
    try {
      return await this.#p.checkpoints.readManifest(this.#p.operator, id);
    } catch (e) {
      if (e instanceof CheckpointError && e.problem === CheckpointProblem.NotFound)
        return undefined;
      throw e;
    }
  }

  async #run(
    initial: CheckpointInProgress,
    deadline: number | undefined,
    started: number,
  ): Promise<CheckpointRun> {
    const { checkpoints, clock } = this.#p;
    const scan = new SegmentScan(this.#p, initial, deadline);
    await scan.run();
    const stats: CheckpointRunStats = {
      pages: scan.pages,
      items: scan.items,
      parts: scan.partsWritten,
      elapsedMs: clock.now() - started,
    };
    const snapshot = scan.snapshot();
    if (!snapshot.segments.every((s) => s.done)) {
      await checkpoints.saveInProgress(snapshot);
      return { status: CheckpointRunStatus.InProgress, state: snapshot, stats };
    }
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      operator: snapshot.operator,
      streamArn: snapshot.streamArn,
      id: snapshot.id,
      previousId: snapshot.previousId,
      startedAt: snapshot.startedAt,
      completedAt: clock.now(),
      progress: snapshot.progress,
      totalSegments: snapshot.totalSegments,
      items: snapshot.parts.reduce((n, p) => n + p.items, 0),
      bytes: snapshot.parts.reduce((n, p) => n + p.bytes, 0),
      parts: snapshot.parts,
      ...(snapshot.restoreGeneration === undefined
        ? {}
        : { restoreGeneration: snapshot.restoreGeneration }),
    };
    await checkpoints.commit(manifest);
    return { status: CheckpointRunStatus.Complete, manifest, stats };
  }
}

function noStats(elapsedMs: number): CheckpointRunStats {
  return { pages: 0, items: 0, parts: 0, elapsedMs };
}
