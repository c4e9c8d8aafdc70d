/**
 * The StateStore port: keyed window state and per-shard progress of window
 * operators. The in-memory adapter backs fast tests; a DynamoDB adapter
 * implements the same contract with conditional writes.
 *
 * Items (a DynamoDB adapter's natural layout):
 *
 *   window item   pk = <operator>#<key>     sk = W#<start>#<end>
 *                 accumulator, absorbed{shard -> encoded offset}, firedVersion,
 *                 pending, cleanupAt, revision, purged, supersedes
 *   progress item pk = <operator>           sk = P#<shardId>
 *                 committed (encoded offset), watermark, lastActivity, closed
 *   watermark     pk = <operator>           sk = W (the published operator watermark)
 *   session head  pk = <operator>#<key>     sk = H (sessions: the key's head version)
 *
 * Outbox index: a sparse GSI set only while `outbox` holds an unacknowledged
 * result.
 *
 * Due index: a sparse GSI on `dueAt = maxTimestamp`, set only while
 * `pending` (partition `<operator>#<bucket>` with a small bucket suffix so it
 * is never one hot partition). Expiry index: a sparse GSI on `cleanupAt`,
 * set only on open (not purged) items.
 *
 * Every write is conditional on the item's `revision` (or on its absence),
 * so a lost race surfaces as `false` and the engine re-reads and retries.
 *
 * Restore generation (fencing, docs/recovery.md "Restore generation and
 * fencing"): the operator's control state holds a generation, 0 until the
 * first restore. {@link StateStore.readProgress} returns it; every other
 * call takes the generation its caller read, and:
 *
 * - a store that holds a HIGHER generation refuses the call with
 *   `FencedError` (a restore ran since the caller read its progress),
 *   or, for a write whose target the restore never wrote, stores it at the
 *   caller's generation, which every reader of the higher one treats as
 *   absent: nothing of a fenced caller is ever visible to the restored state;
 * - items, progress and the watermark stored under a LOWER generation are
 *   absent to the caller.
 */
import type { JsonValue } from '../model/json.ts';
import type { OperatorProgress, ShardProgress } from '../model/progress.ts';
import type { TimeWindow } from '../model/time-window.ts';

