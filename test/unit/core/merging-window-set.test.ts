/**
 * MergingWindowSet: a key's batch sessions merged with its stored sessions
 * exactly where SessionWindows.connects says (overlap or touch), compared
 * with a naive transitive closure of that relation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { session, type TimeWindow } from '../../../lib/index.ts';
import { MergingWindowSet } from '../../../lib/core/index.ts';
import type { WindowItem } from '../../../lib/ports/state-store.ts';

const sum = {
  merge: (a: number, b: number) => a + b,
  deserialize: (j: WindowItem['accumulator']) => j as number,
};

function stored(w: TimeWindow, acc: number, purged = false): WindowItem {
  return {
    key: 'k',
    start: w.start,
    end: w.end,
    accumulator: purged ? null : acc,
    absorbed: {},
    firedVersion: 0,
    pending: true,
    cleanupAt: w.end - 1,
    revision: 1,
    purged,
    supersedes: [],
    outbox: null,
  };
}

/** Groups of windows connected by `connects`, transitively. */
function closure(ws: readonly TimeWindow[]): TimeWindow[][] {
  const connects = session(1).connects.bind(session(1));
  const groups: TimeWindow[][] = [];
  for (const w of ws) {
    const joined = groups.filter((g) => g.some((x) => connects(x, w)));
    const rest = groups.filter((g) => !joined.includes(g));
    groups.length = 0;
    groups.push(...rest, [w, ...joined.flat()]);
  }
  return groups;
}

describe('MergingWindowSet', () => {
  it('merges batch and stored sessions that overlap or touch, and leaves untouched stored ones alone', () => {
    const set = new MergingWindowSet<number>(sum);
    set.addBatchSession(28, 40, 1);
    set.addBatchSession(50, 55, 2);
    set.addBatchSession(70, 75, 4);
    const merged = set.merge([
      stored({ start: 10, end: 30 }, 10),
      stored({ start: 45, end: 60 }, 20),
      stored({ start: 80, end: 90 }, 40),
      stored({ start: 70, end: 75 }, 0, true),
    ]);
    expect(
      merged.map((m) => [m.start, m.end, m.acc, m.stored.length, m.tombstone?.purged]),
    ).toEqual([
      [10, 40, 11, 1, undefined],
      [45, 60, 22, 1, undefined],
      [70, 75, 4, 0, true],
    ]);
  });

  it('gives the groups the transitive closure of connects gives, for those with a batch session', () => {
    const win = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 15 }))
      .map(([start, len]): TimeWindow => ({ start, end: start + len }));
    fc.assert(
      fc.property(
        fc.array(win, { maxLength: 6 }),
        fc.array(win, { maxLength: 6 }),
        (batch, old) => {
          // Batch sessions are disjoint and not touching among themselves (the operator merged them already).
          const own = closure(batch).map((g) => ({
            start: Math.min(...g.map((w) => w.start)),
            end: Math.max(...g.map((w) => w.end)),
          }));
          const set = new MergingWindowSet<number>(sum);
          for (const w of own) set.addBatchSession(w.start, w.end, 1);
          const merged = set.merge(old.map((w) => stored(w, 100)));
          const want = closure([...own, ...old])
            .filter((g) => g.some((w) => own.includes(w)))
            .map((g) => [
              Math.min(...g.map((w) => w.start)),
              Math.max(...g.map((w) => w.end)),
              g.filter((w) => own.includes(w)).length +
                100 * g.filter((w) => !own.includes(w)).length,
            ])
            .sort((a, b) => (a[0] as number) - (b[0] as number));
          expect(merged.map((m) => [m.start, m.end, m.acc])).toEqual(want);
        },
      ),
    );
  });
});
