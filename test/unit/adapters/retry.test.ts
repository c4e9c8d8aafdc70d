/** The shared throttling retry helper. */
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  isThrottlingOrServerError,
  mapSettled,
  withRetry,
} from '../../../lib/adapters/sinks.ts';

describe('withRetry', () => {
  it('uses full jitter: U(0, min(cap, base * 2^attempt))', () => {
    expect(backoffDelay(0, { baseDelayMs: 100, random: () => 0.999 })).toBe(99);
    expect(backoffDelay(3, { baseDelayMs: 100, random: () => 0.5 })).toBe(400);
    expect(backoffDelay(20, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 })).toBe(500);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
  });

  it('rethrows a non-retryable error at once and the last error when attempts run out', async () => {
    const sleeps: number[] = [];
    const sleep = (ms: number): Promise<void> => (sleeps.push(ms), Promise.resolve());
    let calls = 0;
    const fatal = new Error('nope');
    await expect(withRetry(() => (calls++, Promise.reject(fatal)), { sleep })).rejects.toBe(fatal);
    expect(calls).toBe(1);
    const throttle = Object.assign(new Error('slow'), { name: 'ThrottlingException' });
    calls = 0;
    await expect(
      withRetry(() => (calls++, Promise.reject(throttle)), { sleep, maxAttempts: 4 }),
    ).rejects.toBe(throttle);
    expect(calls).toBe(4);
    expect(sleeps).toHaveLength(3);
  });

  it('classifies throttling and server errors', () => {
    for (const name of [
      'ProvisionedThroughputExceededException',
      'ThrottlingException',
      'RequestLimitExceeded',
      'SlowDown',
    ]) {
      expect(isThrottlingOrServerError({ name })).toBe(true);
    }
    expect(isThrottlingOrServerError({ name: 'X', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isThrottlingOrServerError({ name: 'X', $fault: 'server' })).toBe(true);
    expect(
      isThrottlingOrServerError({
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(
      isThrottlingOrServerError({
        name: 'ConditionalCheckFailedException',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(isThrottlingOrServerError('boom')).toBe(false);
  });

  it('mapSettled keeps every outcome in input order', async () => {
    const out = await mapSettled([1, 2, 3], 2, (n) =>
      n === 2 ? Promise.reject(new Error('two')) : Promise.resolve(n * 10),
    );
    expect(out.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(out[2]).toEqual({ status: 'fulfilled', value: 30 });
    expect(await mapSettled([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});
