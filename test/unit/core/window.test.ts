import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { session, sliding, tumbling } from '../../../lib/index.ts';
import { assignWindows, sessionsConnect, windowStart } from '../../../lib/core/index.ts';
import { maxTimestamp } from '../../../lib/model/index.ts';

describe('tumbling windows', () => {
  it('are half-open [start, end) with maxTimestamp = end - 1', () => {
    const a = tumbling(10);
    expect(assignWindows(a, 0)).toEqual([{ start: 0, end: 10 }]);
    expect(assignWindows(a, 9)).toEqual([{ start: 0, end: 10 }]);
    expect(assignWindows(a, 10)).toEqual([{ start: 10, end: 20 }]);
    expect(maxTimestamp({ start: 0, end: 10 })).toBe(9);
  });
  it('handle negative timestamps', () => {
    expect(assignWindows(tumbling(10), -1)).toEqual([{ start: -10, end: 0 }]);
    expect(assignWindows(tumbling(10), -10)).toEqual([{ start: -10, end: 0 }]);
    expect(windowStart(-11, 0, 10)).toBe(-20);
  });
  it('shift by positive and negative offsets (Flink semantics)', () => {
    expect(assignWindows(tumbling(10, 3), 2)).toEqual([{ start: -7, end: 3 }]);
    expect(assignWindows(tumbling(10, 3), 3)).toEqual([{ start: 3, end: 13 }]);
    expect(assignWindows(tumbling(10, -3), 6)).toEqual([{ start: -3, end: 7 }]);
    expect(assignWindows(tumbling(10, -3), 7)).toEqual([{ start: 7, end: 17 }]);
    expect(assignWindows(tumbling(3_600_000, -900_000), 3_600_000)).toEqual([
      { start: 2_700_000, end: 6_300_000 },
    ]);
  });
});

describe('sliding windows', () => {
  it('put a record in size/slide windows, latest first', () => {
    expect(assignWindows(sliding(10, 5), 7)).toEqual([
      { start: 5, end: 15 },
      { start: 0, end: 10 },
    ]);
  });
  it('allow a size that is not a multiple of slide (floor or ceil windows)', () => {
    expect(assignWindows(sliding(10, 4), 8)).toHaveLength(3);
    expect(assignWindows(sliding(10, 4), 11)).toEqual([
      { start: 8, end: 18 },
      { start: 4, end: 14 },
    ]);
  });
  it('respect offsets and boundaries', () => {
    expect(assignWindows(sliding(10, 5, 2), 2)).toEqual([
      { start: 2, end: 12 },
      { start: -3, end: 7 },
    ]);
    expect(assignWindows(sliding(10, 5, -2), -3)).toEqual([
      { start: -7, end: 3 },
      { start: -12, end: -2 },
    ]);
  });
});

describe('session windows', () => {
  it('open [t, t + gap)', () => {
    expect(assignWindows(session(30), 100)).toEqual([{ start: 100, end: 130 }]);
  });
  it('connect when they overlap or touch (Flink TimeWindow.intersects)', () => {
    expect(sessionsConnect({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(true);
    expect(sessionsConnect({ start: 0, end: 10 }, { start: 5, end: 7 })).toBe(true);
    expect(sessionsConnect({ start: 0, end: 10 }, { start: 11, end: 20 })).toBe(false);
  });
});

describe('the forms the operator runs', () => {
  it('tumbling.windowStart is the start of the one window assignWindows gives, and contains t', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 10_000 })
          .chain((size) =>
            fc.tuple(
              fc.constant(size),
              fc.integer({ min: -(size - 1), max: size - 1 }),
              fc.integer({ min: -1e12, max: 1e12 }),
            ),
          ),
        ([size, offset, t]) => {
          const a = tumbling(size, offset);
          const start = a.windowStart(t);
          expect(assignWindows(a, t)).toEqual([{ start, end: start + size }]);
          expect(start <= t && t < start + size).toBe(true);
        },
      ),
    );
  });

  it('sliding.windowStarts gives every window containing t, latest first, within maxWindowsPerRecord', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 500 })
          .chain((size) =>
            fc
              .integer({ min: Math.ceil(size / 1000), max: size })
              .chain((slide) =>
                fc.tuple(
                  fc.constant(size),
                  fc.constant(slide),
                  fc.integer({ min: -(slide - 1), max: slide - 1 }),
                  fc.integer({ min: -1e9, max: 1e9 }),
                ),
              ),
          ),
        ([size, slide, offset, t]) => {
          const a = sliding(size, slide, offset);
          const into = new Float64Array(a.maxWindowsPerRecord);
          const n = a.windowStarts(t, into);
          const starts = [...into.subarray(0, n)];
          expect(assignWindows(a, t).map((w) => w.start)).toEqual(starts);
          // Every aligned window [s, s + size) with s = offset (mod slide) that contains t, no other.
          const want: number[] = [];
          for (let s = t; s > t - size; s--)
            if ((((s - offset) % slide) + slide) % slide === 0) want.push(s);
          expect(starts).toEqual(want);
        },
      ),
    );
  });

  it('session.connects is sessionsConnect', () => {
    const a = session(10);
    expect(a.connects({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(true);
    expect(a.connects({ start: 0, end: 10 }, { start: 11, end: 20 })).toBe(false);
  });
});
