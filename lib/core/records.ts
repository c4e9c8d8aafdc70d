/**
 * What goes into and comes out of a window operator.
 */
import type { Position } from './position.ts';
import type { TimeWindow } from './window.ts';

/**
 * A Kinesis record as the runtime hands it to the engine (base64 already
 * decoded to bytes, KPL aggregates already de-aggregated).
 */
export interface SourceRecord {
  readonly position: Position;
  readonly data: Uint8Array;
  readonly partitionKey: string;
  /** Epoch ms (Lambda delivers seconds; the runtime converts). */
  readonly approximateArrivalTimestamp?: number;
}

/** A record whose event is already decoded (benchmarks, tests, in-process sources). */
export interface DecodedRecord<T> {
  readonly position: Position;
  readonly value: T;
  readonly partitionKey: string;
}

/** A window's result. `id` is deterministic: sinks use it to write idempotently. */
export interface WindowResult<OUT> {
  /** `<operator>/<key>/<start>-<end>/v<version>` (operator and key URI-encoded); see `resultId`. */
  readonly id: string;
  readonly operator: string;
  readonly key: string;
  readonly window: TimeWindow;
  readonly value: OUT;
  /** 1 on the first firing, +1 for every re-firing after late updates. */
  readonly version: number;
  /**
   * Session windows only: sessions that had already fired and have now merged
   * into this one. Their earlier results are superseded by this result.
   */
  readonly supersedes: readonly TimeWindow[];
}

/** Why a record went to the late-data output. */
export const LateReason = {
  /** The window's maxTimestamp + allowedLateness was behind the watermark. */
  WINDOW_CLOSED: 'window-closed',
  /** Session windows: event time + allowedLateness was at or behind the watermark. */
  SESSION_CLOSED: 'session-closed',
  /**
   * The window's state had already been purged: after a restore moved the
   * watermark back, or (sessions) when a retry judged the record against the
   * view its range first recorded and the session it would join was purged
   * in between.
   */
  WINDOW_PURGED: 'window-purged',
} as const;
/** Why a record went to the late-data output. */
export type LateReason = (typeof LateReason)[keyof typeof LateReason];

/** A record (or part of it) that arrived too late for one or more of its windows. */
export interface LateRecord {
  /** The side-output tag given to `sideOutputLateData`. */
  readonly tag: string;
  readonly position: Position;
  readonly partitionKey: string;
  /** Raw bytes, when the record came in raw. */
  readonly data: Uint8Array | undefined;
  readonly key: string;
  readonly eventTime: number;
  /** The windows this record was late for (sliding: possibly a subset of its windows). */
  readonly windows: readonly TimeWindow[];
  readonly reason: LateReason;
  /** The operator watermark the decision was made against. */
  readonly watermark: number;
}

/** Why a record went to the dead-letter output. */
export const DeadLetterReason = {
  DECODE_FAILED: 'decode-failed',
  FILTER_THREW: 'filter-threw',
  MAP_THREW: 'map-threw',
  KEY_SELECTOR_THREW: 'key-selector-threw',
  INVALID_KEY: 'invalid-key',
  KEY_TOO_LARGE: 'key-too-large',
  EVENT_TIME_THREW: 'event-time-threw',
  INVALID_EVENT_TIME: 'invalid-event-time',
  AGGREGATE_THREW: 'aggregate-threw',
} as const;
/** Why a record went to the dead-letter output. */
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/** A record that could not be processed; it never blocks the shard. */
export interface DeadLetter {
  readonly position: Position;
  readonly partitionKey: string;
  /** Raw bytes, when the record came in raw. */
  readonly data: Uint8Array | undefined;
  readonly reason: DeadLetterReason;
  /** Human-readable detail (the thrown error's message). */
  readonly message: string;
  readonly error: unknown;
}

/**
 * How a batch's records were accounted for. Reconciles exactly:
 * `received = skippedCommitted + filtered + deadLettered + late + inState`.
 */
export interface BatchCounts {
  readonly received: number;
  /** At or below the shard's committed position (a retried batch). */
  readonly skippedCommitted: number;
  /** Dropped by a user filter (intent, not loss). */
  readonly filtered: number;
  readonly deadLettered: number;
  /** Late for every window they belong to (in the late output only). */
  readonly late: number;
  /** In state for at least one window (including records a state item had already absorbed). */
  readonly inState: number;
  /** Sliding windows: in state for some windows and in the late output for others (subset of inState). */
  readonly partiallyLate: number;
  /** Subset of inState: a state item had already absorbed them (retry after a partial write). */
  readonly alreadyApplied: number;
}

/** Everything one batch produced. */
export interface BatchOutcome<OUT> {
  readonly results: readonly WindowResult<OUT>[];
  readonly late: readonly LateRecord[];
  readonly deadLetters: readonly DeadLetter[];
  readonly counts: BatchCounts;
  /** Operator watermark after the batch (`-Infinity` before any event). */
  readonly watermark: number;
  /** State items written (one per key and window touched, after pre-aggregation). */
  readonly stateWrites: number;
}

/** What a processing-time tick produced. */
export interface TickOutcome<OUT> {
  readonly results: readonly WindowResult<OUT>[];
  readonly watermark: number;
}
