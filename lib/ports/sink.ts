/**
 * The output side of an operator: where fired window results and late records
 * go.
 *
 * A sink never loses an item silently. `write` either reports, per item, what
 * happened (written, already present, superseded by a higher version) or
 * throws a {@link SinkError} that carries every item it did not write, so the
 * caller (the emit outbox) can re-drive exactly those.
 *
 * Results carry a deterministic {@link resultId} derived from (operator, key,
 * window, version), so a re-drive after a crash writes the same id again:
 * sinks that can condition their writes turn that into a no-op, the others
 * (Kinesis) deliver it again and consumers dedupe by id.
 */
import type { Position } from '../core/position.ts';
import { WeirError } from '../errors.ts';

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A half-open window [start, end) in epoch milliseconds. */
export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

/** One firing of one window of one key. */
export interface WindowResult {
  /** The operator (pipeline) name. */
  readonly operator: string;
  /** The logical key (`keyBy`). */
  readonly key: string;
  readonly window: WindowBounds;
  /** The aggregate's result. */
  readonly value: JsonValue;
  /** 1 for the first firing, +1 per late re-firing. */
  readonly version: number;
  /** Deterministic id: {@link resultId} of (operator, key, window, version). */
  readonly id: string;
  /** Processing time of the firing (epoch ms); informational, not part of the id. */
  readonly firedAt?: number;
  /**
   * Session windows: earlier results this one replaces (fired sessions that
   * merged into this one). A sink removes or masks them, and never lets a
   * late write of a superseded window bring it back.
   */
  readonly supersedes?: readonly WindowBounds[];
}

/** A record that arrived after its window's allowed lateness: the late-data side output. */
export interface LateRecord {
  readonly operator: string;
  /** The side output's name (`sideOutputLateData(tag)`). */
  readonly output: string;
  readonly position: Position;
  /** The record's raw bytes, unchanged. */
  readonly data: Uint8Array;
  /** The record's event time (epoch ms). */
  readonly eventTime: number;
  /** The window it was late for, when there is exactly one. */
  readonly window?: WindowBounds;
  /** The operator watermark that made it late. */
  readonly watermark: number;
  readonly reason: string;
}

/**
 * The deterministic id of a result: the same (operator, key, window, version)
 * always gives the same id, and different ones never collide (operator and key
 * are URI-encoded, so the separators cannot occur inside them).
 *
 * @example
 * resultId('clicks', 'user-1', { start: 0, end: 60000 }, 1);
 * // "clicks/user-1/0-60000/v1"
 */
export function resultId(
  operator: string,
  key: string,
  window: WindowBounds,
  version: number,
): string {
  return (
    resultIdPart.operator(operator) +
    resultIdPart.key(key) +
    resultIdPart.window(window.start, window.end) +
    String(version)
  );
}

/**
 * The parts of a {@link resultId}, in order (the version follows the last
 * one), for a caller that builds many ids and caches the parts they share
 * (the core's firing: one operator, recurring keys, windows in order).
 */
export const resultIdPart = {
  /** `<operator>/`, URI-encoded. */
  operator: (operator: string): string => encodeURIComponent(operator) + '/',
  /** `<key>/`, URI-encoded. */
  key: (key: string): string => encodeURIComponent(key) + '/',
  /** `<start>-<end>/v`. */
  window: (start: number, end: number): string => String(start) + '-' + String(end) + '/v',
} as const;

/**
 * Builds a {@link WindowResult} with its id filled in.
 *
 * @example
 * const r = windowResult({ operator: 'clicks', key: 'u1', window: { start: 0, end: 60000 }, value: 3, version: 1 });
 */
export function windowResult(fields: Omit<WindowResult, 'id'>): WindowResult {
  return { ...fields, id: resultId(fields.operator, fields.key, fields.window, fields.version) };
}

/**
 * The deterministic id of a late record: (operator, output, shard, offset and,
 * when present, window). A retried batch produces the same id.
 */
export function lateRecordId(
  record: Pick<LateRecord, 'operator' | 'output' | 'position' | 'window'>,
): string {
  const p = record.position;
  const w = record.window ? `/${record.window.start}-${record.window.end}` : '';
  return (
    `${encodeURIComponent(record.operator)}/${encodeURIComponent(record.output)}/` +
    `${encodeURIComponent(p.shardId)}/${p.sequenceNumber}.${p.subSequenceNumber}${w}`
  );
}

/** What a sink did with one item. */
export const SinkOutcome = {
  /** The item is now stored/delivered. */
  Written: 'written',
  /** The same item (same id/version) was already there; nothing changed. */
  AlreadyPresent: 'already-present',
  /** A higher version is already there; the item was not applied, and never will regress it. */
  Superseded: 'superseded',
} as const;
export type SinkOutcome = (typeof SinkOutcome)[keyof typeof SinkOutcome];

/** The outcome of one item of a {@link Sink.write} call. */
export interface SinkItemReport {
  /** Index of the item in the array given to `write`. */
  readonly index: number;
  readonly outcome: SinkOutcome;
  /** For `already-present` / `superseded`: the version the sink holds, when it knows. */
  readonly storedVersion?: number;
}

/** Per-item outcomes of a successful {@link Sink.write}, one per input item, in input order. */
export interface SinkWriteReport {
  readonly items: readonly SinkItemReport[];
  readonly written: number;
  readonly alreadyPresent: number;
  readonly superseded: number;
}

/** Builds a {@link SinkWriteReport} from per-item outcomes (sorted by index). */
export function sinkWriteReport(items: readonly SinkItemReport[]): SinkWriteReport {
  const sorted = [...items].sort((a, b) => a.index - b.index);
  let written = 0;
  let alreadyPresent = 0;
  let superseded = 0;
  for (const i of sorted) {
    if (i.outcome === SinkOutcome.Written) written += 1;
    else if (i.outcome === SinkOutcome.AlreadyPresent) alreadyPresent += 1;
    else superseded += 1;
  }
  return { items: sorted, written, alreadyPresent, superseded };
}

/**
 * A destination for operator output.
 *
 * @example
 * const report = await sink.write(results);
 * // report.items[i].outcome: 'written' | 'already-present' | 'superseded'
 */
export interface Sink<T> {
  /**
   * Writes the items. Resolves with one report entry per item; rejects with a
   * {@link SinkError} listing the items not written (the others are written).
   * Writing the same items again is always safe.
   */
  write(items: readonly T[]): Promise<SinkWriteReport>;
}

/**
 * A sink could not write some items. `unwritten` are exactly the items that
 * must be re-driven (through the outbox); `report` holds the outcomes of the
 * items that did complete. `retryable` is false when re-driving the same item
 * cannot succeed (for example, it is larger than the sink accepts).
 */
export class SinkError<T = unknown> extends WeirError {
  readonly sink: string;
  readonly unwritten: readonly T[];
  readonly report: SinkWriteReport;
  readonly retryable: boolean;
  constructor(
    sink: string,
    message: string,
    details: {
      unwritten: readonly T[];
      report: SinkWriteReport;
      retryable: boolean;
      cause?: unknown;
    },
  ) {
    super(
      `${sink}: ${message} (${details.unwritten.length} item(s) not written; ` +
        `${details.retryable ? 're-drive them through the outbox' : 'they cannot be written as they are'})`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.sink = sink;
    this.unwritten = details.unwritten;
    this.report = details.report;
    this.retryable = details.retryable;
  }
}
