/**
 * Window assigners (Flink semantics). Windows are half-open `[start, end)`;
 * `maxTimestamp = end - 1` is the last event time inside a window and the
 * watermark at which it fires.
 */
import { ConfigError } from '../errors.ts';
import type { TimeWindow } from '../model/time-window.ts';
import type { Millis } from './duration.ts';

/** Fixed-size, non-overlapping windows. */
export interface TumblingWindows {
  readonly kind: 'tumbling';
  readonly size: Millis;
  readonly offset: Millis;
}

/** Fixed-size windows starting every `slide` ms; a record is in up to ceil(size/slide) of them. */
export interface SlidingWindows {
  readonly kind: 'sliding';
  readonly size: Millis;
  readonly slide: Millis;
  readonly offset: Millis;
}

/** Per-key activity sessions closed by a gap of inactivity; overlapping or touching sessions merge. */
export interface SessionWindows {
  readonly kind: 'session';
  readonly gap: Millis;
}

/** How records are grouped into windows. A value, built with {@link tumbling}, {@link sliding} or {@link session}. */
export type WindowAssigner = TumblingWindows | SlidingWindows | SessionWindows;

/** Longest window or gap accepted: 366 days. */
export const MAX_WINDOW_SIZE: Millis = 366 * 86_400_000;

function positiveDuration(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_WINDOW_SIZE) {
    throw new ConfigError(field, value, `must be an integer number of ms in 1..${MAX_WINDOW_SIZE}`);
  }
}

/**
 * Tumbling windows of `size` ms, aligned to the epoch plus `offset`
 * (Flink's `TumblingEventTimeWindows.of(size, offset)`). Negative offsets are
 * allowed; `|offset| < size`.
 *
 * @example
 * tumbling(minutes(1))               // [12:00, 12:01), [12:01, 12:02), ...
 * tumbling(hours(1), minutes(-15))   // [11:45, 12:45), ...
 */
export function tumbling(size: Millis, offset: Millis = 0): TumblingWindows {
  positiveDuration('tumbling.size', size);
  if (!Number.isSafeInteger(offset) || Math.abs(offset) >= size) {
    throw new ConfigError(
      'tumbling.offset',
      offset,
      `must be an integer with |offset| < size (${size})`,
    );
  }
  return Object.freeze({ kind: 'tumbling', size, offset });
}

/**
 * Sliding windows of `size` ms that start every `slide` ms
 * (Flink's `SlidingEventTimeWindows.of(size, slide, offset)`). `size` need not
 * be a multiple of `slide`; a record then belongs to floor or ceil(size/slide)
 * windows. `slide` must not exceed `size` (weir refuses gaps between windows,
 * where records would belong to no window at all).
 *
 * @example
 * sliding(minutes(10), minutes(1)) // every record is in 10 windows
 */
export function sliding(size: Millis, slide: Millis, offset: Millis = 0): SlidingWindows {
  positiveDuration('sliding.size', size);
  if (!Number.isSafeInteger(slide) || slide < 1 || slide > size) {
    throw new ConfigError(
      'sliding.slide',
      slide,
      `must be an integer number of ms in 1..size (${size})`,
    );
  }
  if (size / slide > 1000) {
    throw new ConfigError(
      'sliding.slide',
      slide,
      `must be at least size/1000 (${Math.ceil(size / 1000)}) so a record is in at most 1000 windows`,
    );
  }
  if (!Number.isSafeInteger(offset) || Math.abs(offset) >= slide) {
    throw new ConfigError(
      'sliding.offset',
      offset,
      `must be an integer with |offset| < slide (${slide})`,
    );
  }
  return Object.freeze({ kind: 'sliding', size, slide, offset });
}

/**
 * Session windows: a record at `t` opens `[t, t + gap)`; sessions of one key
 * that overlap or touch merge (Flink's `EventTimeSessionWindows.withGap`).
 *
 * @example
 * session(minutes(30))
 */
export function session(gap: Millis): SessionWindows {
  positiveDuration('session.gap', gap);
  return Object.freeze({ kind: 'session', gap });
}

/**
 * Start of the aligned window of `size` containing `timestamp`
 * (Flink's `TimeWindow.getWindowStartWithOffset`, correct for negative
 * timestamps and offsets).
 */
export function windowStart(timestamp: number, offset: number, size: number): number {
  const r = (timestamp - offset) % size;
  return timestamp - (r < 0 ? r + size : r);
}

/**
 * All windows a record at `timestamp` belongs to, latest start first (Flink's
 * order). For sessions this is the record's own proto-window `[t, t + gap)`.
 */
export function assignWindows(assigner: WindowAssigner, timestamp: number): TimeWindow[] {
  switch (assigner.kind) {
    case 'tumbling': {
      const start = windowStart(timestamp, assigner.offset, assigner.size);
      return [{ start, end: start + assigner.size }];
    }
    case 'sliding': {
      const out: TimeWindow[] = [];
      const last = windowStart(timestamp, assigner.offset, assigner.slide);
      for (let start = last; start > timestamp - assigner.size; start -= assigner.slide) {
        out.push({ start, end: start + assigner.size });
      }
      return out;
    }
    case 'session':
      return [{ start: timestamp, end: timestamp + assigner.gap }];
  }
}

/** Whether two windows overlap or touch, so that sessions containing them merge (Flink's `TimeWindow.intersects`). */
export function sessionsConnect(a: TimeWindow, b: TimeWindow): boolean {
  return a.start <= b.end && b.start <= a.end;
}
