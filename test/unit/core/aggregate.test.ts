import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  avg,
  count,
  distinctApprox,
  max,
  min,
  sum,
  type AggregateFunction,
} from '../../../lib/index.ts';
import { hllCreate, hllFromJson, hllToJson } from '../../../lib/core/index.ts';

function fold<IN, ACC, OUT>(agg: AggregateFunction<IN, ACC, OUT>, values: readonly IN[]): ACC {
  return values.reduce((acc, v) => agg.add(v, acc), agg.createAccumulator());
}

function roundTrip<IN, ACC, OUT>(agg: AggregateFunction<IN, ACC, OUT>, acc: ACC): ACC {
  return agg.deserialize(JSON.parse(JSON.stringify(agg.serialize(acc))) as never);
}

const builtIns = (): [string, AggregateFunction<number, unknown, unknown>][] => [
  ['count', count<number>()],
  ['sum', sum((v: number) => v)],
  ['min', min((v: number) => v)],
  ['max', max((v: number) => v)],
  ['avg', avg((v: number) => v)],
  ['distinctApprox', distinctApprox((v: number) => v, { precision: 8 })],
];

describe('built-in aggregates', () => {
  it('compute the expected results', () => {
    const values = [3, 1, 4, 1, 5];
    expect(count().getResult(fold(count(), values))).toBe(5);
    expect(
      sum((v: number) => v).getResult(
        fold(
          sum((v: number) => v),
          values,
        ),
      ),
    ).toBe(14);
    expect(
      min((v: number) => v).getResult(
        fold(
          min((v: number) => v),
          values,
        ),
      ),
    ).toBe(1);
    expect(
      max((v: number) => v).getResult(
        fold(
          max((v: number) => v),
          values,
        ),
      ),
    ).toBe(5);
    expect(
      avg((v: number) => v).getResult(
        fold(
          avg((v: number) => v),
          values,
        ),
      ),
    ).toBeCloseTo(2.8);
    expect(
      distinctApprox((v: number) => v).getResult(
        fold(
          distinctApprox((v: number) => v),
          values,
        ),
      ),
    ).toBe(4);
  });

  it('reject non-numeric fields before touching the accumulator', () => {
    const a = avg((v: { x: unknown }) => v.x as number);
    const acc = a.createAccumulator();
    expect(() => a.add({ x: 'nope' }, acc)).toThrow('avg: field must be a finite number');
    expect(acc).toEqual({ sum: 0, count: 0 });
    expect(() => sum((v: number) => v).add(Number.NaN, 0)).toThrow(TypeError);
  });

  for (const [name, agg] of builtIns()) {
    it(`${name}: merge order and grouping do not matter, serialisation round-trips`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 60 }),
          fc.array(fc.nat(59), { maxLength: 5 }),
          (values, cuts) => {
            const whole = agg.getResult(fold(agg, values));
            const points = [...new Set(cuts.map((c) => Math.min(c, values.length)))].sort(
              (a, b) => a - b,
            );
            const parts: unknown[] = [];
            let from = 0;
            for (const p of [...points, values.length]) {
              parts.push(roundTrip(agg, fold(agg, values.slice(from, p))));
              from = p;
            }
            const forward = parts.reduce((a, b) => agg.merge(a, b), agg.createAccumulator());
            const backward = [...parts]
              .reverse()
              .reduce((a, b) => agg.merge(b, a), agg.createAccumulator());
            expect(agg.getResult(forward)).toEqual(whole);
            expect(agg.getResult(backward)).toEqual(whole);
          },
        ),
        { numRuns: 200, seed: 7 },
      );
    });
  }
});

describe('distinctApprox (HyperLogLog)', () => {
  it.each([
    [12, 100],
    [12, 1000],
    [12, 20_000],
    [14, 50_000],
  ])('precision %i, %i distinct values: within 4 standard errors', (precision, n) => {
    const agg = distinctApprox((v: string) => v, { precision });
    let acc = agg.createAccumulator();
    for (let i = 0; i < n; i++) acc = agg.add(`user-${i}`, agg.add(`user-${i}`, acc));
    const estimate = agg.getResult(acc);
    const standardError = 1.04 / Math.sqrt(2 ** precision);
    expect(Math.abs(estimate - n) / n).toBeLessThanOrEqual(4 * standardError);
  });

  it('merging sketches estimates the union', () => {
    const agg = distinctApprox((v: string) => v);
    const a = fold(
      agg,
      Array.from({ length: 5000 }, (_, i) => `a${i}`),
    );
    const b = fold(
      agg,
      Array.from({ length: 5000 }, (_, i) => `a${i + 2500}`),
    );
    const union = agg.getResult(agg.merge(a, b));
    expect(Math.abs(union - 7500) / 7500).toBeLessThan(0.07);
  });

  it('serialises sparse while small and dense when full, both JSON-safe', () => {
    const agg = distinctApprox((v: string) => v);
    const small = agg.serialize(fold(agg, ['x', 'y']));
    expect(Array.isArray(small)).toBe(true);
    const big = agg.serialize(
      fold(
        agg,
        Array.from({ length: 10_000 }, (_, i) => `v${i}`),
      ),
    );
    expect(typeof big).toBe('string');
    expect((big as string).length).toBe(4096);
    expect(JSON.parse(JSON.stringify(big))).toBe(big);
    expect(hllToJson(hllFromJson(big, 12))).toBe(big);
    expect(() => hllFromJson('abc', 12)).toThrow(RangeError);
    expect(hllToJson(hllCreate(4))).toEqual([]);
  });
});
