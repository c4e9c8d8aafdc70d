/**
 * The one retry policy of the adapters and the producer: classification,
 * full-jitter backoff, validation, and the retry loop, with a hand-written
 * fake of sleep and randomness (no mocking framework).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/index.ts';
import {
  backoffDelay,
  isTransientError,
  retryPolicy,
  sleepBeforeRetry,
  withRetry,
} from '../../../lib/adapters/retry.ts';

/** Records every wait instead of waiting. */
function fakeSleep(): {
  waits: { ms: number; signal: AbortSignal | undefined }[];
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
} {
  const waits: { ms: number; signal: AbortSignal | undefined }[] = [];
  return { waits, sleep: (ms, signal) => (waits.push({ ms, signal }), Promise.resolve()) };
}

const throttled = (): Error =>
  Object.assign(new Error('slow'), { name: 'ThrottlingException', $fault: 'client' });

describe('backoffDelay: full jitter, capped', () => {
  it('uses U(0, min(cap, base * 2^attempt))', () => {
    expect(backoffDelay(0, { baseDelayMs: 100, random: () => 0.999 })).toBe(99);
    expect(backoffDelay(3, { baseDelayMs: 100, random: () => 0.5 })).toBe(400);
    expect(backoffDelay(20, { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 })).toBe(500);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
  });

  it('stays within [0, min(max, base * 2^attempt)) for any random draw', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 5_000 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(5_000, 100 * 2 ** attempt);
      expect(backoffDelay(attempt, { ...policy, random: () => 0 })).toBe(0);
      const top = backoffDelay(attempt, { ...policy, random: () => 0.999_999 });
      expect(top).toBeLessThan(cap);
      expect(top).toBeGreaterThanOrEqual(cap - 1);
      for (let k = 0; k < 50; k++) {
        const d = backoffDelay(attempt, { ...policy, random: Math.random });
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(cap);
      }
    }
  });
});

describe('withRetry', () => {
  it('rethrows a non-retryable error at once and the last error when attempts run out', async () => {
    const { sleep, waits } = fakeSleep();
    let calls = 0;
    const fatal = new Error('nope');
    await expect(withRetry(() => (calls++, Promise.reject(fatal)), { sleep })).rejects.toBe(fatal);
    expect(calls).toBe(1);
    const throttle = throttled();
    calls = 0;
    await expect(
      withRetry(() => (calls++, Promise.reject(throttle)), { sleep, maxAttempts: 4 }),
    ).rejects.toBe(throttle);
    expect(calls).toBe(4);
    expect(waits).toHaveLength(3);
  });

  it('GIVEN two transient failures THEN it waits the growing jittered delays and returns the third answer', async () => {
    const { sleep, waits } = fakeSleep();
    const attempts: number[] = [];
    const out = await withRetry(
      (attempt) => {
        attempts.push(attempt);
        return attempt < 2 ? Promise.reject(throttled()) : Promise.resolve('ok');
      },
      { sleep, random: () => 0.5, baseDelayMs: 40 },
    );
    expect(out).toBe('ok');
    expect(attempts).toEqual([0, 1, 2]);
    expect(waits.map((w) => w.ms)).toEqual([20, 40]);
  });

  it('GIVEN isRetryable THEN it decides instead of the default classification', async () => {
    const { sleep } = fakeSleep();
    let calls = 0;
    const conflict = Object.assign(new Error('conflict'), { name: 'TransactionConflictException' });
    await expect(
      withRetry(() => (calls++, Promise.reject(conflict)), {
        sleep,
        maxAttempts: 3,
        isRetryable: (e) => e === conflict,
      }),
    ).rejects.toBe(conflict);
    expect(calls).toBe(3);
  });
});

describe('retryPolicy', () => {
  it('GIVEN no options THEN 8 attempts, 25 ms base, 5 s cap; a caller may change the defaults', () => {
    expect(retryPolicy()).toMatchObject({ maxAttempts: 8, baseDelayMs: 25, maxDelayMs: 5_000 });
    expect(retryPolicy({}, { defaults: { baseDelayMs: 100 } }).baseDelayMs).toBe(100);
    expect(retryPolicy({ baseDelayMs: 7 }, { defaults: { baseDelayMs: 100 } }).baseDelayMs).toBe(7);
  });

  it('GIVEN an out-of-range number THEN ConfigError names the field and echoes the value', () => {
    expect(() => retryPolicy({ maxAttempts: 0 }, { field: 'retry' })).toThrow(
      new ConfigError('retry.maxAttempts', 0, 'must be an integer 1..100'),
    );
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(ConfigError);
    expect(() => retryPolicy({ maxDelayMs: 1.5 })).toThrow(/maxDelayMs must be an integer/);
  });

  it('sleepBeforeRetry waits the policy backoff and passes the abort signal on', async () => {
    const { sleep, waits } = fakeSleep();
    const policy = retryPolicy({ sleep, random: () => 0.999, baseDelayMs: 100, maxDelayMs: 250 });
    const abort = new AbortController();
    for (let attempt = 0; attempt < 3; attempt++)
      await sleepBeforeRetry(policy, attempt, abort.signal);
    expect(waits.map((w) => w.ms)).toEqual([99, 199, 249]);
    expect(waits.every((w) => w.signal === abort.signal)).toBe(true);
  });
});

describe('isTransientError: the one classification', () => {
  it('GIVEN throttling, server-fault and timeout names THEN transient', () => {
    for (const name of [
      'ProvisionedThroughputExceededException',
      'ThrottlingException',
      'RequestLimitExceeded',
      'SlowDown',
      'LimitExceededException',
      'InternalFailure',
      'ServiceUnavailableException',
      'RequestTimeout',
      'TimeoutError',
    ]) {
      expect(isTransientError({ name })).toBe(true);
    }
  });

  it('GIVEN a 5xx, 429, server fault, SDK-retryable or dropped connection THEN transient', () => {
    expect(isTransientError({ name: 'X', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isTransientError({ name: 'X', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isTransientError({ name: 'X', $fault: 'server' })).toBe(true);
    expect(isTransientError({ name: 'X', $retryable: { throttling: false } })).toBe(true);
    expect(
      isTransientError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    ).toBe(true);
  });

  it('GIVEN a client error, a failed condition or a non-object THEN not transient', () => {
    expect(
      isTransientError({
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(
      isTransientError({
        name: 'ConditionalCheckFailedException',
        $metadata: { httpStatusCode: 400 },
      }),
    ).toBe(false);
    expect(isTransientError({ name: 'ResourceNotFoundException', $fault: 'client' })).toBe(false);
    expect(isTransientError(new Error('a bug'))).toBe(false);
    expect(isTransientError('boom')).toBe(false);
  });
});