/** Identifies one window item. */
export interface WindowRef {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

/** State of one (operator, key, window). */
export interface WindowItem extends WindowRef {
  /** Serialised accumulator (`null` on a tombstone). */
  readonly accumulator: JsonValue;
  /**
   * Per source shard, the highest position (`encodeOffset`) whose records this
   * item has absorbed. Updates only apply records above it.
   */
  readonly absorbed: Readonly<Record<string, string>>;
  /** Version of the last emitted result; 0 before the first firing. */
  readonly firedVersion: number;
  /** Content changed since the last firing: the window is due once the watermark reaches end - 1. */
  readonly pending: boolean;
  /** maxTimestamp + allowedLateness: the item is purged once the watermark passes it. */
  readonly cleanupAt: number;
  /** Incremented on every write; the condition of the next write. */
  readonly revision: number;
  /** A tombstone: the window was purged; only bounds, absorbed and firedVersion remain. */
  readonly purged: boolean;
  /** Sessions: fired windows merged into this one, reported with its next result. */
  readonly supersedes: readonly TimeWindow[];
  /**
   * The outbox: the result of the last firing, kept until the runtime has
   * written it to the sinks and acknowledged it ({@link StateStore.ackOutbox}).
   * A crash between firing (in state) and emitting (to the sink) leaves it
   * here, and the ticker re-drives it. `null` when nothing awaits emission.
   */
  readonly outbox: OutboxEntry | null;
}

/** A fired result awaiting emission. */
export interface OutboxEntry {
  /**
   * The restore generation it was fired in: results are ordered by
   * (generation, version), so a window re-fired after a restore replaces
   * the earlier result in every sink (docs/recovery.md "Corrections").
   * 0 before the first restore (stores read a missing value as 0).
   */
  readonly generation: number;
  /** Equals the item's `firedVersion` when it was fired. */
  readonly version: number;
  /** The aggregate's result (JSON, as sinks store it). */
  readonly value: JsonValue;
  readonly supersedes: readonly TimeWindow[];
  /** Processing time of the firing (epoch ms). */
  readonly firedAt: number;
}

/** Acknowledges that a fired (generation, version) reached the sinks. */
export interface OutboxAck extends WindowRef {
  /** The outbox entry's generation (not the caller's: a restored entry keeps its own). */
  readonly generation: number;
  readonly version: number;
}

/** {@link OperatorProgress} as a store holds it: with the restore generation. */
export interface StoredProgress extends OperatorProgress {
  /** The operator's restore generation: 0 until the first restore, raised by each restore. */
  readonly generation: number;
}

/** One conditional write. */
export type WindowWrite =
  | {
      readonly kind: 'put';
      readonly item: WindowItem;
      /** Revision the stored item must have; `null`: the item must not exist. */
      readonly expectedRevision: number | null;
    }
  | {
      readonly kind: 'delete';
      readonly ref: WindowRef;
      readonly expectedRevision: number;
    }
  | SessionHeadWrite;

/**
 * Sessions: the key's head must hold `expectedVersion` (0: no head, or one
 * of a lower restore generation) and is raised to `expectedVersion + 1`.
 * Every session write group that creates, removes or revives a session of
 * the key carries one, so two such groups planned against the same read of
 * the key's sessions cannot both apply (docs/semantics.md, "Sessions under
 * concurrent shards"). It is no window item: no read of window items
 * returns it, and it is not scanned or checkpointed.
 */
export interface SessionHeadWrite {
  readonly kind: 'head';
  readonly key: string;
  readonly expectedVersion: number;
}

/** Keyed window state and shard progress of window operators. */
export interface StateStore {
  /**
   * Reads every shard's progress, the operator watermark and the restore
   * generation (progress of a lower generation is absent).
   */
  readProgress(operator: string): Promise<StoredProgress>;
  /**
   * Writes a shard's progress. Conditional: never moves `committed` or
   * `watermark` backwards (returns `false` and changes nothing if it would;
   * see `progressRegresses` in lib/model/progress.ts). The stored `judged`
   * view is never replaced by a lower one or dropped by a writer that read
   * the progress before the view was written: the store keeps
   * `keptJudgedView` of the stored view and the written progress.
   * Fenced by `generation` (`FencedError`).
   */
  writeShardProgress(
    operator: string,
    progress: ShardProgress,
    generation: number,
  ): Promise<boolean>;
  /**
   * Raises the operator watermark to at least `watermark`; returns the
   * stored value (monotonic). Fenced by `generation` (`FencedError`).
   */
  advanceWatermark(operator: string, watermark: number, generation: number): Promise<number>;
  /** Reads window items (tombstones included), in the order of `refs`. */
  getWindows(
    operator: string,
    refs: readonly WindowRef[],
    generation: number,
  ): Promise<readonly (WindowItem | undefined)[]>;
  /**
   * Each key's session head version (0: none, or one of a lower generation),
   * in the order of `keys`. Read it BEFORE the key's items: a head write
   * conditioned on it then proves no session of the key was created or
   * removed since those items were read. A head of a higher generation
   * fences the call (`FencedError`).
   */
  readSessionHeads(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<readonly number[]>;
  /** Every window item of each key (open sessions and tombstones), for session merging. */
  listKeyWindows(
    operator: string,
    keys: readonly string[],
    generation: number,
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>>;
  /**
   * Applies groups of conditional writes under `generation`. Each group is
   * atomic (all its conditions hold and all writes apply, or nothing
   * applies); groups are independent. Returns one flag per group. An item
   * of a lower generation counts as absent (`expectedRevision: null`
   * replaces it); one of a higher generation fences the call
   * (`FencedError`).
   */
  write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    generation: number,
  ): Promise<readonly boolean[]>;
  /** Open items with `pending` and `end - 1 <= watermark`, at most `limit`. */
  listDue(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]>;
  /** Open (not purged) items with `cleanupAt < watermark`, at most `limit`. */
  listExpired(
    operator: string,
    watermark: number,
    limit: number,
    generation: number,
  ): Promise<readonly WindowItem[]>;
  /** Items (open or tombstones) whose outbox holds a result not yet acknowledged, at most `limit`. */
  listOutbox(operator: string, limit: number, generation: number): Promise<readonly WindowItem[]>;
  /**
   * Clears each item's outbox if it still holds the ack's (generation,
   * version) (a newer firing keeps its own) and the item is of
   * `generation`, incrementing the item's revision. One flag per ack:
   * `false` when the outbox no longer holds that result or a restore
   * replaced the item.
   */
  ackOutbox(
    operator: string,
    acks: readonly OutboxAck[],
    generation: number,
  ): Promise<readonly boolean[]>;
}

/** Which slice of an operator's window items one {@link WindowScanner.scanWindows} call reads. */
export interface WindowScanRequest {
  /** 0-based segment, below `totalSegments`. */
  readonly segment: number;
  /** Segments the items are split into (DynamoDB allows 1..1,000,000); the same for every page of a scan. */
  readonly totalSegments: number;
  /** `null` for the first page; then the `cursor` of the previous page of the same segment. */
  readonly cursor: string | null;
  /** Most items (DynamoDB: items evaluated) one page reads; at least 1. */
  readonly limit: number;
  /**
   * The restore generation the scan reads (from the progress read before
   * it): items of a lower one are skipped, a higher one fences the scan
   * (`FencedError`). @default the items of every generation
   */
  readonly generation?: number | undefined;
}

/** One page of a segment. */
export interface WindowScanPage {
  /** Window items (open and tombstones) of the operator; may be empty while `cursor` is not `null`. */
  readonly items: readonly WindowItem[];
  /** Where the next page starts; `null` once the segment is exhausted. Opaque, JSON-safe, storable. */
  readonly cursor: string | null;
}

/**
 * A parallel, resumable scan of an operator's window items, for checkpoints.
 * Kept apart from {@link StateStore} so that stores which never take
 * checkpoints (test doubles, benchmark instruments) need not implement it;
 * both adapters implement {@link ScannableStateStore}.
 *
 * Guarantees: the segments of one `totalSegments` are disjoint and together
 * hold every window item of the operator (never progress or watermark items,
 * never another operator's items). Paging a segment from `null` to a `null`
 * cursor returns every item that existed during the whole scan exactly once,
 * as it was at the moment its page was read, and reads strongly
 * consistently: an item reflects every write acknowledged before its page
 * was requested. Items created, changed or deleted while the scan runs may
 * or may not appear (a fuzzy scan; docs/recovery.md says why that is safe).
 */
export interface WindowScanner {
  /** Reads one page of one segment of the operator's window items. */
  scanWindows(operator: string, request: WindowScanRequest): Promise<WindowScanPage>;
}

/** A state store that checkpoints can scan. */
export interface ScannableStateStore extends StateStore, WindowScanner {}

/**
 * The store operations of a restore (lib/core/checkpoint/restore-state.ts
 * orchestrates them): raise the generation, which fences every caller that
 * read the old one, then replace the operator's state under it.
 */
export interface RestorableStateStore extends StateStore {
  /**
   * Raises the operator's restore generation by one and returns it. From
   * then on every call with a lower generation is fenced.
   */
  raiseGeneration(operator: string): Promise<number>;
  /**
   * Deletes every window item and shard progress item of the operator
   * stored under a generation below `generation`, and sets the operator
   * watermark to `null`; returns how many items it deleted. Fenced by
   * `generation`.
   */
  clearState(operator: string, generation: number): Promise<number>;
  /**
   * Stores window items (a checkpoint's) under `generation`, replacing any
   * item of a lower generation with the same bounds. Fenced by `generation`.
   */
  loadWindows(operator: string, items: readonly WindowItem[], generation: number): Promise<void>;
  /**
   * Sets every shard's progress and the operator watermark to `progress`
   * (a checkpoint's positions) under `generation`, unconditionally on the
   * stored values (a restore moves progress backwards on purpose). Fenced
   * by `generation`.
   */
  resetProgress(operator: string, progress: OperatorProgress, generation: number): Promise<void>;
}
