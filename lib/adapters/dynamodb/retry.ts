/**
 * Retries of throttled or server-failed AWS calls with capped exponential
 * backoff and full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): attempt n waits random() * min(maxDelayMs, baseDelayMs * 2^n).
 *
 * It sits on top of the SDK's own retries (which give up after `maxAttempts`
 * of the client) so that a hot partition throttled for seconds does not fail
 * a whole batch. Generic over the call, so every DynamoDB adapter (result
 * sink, state store) and the Kinesis/SQS adapters share it.
 *
 *     attempt 0 ──x throttled
 *                 ├─ sleep U(0, base)      ─┐
 *     attempt 1 ──x throttled               │ full jitter: concurrent writers
 *                 ├─ sleep U(0, 2·base)     │ spread out instead of retrying
 *     attempt 2 ──✓                        ─┘ in lock-step
 */

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts including the first. @default 8 */
  readonly maxAttempts?: number;
  /** Backoff base. @default 25 */
  readonly baseDelayMs?: number;
  /** Backoff cap. @default 5000 */
  readonly maxDelayMs?: number;
  /** Which errors are worth retrying. @default {@link isThrottlingOrServerError} */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Injectable for tests. @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests; must return [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** Error names AWS uses for throttling, across DynamoDB, Kinesis, S3 and SQS. */
export const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'LimitExceededException',
  'KMSThrottlingException',
]);

/** True for throttling errors and for 5xx / server-fault errors (InternalServerError, ServiceUnavailable). */
export function isThrottlingOrServerError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  if (typeof e.name === 'string' && THROTTLING_ERROR_NAMES.has(e.name)) return true;
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  return typeof e.$retryable === 'object' && e.$retryable !== null;
}

/** The delay before retry number `attempt` (0-based), with full jitter. */
export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const base = options.baseDelayMs ?? 25;
  const cap = options.maxDelayMs ?? 5000;
  const random = options.random ?? Math.random;
  return Math.floor(random() * Math.min(cap, base * 2 ** attempt));
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call`, retrying retryable errors with full-jitter backoff; rethrows
 * the last error when attempts run out, and non-retryable errors at once.
 *
 * @example
 * const out = await withRetry(() => client.send(new PutItemCommand(input)), { maxAttempts: 5 });
 */
export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  const isRetryable = options.isRetryable ?? isThrottlingOrServerError;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt + 1 >= maxAttempts || !isRetryable(error)) throw error;
      await sleep(backoffDelay(attempt, options));
    }
  }
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight; resolves
 * with every result (fulfilled or rejected) in input order, never rejecting,
 * so no item's outcome is lost when another fails.
 */
export async function mapSettled<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  return results;
}
