/**
 * fast-check arbitraries shared by the property suites: window assigners and
 * event-time settings. One definition, so both suites explore the same space.
 */
import fc from 'fast-check';
import { session, sliding, tumbling, type WindowAssigner } from '../../lib/index.ts';

/** A generated window assigner with its parameters (for the reference). */
export interface Win {
  readonly assigner: WindowAssigner;
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
  readonly gap: number;
}

/** Event-time settings: disorder, lateness, idleness. */
export const timeArb = fc.record({
  ooo: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 100 })),
  lateness: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
  idleTimeout: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
  idleAdvance: fc.boolean(),
});

/**
 * A window assigner of one kind. Sliding windows get at most
 * `maxWindowsPerRecord` windows per record (slide ≥ size / that).
 */
export function assignerArb(
  kind: 'tumbling' | 'sliding' | 'session',
  maxWindowsPerRecord = 8,
): fc.Arbitrary<Win> {
  if (kind === 'tumbling') {
    return fc
      .integer({ min: 1, max: 300 })
      .chain((size) =>
        fc.record({
          size: fc.constant(size),
          offset: fc.integer({ min: -(size - 1), max: size - 1 }),
        }),
      )
      .map(({ size, offset }) => ({
        assigner: tumbling(size, offset),
        size,
        slide: size,
        offset,
        gap: 0,
      }));
  }
  if (kind === 'sliding') {
    return fc
      .integer({ min: 2, max: 200 })
      .chain((size) =>
        fc.record({
          size: fc.constant(size),
          slide: fc.integer({ min: Math.ceil(size / maxWindowsPerRecord), max: size }),
        }),
      )
      .chain(({ size, slide }) =>
        fc.record({
          size: fc.constant(size),
          slide: fc.constant(slide),
          offset: fc.integer({ min: -(slide - 1), max: slide - 1 }),
        }),
      )
      .map(({ size, slide, offset }) => ({
        assigner: sliding(size, slide, offset),
        size,
        slide,
        offset,
        gap: 0,
      }));
  }
  return fc
    .integer({ min: 1, max: 100 })
    .map((gap) => ({ assigner: session(gap), size: 0, slide: 0, offset: 0, gap }));
}
