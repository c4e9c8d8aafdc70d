/**
 * The Sink port: where fired window results and late records go.
 *
 * A sink never loses an item silently. `write` either reports, per item, what
 * happened (written, already present, superseded by a higher version) or
 * throws a `SinkError` (lib/ports/errors.ts) that carries every item it did
 * not write, so the caller (the emit outbox) can re-drive exactly those.
 *
 * Items carry deterministic ids (`resultId`, `lateRecordId` in
 * lib/model/ids.ts), so a re-drive after a crash writes the same id again:
 * sinks that can condition their writes turn that into a no-op, the others
 * (Kinesis) deliver it again and consumers dedupe by id.
 */

/** What a sink did with one item. */
export const SinkOutcome = {
  /** The item is now stored/delivered. */
  Written: 'written',
  /** The same item (same id/version) was already there; nothing changed. */
  AlreadyPresent: 'already-present',
  /** A higher version is already there; the item was not applied, and never will regress it. */
  Superseded: 'superseded',
} as const;
/** What a sink did with one item. */
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

/**
 * A destination for operator output: `Sink<WindowResult>` for results,
 * `Sink<LateRecord>` for a late-data side output (one item per window).
 *
 * @example
 * const report = await sink.write(results);
 * // report.items[i].outcome: 'written' | 'already-present' | 'superseded'
 */
export interface Sink<T> {
  /**
   * Writes the items. Resolves with one report entry per item; rejects with a
   * `SinkError` listing the items not written (the others are written).
   * Writing the same items again is always safe.
   */
  write(items: readonly T[]): Promise<SinkWriteReport>;
}
