/**
 * One attempt at one batch: its records, what became of each one, and the
 * side outputs it produced. Every room of the operator reads and writes
 * this working set; this file also does the batch's accounting, which
 * proves that nothing was lost:
 *
 *   received = skippedCommitted + filtered + deadLettered + late + inState
 *
 * Records are referred to by their index in the batch. Per-record data is
 * kept in columns (typed arrays where possible), not in an object per
 * record: a batch holds up to 10,000 records and this is the hot path.
 */
import { WeirError } from '../errors.ts';
import type { ShardId } from '../model/position.ts';
import { DEAD_LETTER_KIND } from '../model/records.ts';
import type {
  BatchCounts,
  DeadLetter,
  DeadLetterReason,
  DecodedRecord,
  LateReason,
  LateRecord,
  SourceRecord,
} from '../model/records.ts';
import type { TimeWindow } from '../model/time-window.ts';

/** What became of a record (a value of {@link Batch.status}; 0: not decided yet). */
export const RecordStatus = {
  /** At or below the shard's committed position: a retry, already durable. */
  SKIPPED: 1,
  /** Dropped by a user filter. */
  FILTERED: 2,
  /** In the dead-letter output. */
  DEAD: 3,
  /** In the late output only. */
  LATE: 4,
  /** In state for at least one window (possibly also in the late output, sliding). */
  IN_STATE: 5,
} as const;

const EMPTY = new Uint8Array(0);

/** Who the batch's outputs are from, and when. */
export interface BatchContext {
  /** The operator's name. */
  readonly operator: string;
  /** The late-data side output's tag. */
  readonly lateOutput: string;
  /** Processing time of the attempt (epoch ms): when its dead letters were decided. */
  readonly now: number;
}

/** The working set of one attempt at one shard's batch. */
export class Batch<IN> {
  readonly shardId: ShardId;
  readonly records: readonly (SourceRecord | DecodedRecord<unknown>)[];
  /** The records came as bytes (`processBatch`), not decoded (`processDecodedBatch`). */
  readonly raw: boolean;
  readonly n: number;
  /** Per record: a {@link RecordStatus} value. */
  readonly status: Uint8Array;
  /** Per record: 1 when a state item had already absorbed it (a retry after a partial write). */
  readonly applied: Uint8Array;
  /**
   * Each record's event after the steps, kept only when `keepValues` (see
   * `RecordPipeline.eventAt`); `undefined` otherwise.
   */
  readonly values: IN[] | undefined;
  /** Each accepted record's event time. */
  readonly times: Float64Array;
  /** The late output, one entry per record. */
  readonly late: LateRecord[] = [];
  /** Batch index of each entry of `late`. */
  readonly lateIdx: number[] = [];
  /** The dead-letter output. */
  readonly dead: DeadLetter[] = [];
  /** Sliding windows: records in state for some windows and late for others (subset of in state). */
  partiallyLate = 0;
  private readonly context: BatchContext;

  constructor(
    shardId: ShardId,
    records: readonly (SourceRecord | DecodedRecord<unknown>)[],
    raw: boolean,
    keepValues: boolean,
    context: BatchContext,
  ) {
    const n = records.length;
    this.shardId = shardId;
    this.records = records;
    this.raw = raw;
    this.n = n;
    this.status = new Uint8Array(n);
    this.applied = new Uint8Array(n);
    this.values = keepValues ? new Array<IN>(n) : undefined;
    this.times = new Float64Array(n);
    this.context = context;
  }

  /** Sends record `i` to the dead-letter output. */
  deadLetter(i: number, reason: DeadLetterReason, error: unknown): void {
    const r = this.records[i] as SourceRecord | DecodedRecord<unknown>;
    this.status[i] = RecordStatus.DEAD;
    this.dead.push({
      operator: this.context.operator,
      position: r.position,
      data: this.raw ? (r as SourceRecord).data : EMPTY,
      kind: DEAD_LETTER_KIND[reason],
      reason: `${reason}: ${messageOf(error)}`,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      at: this.context.now,
      code: reason,
      partitionKey: r.partitionKey,
    });
  }

  /**
   * Sends record `i` to the late output for `windows`. The caller sets its
   * status: a sliding record may stay in state for its other windows.
   */
  lateRecord(
    i: number,
    key: string,
    windows: readonly TimeWindow[],
    reason: LateReason,
    watermark: number,
  ): void {
    const r = this.records[i] as SourceRecord | DecodedRecord<unknown>;
    this.lateIdx.push(i);
    this.late.push({
      operator: this.context.operator,
      output: this.context.lateOutput,
      position: r.position,
      data: this.raw ? (r as SourceRecord).data : EMPTY,
      eventTime: this.times[i] as number,
      windows,
      reason,
      watermark,
      key,
      partitionKey: r.partitionKey,
    });
  }

  /**
   * Keeps the late entries `keep` says to keep (by entry index), in order:
   * the others turned out to be in state already.
   */
  retainLate(keep: readonly boolean[]): void {
    let w = 0;
    for (let j = 0; j < this.late.length; j++) {
      if (!keep[j]) continue;
      this.late[w] = this.late[j] as LateRecord;
      this.lateIdx[w] = this.lateIdx[j] as number;
      w++;
    }
    this.late.length = w;
    this.lateIdx.length = w;
  }

  /** Record `i` is in state after all: a state item had already absorbed it. */
  markApplied(i: number): void {
    this.status[i] = RecordStatus.IN_STATE;
    this.applied[i] = 1;
  }

  /** The batch's accounting; throws if a record was left undecided (a bug, never data). */
  counts(): BatchCounts {
    let skippedCommitted = 0;
    let filtered = 0;
    let deadLettered = 0;
    let late = 0;
    let inState = 0;
    let alreadyApplied = 0;
    const { status, applied } = this;
    for (let i = 0; i < this.n; i++) {
      switch (status[i]) {
        case RecordStatus.SKIPPED:
          skippedCommitted++;
          break;
        case RecordStatus.FILTERED:
          filtered++;
          break;
        case RecordStatus.DEAD:
          deadLettered++;
          break;
        case RecordStatus.LATE:
          late++;
          break;
        case RecordStatus.IN_STATE:
          inState++;
          if (applied[i] === 1) alreadyApplied++;
          break;
        default:
          throw new WeirError(`internal: record ${i} of the batch was not accounted for`);
      }
    }
    return {
      received: this.n,
      skippedCommitted,
      filtered,
      deadLettered,
      late,
      inState,
      partiallyLate: this.partiallyLate,
      alreadyApplied,
    };
  }
}

/** A thrown value's message. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
