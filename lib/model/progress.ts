/**
 * Progress of an operator over its source shards, and the rules every
 * writer of it follows: progress never moves backwards, and the view an
 * attempt judged lateness against is never lowered or dropped by a writer
 * that read the progress before it was written (docs/semantics.md,
 * "Retries and lateness"). The state stores enforce both
 * (`StateStore.writeShardProgress`).
 */
import type { ShardId } from './position.ts';
import type { ReplayedSpan, SequenceRange } from './shard-ranges.ts';

/** Progress of one source shard. */
export interface ShardProgress {
  readonly shardId: ShardId;
  /** Encoded offset of the last record durably applied; `null` before the first batch. */
  readonly committed: string | null;
  /** Shard watermark W(s) = max event time - maxOutOfOrderness; `null` before any event. */
  readonly watermark: number | null;
  /** Processing time (epoch ms) of the shard's last batch. */
  readonly lastActivity: number;
  /** The shard is closed (resharding) and fully consumed. */
  readonly closed: boolean;
  /**
   * The view an attempt judged lateness against, written before its state
   * writes when it has late records, and kept until the shard commits past
   * `upTo`: a retry judges those records against at least this view, so a
   * record an attempt judged late stays late (docs/semantics.md "Retries and
   * lateness"). Absent when no attempt in flight had late records.
   */
  readonly judged?: JudgedView | undefined;
  /**
   * Ranges an attempt failed on that no commit has covered since (a range
   * the mapping may give up on): a later batch that raises an item from an
   * offset inside one keeps that offset under `skipped:` (core/guard.ts).
   * Stores keep them across writes without them (`keptFailingRanges`).
   */
  readonly failing?: readonly SequenceRange[] | undefined;
  /**
   * Offsets a restore's replay applied (docs/recovery.md, "What a restore
   * does to redriven ranges"): a redrive does not apply them again. Stores
   * keep them across writes without them (`keptReplayedSpans`).
   */
  readonly replayed?: readonly ReplayedSpan[] | undefined;
  /**
   * Written, never stored: records that are now applied (a commit's batch,
   * a redriven range); the store removes them from `failing`.
   */
  readonly settles?: SequenceRange | undefined;
}

/** What an attempt judged lateness against (see {@link ShardProgress.judged}). */
export interface JudgedView {
  /** Encoded offset of the attempt's last record: the view covers records up to it. */
  readonly upTo: string;
  /** The published operator watermark it read (`-Infinity`: none yet). */
  readonly published: number;
  /** The lowest watermark of the other active shards it read (`Infinity`: none active). */
  readonly others: number;
}

/** The progress of every shard plus the published operator watermark. */
export interface OperatorProgress {
  /** Operator watermark; `null` before it first advanced. Never decreases. */
  readonly watermark: number | null;
  readonly shards: readonly ShardProgress[];
}

/**
 * Whether writing `written` over `stored` would move `committed` or
 * `watermark` backwards (a stored value and a written `null` count as
 * backwards): the condition every `StateStore.writeShardProgress` enforces.
 */
export function progressRegresses(stored: ShardProgress, written: ShardProgress): boolean {
  if (
    stored.committed !== null &&
    (written.committed === null || written.committed < stored.committed)
  )
    return true;
  return (
    stored.watermark !== null &&
    (written.watermark === null || written.watermark < stored.watermark)
  );
}

/**
 * The judged view a store keeps when `written` is written over a stored
 * view: the higher of the two in every part (views only ever rise, as an
 * attempt merges its view with the one it read), dropped once `written`
 * commits at or past its `upTo` (no record it covers is judged again).
 *
 * Merging in the store, rather than letting the last writer win, is what
 * keeps a view that an attempt wrote after another writer read the
 * progress: the ticker's backlog refresh or a shard's registration would
 * otherwise replace it with the view they read, or none, and a retry would
 * judge the records the attempt sent to the late output against a lower
 * view (docs/semantics.md "Retries and lateness").
 */
export function keptJudgedView(
  stored: JudgedView | undefined,
  written: ShardProgress,
): JudgedView | undefined {
  const w = written.judged;
  let view: JudgedView | undefined;
  if (stored === undefined) view = w;
  else if (w === undefined) view = stored;
  else
    view = {
      upTo: stored.upTo > w.upTo ? stored.upTo : w.upTo,
      published: Math.max(stored.published, w.published),
      others: Math.max(stored.others, w.others),
    };
  if (view !== undefined && written.committed !== null && written.committed >= view.upTo)
    return undefined;
  return view;
}
