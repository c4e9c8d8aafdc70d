/**
 * Time windows: half-open event-time intervals `[start, end)` in epoch ms.
 * `maxTimestamp = end - 1` is the last event time inside a window and the
 * watermark at which it fires (Flink's `TimeWindow`).
 */

/** A half-open event-time interval `[start, end)` in epoch ms. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** The last event time that belongs to a window: `end - 1`. */
export function maxTimestamp(window: TimeWindow): number {
  return window.end - 1;
}
