/**
 * What the window operator does with one batch's records for one kind of
 * window: assign each record to its windows (or to the late output), then
 * write the batch's windows to state. One implementation per kind:
 *
 *   aligned-windows.ts   tumbling and sliding: one pre-aggregated delta per (key, window),
 *                        one guarded conditional write each
 *   session-windows.ts   sessions: the records of each key, merged with the key's stored
 *                        sessions (merging-window-set.ts), one atomic write group per key
 */
import type { AggregateFunction } from './aggregate.ts';
import type { Batch } from './batch.ts';
import type { BatchGuard } from './guard.ts';
import type { OperatorStore } from './operator-store.ts';
import type { RecordCursor } from './record-cursor.ts';
import type { RecordPipeline } from './record-pipeline.ts';

/** One batch's windows of one kind. */
export interface BatchWindows<IN> {
  /**
   * The per-record loop (Flink's `processElement`): every record of the
   * batch through the cursor, then {@link add}. Each kind has its own copy
   * of these few lines, so its call to `add` stays monomorphic in a process
   * that runs several kinds (a shared loop measured 5-10% slower in the core
   * bench, where every kind runs in one process).
   */
  addAll(cursor: RecordCursor<IN>): void;
  /**
   * Assigns record `i` (key, event, event time `t`), judged against the
   * watermark `w`, to its windows in this batch, or to the late output.
   * Sets the record's status.
   */
  add(i: number, key: string, value: IN, t: number, w: number): void;
  /**
   * Takes back from the late output the records a state item has already
   * absorbed: an earlier attempt applied them against a lower watermark
   * (docs/semantics.md, "Retries and lateness"). Before any state write.
   */
  reclaimLate(): Promise<void>;
  /** Writes the batch's windows to state; returns how many items were put. */
  write(): Promise<number>;
  /** The lowest end of the windows this batch wrote (`Infinity`: none); see `trigger.ts`. */
  lowestEnd(): number;
}

/** What a kind of window works with during one batch. */
export interface WindowsContext<IN, ACC> {
  readonly batch: Batch<IN>;
  readonly guard: BatchGuard;
  readonly store: OperatorStore;
  readonly pipeline: RecordPipeline<IN>;
  readonly aggregate: AggregateFunction<IN, ACC, unknown>;
  readonly allowedLateness: number;
}
