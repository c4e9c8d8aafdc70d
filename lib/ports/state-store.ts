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
  /** Equals the item's `firedVersion` when it was fired. */
  readonly version: number;
  /** The aggregate's result (JSON, as sinks store it). */
  readonly value: JsonValue;
  readonly supersedes: readonly TimeWindow[];
  /** Processing time of the firing (epoch ms). */
  readonly firedAt: number;
}

/** Acknowledges that a fired version reached the sinks. */
export interface OutboxAck extends WindowRef {
  readonly version: number;
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
    };

/** Keyed window state and shard progress of window operators. */
export interface StateStore {
  /** Reads every shard's progress and the operator watermark. */
  readProgress(operator: string): Promise<OperatorProgress>;
  /**
   * Writes a shard's progress. Conditional: never moves `committed` or
   * `watermark` backwards (returns `false` and changes nothing if it would;
   * see `progressRegresses` in lib/model/progress.ts). The stored `judged`
   * view is never replaced by a lower one or dropped by a writer that read
   * the progress before the view was written: the store keeps
   * `keptJudgedView` of the stored view and the written progress.
   */
  writeShardProgress(operator: string, progress: ShardProgress): Promise<boolean>;
  /** Raises the operator watermark to at least `watermark`; returns the stored value (monotonic). */
  advanceWatermark(operator: string, watermark: number): Promise<number>;
  /** Reads window items (tombstones included), in the order of `refs`. */
  getWindows(
    operator: string,
    refs: readonly WindowRef[],
  ): Promise<readonly (WindowItem | undefined)[]>;
  /** Every window item of each key (open sessions and tombstones), for session merging. */
  listKeyWindows(
    operator: string,
    keys: readonly string[],
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>>;
  /**
   * Applies groups of conditional writes. Each group is atomic (all its
   * conditions hold and all writes apply, or nothing applies); groups are
   * independent. Returns one flag per group.
   */
  write(operator: string, groups: readonly (readonly WindowWrite[])[]): Promise<readonly boolean[]>;
  /** Open items with `pending` and `end - 1 <= watermark`, at most `limit`. */
  listDue(operator: string, watermark: number, limit: number): Promise<readonly WindowItem[]>;
  /** Open (not purged) items with `cleanupAt < watermark`, at most `limit`. */
  listExpired(operator: string, watermark: number, limit: number): Promise<readonly WindowItem[]>;
  /** Items (open or tombstones) whose outbox holds a result not yet acknowledged, at most `limit`. */
  listOutbox(operator: string, limit: number): Promise<readonly WindowItem[]>;
  /**
   * Clears each item's outbox if it still holds `version` (a newer firing
   * keeps its own), incrementing the item's revision. One flag per ack:
   * `false` when the outbox no longer holds that version.
   */
  ackOutbox(operator: string, acks: readonly OutboxAck[]): Promise<readonly boolean[]>;
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
