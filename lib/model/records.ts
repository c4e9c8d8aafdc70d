/**
 * The records weir speaks from the core to the sinks: what comes in (a
 * source record), and what goes out (a window result, a late record, a dead
 * letter), with the reasons and the accounting of a batch. Each is defined
 * once; the operator produces them and the sinks store them as they are.
 *
 *   SourceRecord ─► operator ─┬─► WindowResult  ─► result sink (one item per firing)
 *                             ├─► LateRecord    ─► late-data output (one item per window)
 *                             └─► DeadLetter    ─► dead-letter output
 */
import { toJsonValue, type JsonValue } from './json.ts';
import type { Position } from './position.ts';
import type { TimeWindow } from './time-window.ts';

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

/**
 * One firing of one window of one key. The operator emits it with the
 * aggregate's typed value; sinks store it with a JSON value
 * (`WindowResult<JsonValue>`, the default) and the time it was emitted.
 * `id` is deterministic: sinks use it to write idempotently.
 */
export interface WindowResult<OUT = JsonValue> {
  /**
   * `<operator>/<key>/<start>-<end>/v<version>` in generation 0, and
   * `<operator>/<key>/<start>-<end>/g<generation>v<version>` after a restore
   * (operator and key URI-encoded); see `resultId`.
   */
  readonly id: string;
  /** The operator (pipeline) name. */
  readonly operator: string;
  /** The logical key (`keyBy`). */
  readonly key: string;
  readonly window: TimeWindow;
  /** The aggregate's result. */
  readonly value: OUT;
  /** 1 on the first firing, +1 for every re-firing after late updates. */
  readonly version: number;
  /**
   * The restore generation the window fired in; absent means 0. Results are
   * ordered by (generation, version): a window re-fired after a restore
   * carries a higher generation and replaces the earlier result in every
   * sink, whatever its version (docs/recovery.md "Corrections").
   */
  readonly generation?: number;
  /** Processing time the result was emitted to the sinks (epoch ms); informational, not part of the id. */
  readonly firedAt?: number;
  /**
   * Session windows only: sessions that had already fired and have now
   * merged into this one. Their earlier results are superseded by this
   * result: a sink removes or masks them, and never lets a late write of a
   * superseded window bring it back. Absent or empty: supersedes nothing.
   */
  readonly supersedes?: readonly TimeWindow[];
  /**
   * A retraction ({@link WindowRetraction}, lib/model/retraction.ts): the
   * window has no result any more. Absent on every fired result.
   */
  readonly retracted?: true;
}

/**
 * Compares two results of one window by their ordering, (generation,
 * version) with an absent generation as 0: negative when `a` is older,
 * positive when newer, 0 when the same firing. Every sink keeps the result
 * with the highest ordering.
 */
export function compareResultOrder(
  a: Pick<WindowResult<unknown>, 'generation' | 'version'>,
  b: Pick<WindowResult<unknown>, 'generation' | 'version'>,
): number {
  return (a.generation ?? 0) - (b.generation ?? 0) || a.version - b.version;
}

/**
 * A fired result as the sinks receive it: the value as JSON (aggregates'
 * results are JSON-safe; `undefined` and non-finite numbers become `null`),
 * the processing time of the emission, and `supersedes` only when it
 * supersedes something.
 */
