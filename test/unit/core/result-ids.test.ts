import { describe, expect, it } from 'vitest';
import { resultId } from '../../../lib/index.ts';
import { ResultIds } from '../../../lib/model/ids.ts';

describe('ResultIds', () => {
  const keys = ['user-1', '/products/item-7', 'a/b%2Fc', 'ünïcødé 🚀', ' ', '-1', 'k'.repeat(300)];
  const windows = [
    { start: 0, end: 60_000 },
    { start: -120_000, end: -60_000 },
    { start: 1_700_000_040_000, end: 1_700_000_100_000 },
  ];

  it('builds exactly the ids resultId builds, for every operator, key, window and version', () => {
    for (const operator of ['clicks', 'page views/eu', 'op%']) {
      const ids = new ResultIds(operator);
      for (let round = 0; round < 2; round++) {
        for (const key of keys)
          for (const w of windows)
            for (const version of [1, 2, 17])
              expect(ids.of(key, w.start, w.end, version)).toBe(
                resultId(operator, key, w, version),
              );
      }
    }
  });

  it('keeps giving the same ids after its key cache is cleared', () => {
    const ids = new ResultIds('op');
    const first = ids.of('key-0', 0, 10, 1);
    for (let i = 1; i <= 10_001; i++) ids.of(`key-${i}`, 0, 10, 1);
    expect(ids.of('key-0', 0, 10, 1)).toBe(first);
    expect(ids.of('key-10001', 0, 10, 1)).toBe(
      resultId('op', 'key-10001', { start: 0, end: 10 }, 1),
    );
  });
});
