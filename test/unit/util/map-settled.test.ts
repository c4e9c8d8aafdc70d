/** The bounded fan-out the adapters share. */
import { describe, expect, it } from 'vitest';
import { mapSettled } from '../../../lib/util/map-settled.ts';

describe('mapSettled', () => {
  it('keeps every outcome in input order', async () => {
    const out = await mapSettled([1, 2, 3], 2, (n) =>
      n === 2 ? Promise.reject(new Error('two')) : Promise.resolve(n * 10),
    );
    expect(out.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(out[2]).toEqual({ status: 'fulfilled', value: 30 });
    expect(await mapSettled([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
