/** Small shared helpers: size-limited chunks and integer options. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/index.ts';
import { chunksBySize, intOption } from '../../../lib/util/index.ts';

describe('chunksBySize', () => {
  const sized = (...sizes: number[]) => sizes.map((size, i) => ({ i, size }));

  it('GIVEN limits on count and bytes THEN runs in order within both; an oversized item goes alone', () => {
    const runs = [...chunksBySize(sized(4, 4, 4, 20, 1, 1, 1), 2, 10)].map((r) =>
      r.map((x) => x.i),
    );
    expect(runs).toEqual([[0, 1], [2], [3], [4, 5], [6]]);
    expect([...chunksBySize([], 2, 10)]).toEqual([]);
  });
});

describe('intOption', () => {
  it('GIVEN no value THEN the fallback; GIVEN a value in range THEN it', () => {
    expect(intOption('concurrency', undefined, 16, 1, 1000)).toBe(16);
    expect(intOption('concurrency', 3, 16, 1, 1000)).toBe(3);
  });

  it('GIVEN a value out of range or not an integer THEN ConfigError naming the field and the value', () => {
    expect(() => intOption('concurrency', 0, 16, 1, 1000)).toThrow(
      new ConfigError('concurrency', 0, 'must be an integer 1..1000'),
    );
    expect(() => intOption('concurrency', 2.5, 16, 1, 1000)).toThrow(/given 2.5/);
  });
});