export function emittedResult<OUT>(result: WindowResult<OUT>, firedAt: number): WindowResult {
  const supersedes = result.supersedes;
  return {
    id: result.id,
    operator: result.operator,
    key: result.key,
    window: { start: result.window.start, end: result.window.end },
    value: toJsonValue(result.value),
    version: result.version,
    ...(result.generation !== undefined && result.generation > 0
      ? { generation: result.generation }
      : {}),
    firedAt,
    ...(supersedes !== undefined && supersedes.length > 0
      ? { supersedes: supersedes.map((w) => ({ start: w.start, end: w.end })) }
      : {}),
  };
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

/**
 * A record that arrived too late for one or more of its windows: the
 * late-data side output. The operator emits one per record, listing every
 * window it was late for; a late-data sink stores one item per (record,
 * window) ({@link lateRecordsPerWindow}), so the items it is given carry one
 * window each.
 */
export interface LateRecord {
  /** The operator (pipeline) name. */
  readonly operator: string;
  /** The side output's name (`sideOutputLateData(tag)`). */
  readonly output: string;
  readonly position: Position;
  /** The record's raw bytes, unchanged (empty when the record was delivered decoded). */
  readonly data: Uint8Array;
  /** The record's event time (epoch ms). */
  readonly eventTime: number;
  /** The windows this record was late for (sliding: possibly a subset of its windows). */
  readonly windows: readonly TimeWindow[];
  readonly reason: LateReason;
  /** The operator watermark the decision was made against. */
  readonly watermark: number;
  /** The logical key (`keyBy`); set by the operator, not kept by the stored formats. */
  readonly key?: string;
  /** The record's Kinesis partition key; set by the operator, not kept by the stored formats. */
  readonly partitionKey?: string;
}

/**
 * A record late for several windows as the items a late-data sink stores:
 * one per window, each listing that window only (a record late for no
 * window, which the operator never emits, stays one item).
 */
export function lateRecordsPerWindow(late: readonly LateRecord[]): LateRecord[] {
  const out: LateRecord[] = [];
  for (const l of late) {
    if (l.windows.length <= 1) out.push(l);
    else for (const w of l.windows) out.push({ ...l, windows: [w] });
  }
  return out;
}

/** Why the operator sent a record to the dead-letter output (a {@link DeadLetter}'s `code`). */
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
/** Why the operator sent a record to the dead-letter output. */
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/** What kind of failure sent a record to the dead-letter output (stored with it, for alarms and routing). */
export const DeadLetterKind = {
  Decode: 'decode',
  EventTime: 'event-time',
  UserFunction: 'user-function',
  Oversized: 'oversized',
  Kpl: 'kpl',
  Other: 'other',
} as const;
/** What kind of failure sent a record to the dead-letter output. */
export type DeadLetterKind = (typeof DeadLetterKind)[keyof typeof DeadLetterKind];

/** The kind of each of the operator's dead-letter reasons. */
export const DEAD_LETTER_KIND: Readonly<Record<DeadLetterReason, DeadLetterKind>> = {
  [DeadLetterReason.DECODE_FAILED]: DeadLetterKind.Decode,
  [DeadLetterReason.FILTER_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.MAP_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.KEY_SELECTOR_THREW]: DeadLetterKind.UserFunction,
  [DeadLetterReason.INVALID_KEY]: DeadLetterKind.UserFunction,
  [DeadLetterReason.KEY_TOO_LARGE]: DeadLetterKind.Oversized,
  [DeadLetterReason.EVENT_TIME_THREW]: DeadLetterKind.EventTime,
  [DeadLetterReason.INVALID_EVENT_TIME]: DeadLetterKind.EventTime,
  [DeadLetterReason.AGGREGATE_THREW]: DeadLetterKind.UserFunction,
};

/**
 * A record that could not be processed (undecodable, invalid event time, a
 * throwing user function, oversized, a corrupt KPL aggregate). It keeps the
 * record's position and bytes exactly, so nothing is lost and it can be
 * replayed once the cause is fixed; it never blocks the shard.
 */
export interface DeadLetter {
  /** The operator (pipeline) name. */
  readonly operator: string;
  readonly position: Position;
  /** The record's bytes exactly as read from the stream (may be invalid UTF-8; empty when delivered decoded). */
  readonly data: Uint8Array;
  readonly kind: DeadLetterKind;
  /**
   * Why, in words: `<code>: <message>` for the operator's decisions
   * ("key-too-large: key is 12 UTF-8 bytes; keyBy.maxKeyBytes is 8").
   */
  readonly reason: string;
  /** The thrown error as `<name>: <message>`, when one was thrown. */
  readonly error?: string;
  /** Processing time of the decision (epoch ms). */
  readonly at: number;
  /**
   * The operator's reason as a code. Absent for records rejected before the
   * operator (broken KPL aggregates, invalid base64) and not kept by the
   * stored formats.
   */
  readonly code?: DeadLetterReason;
  /** The record's Kinesis partition key; set by the operator, not kept by the stored formats. */
  readonly partitionKey?: string;
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
