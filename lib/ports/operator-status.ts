/**
 * Read-only views `weir status` needs besides the progress
 * (`StateStore.readProgress`) and the shard list (`ShardDirectory`): how
 * many windows wait in state, and how far a shard's committed position is
 * behind the stream's tip. Kept apart from the StateStore and ShardDirectory
 * ports so that the runtime's stores and directories (and their test
 * doubles) need not implement them.
 */
import type { SequenceNumber, ShardId } from '../model/position.ts';

/** Window items of one operator, by what they wait for. */
export interface WindowCounts {
  /** Windows held in state (not purged): open, or fired and kept for allowed lateness. */
  readonly open: number;
  /** Windows whose content changed since their last firing (`pending`): they fire once the watermark reaches `end - 1`. */
  readonly pending: number;
  /** Of the pending windows, those the given watermark already makes due (the next tick fires them). */
  readonly due: number;
  /** Fired results not yet acknowledged by the sinks (the outbox backlog the ticker re-drives). */
  readonly outbox: number;
  /** `false` when counting stopped at its bound: every figure is then a lower bound. */
  readonly exact: boolean;
}

/** Counts an operator's window items without reading them. */
export interface WindowCounter {
  /** `watermark`: the operator watermark that decides `due` (`null`: nothing is due). */
  countWindows(operator: string, watermark: number | null): Promise<WindowCounts>;
}

/** How far a position is behind the tip of its shard. */
export interface ShardLag {
  /** Kinesis records after the position that the bounded read saw (a KPL aggregate counts once). */
  readonly records: number;
  /** `true`: `records` is the exact count (the read reached the tip, or the end of a closed shard). */
  readonly exact: boolean;
  /**
   * Approximate processing-time lag: how much earlier than the tip the first
   * record after the position arrived (0 when nothing is behind). Kinesis
   * server times only (`MillisBehindLatest` plus arrival timestamps), like
   * Lambda's IteratorAge.
   */
  readonly millis: number;
  /** The read reached the end of a closed shard: nothing more will ever arrive. */
  readonly ended: boolean;
}

/** Measures shard lag with a bounded number of reads. */
export interface ShardLagReader {
  /** Lag after `committed` (`null`: from the oldest record kept, nothing consumed yet). */
  lagAfter(shardId: ShardId, committed: SequenceNumber | null): Promise<ShardLag>;
}
