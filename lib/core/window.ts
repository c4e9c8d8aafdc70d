/**
 * Window assigners (Flink's `WindowAssigner`): which windows a record at an
 * event time belongs to. Windows are half-open `[start, end)`;
 * `maxTimestamp = end - 1` is the last event time inside a window and the
 * watermark at which it fires.
 *
 * The operator runs these objects. `assignWindows` is the general answer;
 * the allocation-free forms next to it (`windowStart`, `windowStarts`) are
 * what the operator calls per record, and `assignWindows` is built on them,
 * so the unit tests of one are tests of the other.
 */
import { ConfigError } from '../errors.ts';
import type { TimeWindow } from '../model/time-window.ts';
import type { Millis } from './duration.ts';

/** Longest window or gap accepted: 366 days. */
export const MAX_WINDOW_SIZE: Millis = 366 * 86_400_000;

function positiveDuration(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_WINDOW_SIZE) {
    throw new ConfigError(field, value, `must be an integer number of ms in 1..${MAX_WINDOW_SIZE}`);
  }
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

/** Fixed-size, non-overlapping windows. Built with {@link tumbling}. */
export class TumblingWindows {
  readonly kind = 'tumbling' as const;
  readonly size: Millis;
  readonly offset: Millis;

  /** Validates like {@link tumbling} (which also freezes the result). */
  constructor(size: Millis, offset: Millis = 0) {
    positiveDuration('tumbling.size', size);
    if (!Number.isSafeInteger(offset) || Math.abs(offset) >= size) {
      throw new ConfigError(
        'tumbling.offset',
        offset,
        `must be an integer with |offset| < size (${size})`,
      );
    }
    this.size = size;
    this.offset = offset;
  }

  /** Start of the one window a record at `timestamp` belongs to. */
  windowStart(timestamp: number): number {
    return windowStart(timestamp, this.offset, this.size);
  }

  /** The window a record at `timestamp` belongs to. */
  assignWindows(timestamp: number): TimeWindow[] {
    const start = this.windowStart(timestamp);
    return [{ start, end: start + this.size }];
  }
}

/**
 * Fixed-size windows starting every `slide` ms; a record is in floor or
 * ceil(size/slide) of them. Built with {@link sliding}.
 */
export class SlidingWindows {
  readonly kind = 'sliding' as const;
  readonly size: Millis;
  readonly slide: Millis;
  readonly offset: Millis;

  /** Validates like {@link sliding} (which also freezes the result). */
  constructor(size: Millis, slide: Millis, offset: Millis = 0) {
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
    this.size = size;
    this.slide = slide;
    this.offset = offset;
  }

  /** The most windows a record belongs to: ceil(size / slide), at most 1000. */
  get maxWindowsPerRecord(): number {
    return Math.ceil(this.size / this.slide);
  }

  /**
   * Writes the starts of the windows a record at `timestamp` belongs to into
   * `into`, latest first (Flink's order), and returns how many there are;
   * each window ends at `start + size`. `into` holds at least
   * {@link maxWindowsPerRecord} entries.
   */
  windowStarts(timestamp: number, into: Float64Array): number {
    const size = this.size;
    const slide = this.slide;
    let n = 0;
    for (let start = windowStart(timestamp, this.offset, slide); start > timestamp - size;) {
      into[n++] = start;
      start -= slide;
    }
    return n;
  }

  /** The windows a record at `timestamp` belongs to, latest start first. */
  assignWindows(timestamp: number): TimeWindow[] {
    const starts = new Float64Array(this.maxWindowsPerRecord);
    const n = this.windowStarts(timestamp, starts);
    const out: TimeWindow[] = [];
    for (let j = 0; j < n; j++) {
      const start = starts[j] as number;
      out.push({ start, end: start + this.size });
    }
    return out;
  }
}

/**
 * Per-key activity sessions closed by a gap of inactivity: a merging
 * assigner (Flink's `EventTimeSessionWindows`). A record opens its
 * proto-window `[t, t + gap)`; sessions of one key that overlap or touch
 * merge ({@link SessionWindows.connects}); the operator's
 * `MergingWindowSet` does the merging. Built with {@link session}.
 */
export class SessionWindows {
  readonly kind = 'session' as const;
  readonly gap: Millis;

  /** Validates like {@link session} (which also freezes the result). */
  constructor(gap: Millis) {
    positiveDuration('session.gap', gap);
    this.gap = gap;
  }

  /** The proto-window `[timestamp, timestamp + gap)` of a record. */
  assignWindows(timestamp: number): TimeWindow[] {
    return [{ start: timestamp, end: timestamp + this.gap }];
  }

  /** Whether two sessions merge: they overlap or touch (Flink's `TimeWindow.intersects`). */
  connects(a: TimeWindow, b: TimeWindow): boolean {
    return sessionsConnect(a, b);
  }
}

/**
 * How records are grouped into windows: one of the three assigners, built
 * with {@link tumbling}, {@link sliding} or {@link session}.
 */
export type WindowAssigner = TumblingWindows | SlidingWindows | SessionWindows;

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
  return Object.freeze(new TumblingWindows(size, offset));
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
  return Object.freeze(new SlidingWindows(size, slide, offset));
}

/**
 * Session windows: a record at `t` opens `[t, t + gap)`; sessions of one key
 * that overlap or touch merge (Flink's `EventTimeSessionWindows.withGap`).
 *
 * @example
 * session(minutes(30))
 */
export function session(gap: Millis): SessionWindows {
  return Object.freeze(new SessionWindows(gap));
}

/**
 * All windows a record at `timestamp` belongs to, latest start first (Flink's
 * order). For sessions this is the record's own proto-window `[t, t + gap)`.
 */
export function assignWindows(assigner: WindowAssigner, timestamp: number): TimeWindow[] {
  return assigner.assignWindows(timestamp);
}

/** Whether two windows overlap or touch, so that sessions containing them merge (Flink's `TimeWindow.intersects`). */
export function sessionsConnect(a: TimeWindow, b: TimeWindow): boolean {
  return a.start <= b.end && b.start <= a.end;
}
