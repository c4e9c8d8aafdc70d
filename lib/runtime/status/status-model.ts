/**
 * What `weir status` reports about one operator: the stable shape of
 * `weir status --json` (docs/status.md). Fields are only ever added; a
 * change of meaning gets a new `schema`.
 */
import type { WindowCounts } from '../../ports/operator-status.ts';

/** The value of {@link OperatorStatus.schema}. */
export const STATUS_SCHEMA = 'weir.status/1';

/**
 * Where a shard stands:
 *
 * - `open`: the shard takes records, and its last batch is more recent than the idle timeout;
 * - `idle`: open, but no batch for the idle timeout: it no longer holds the watermark back;
 * - `closing`: closed by a reshard (split or merge), not yet consumed to its end and retired;
 * - `closed`: closed and retired by the ticker (consumed to its end).
 */
export type ShardState = 'open' | 'idle' | 'closing' | 'closed';

/** The committed position of a shard (the last record durably applied). */
export interface CommittedPosition {
  readonly sequenceNumber: string;
  /** Non-zero inside a KPL aggregate. */
  readonly subSequenceNumber: number;
}

/** How far the committed position is behind the shard's tip. */
export interface ShardBehind {
  /** Kinesis records after the committed position (a KPL aggregate counts once). */
  readonly records: number;
  /** `false`: the bounded read did not reach the tip; `records` is a lower bound. */
  readonly exact: boolean;
  /** Approximate lag in processing time (server arrival times; 0 when nothing is behind). */
  readonly millis: number;
}

/** One shard of the source stream, or one the operator holds progress for. */
export interface ShardStatus {
  readonly shardId: string;
  readonly state: ShardState;
  /** The operator holds progress for it (a batch or the ticker registered it). */
  readonly registered: boolean;
  /** ListShards lists it (`false`: Kinesis trimmed it away after its retention). */
  readonly inStream: boolean;
  readonly parentShardId: string | null;
  readonly adjacentParentShardId: string | null;
  /** `null` before the shard's first batch. */
  readonly committed: CommittedPosition | null;
  /** Shard watermark (epoch ms of event time); `null` before any event. */
  readonly watermark: number | null;
  /** Processing time (epoch ms) of the shard's last batch; `null` when not registered. */
  readonly lastActivity: number | null;
  /** `null` for a retired shard (not read) or when the read failed (see `error`). */
  readonly behind: ShardBehind | null;
  /** Why `behind` could not be measured. */
  readonly error: string | null;
}

/**
 * A range read back by `weir redrive` (its own source
 * `redrive:<shardId>:<startSequenceNumber>`, lib/core/guard.ts): the redrive
 * stores its progress once every record of it is applied, closed from the
 * start. Not a shard: it holds no watermark back and has no tip.
 */
export interface RedrivenRange {
  /** `redrive:<shardId>:<startSequenceNumber>`. */
  readonly source: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  /** Applied through this position (the range's last record). */
  readonly committed: CommittedPosition | null;
  /** Every record of the range is applied (a rerun of `weir redrive` skips it). */
  readonly done: boolean;
  /** Processing time (epoch ms) the redrive recorded it. */
  readonly at: number;
}

/** One look at an operator. */
export interface OperatorStatus {
  readonly schema: typeof STATUS_SCHEMA;
  /** Processing time of the look (epoch ms). */
  readonly at: number;
  readonly operator: string;
  readonly stream: string;
  readonly table: string;
  /** Idle timeout the shard states were judged with (ms). */
  readonly idleTimeoutMs: number;
  /** The published operator watermark (epoch ms of event time); `null` before it first advanced. */
  readonly watermark: number | null;
  /** `null` when counting failed (see `errors`). */
  readonly windows: WindowCounts | null;
  /** Sorted by shard id. */
  readonly shards: readonly ShardStatus[];
  /** Ranges `weir redrive` applied, sorted by source (added to `weir.status/1`; older readers ignore it). */
  readonly redriven: readonly RedrivenRange[];
  /** Parts of the look that failed (window counts); shard failures are on the shard. */
  readonly errors: readonly string[];
}
