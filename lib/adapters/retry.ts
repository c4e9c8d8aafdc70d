/**
 * The one retry policy of weir's AWS calls: every adapter (DynamoDB, S3,
 * SQS, Kinesis) and the producer classify errors with
 * {@link isTransientError} and wait with {@link backoffDelay}, capped
 * exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): the wait after failed attempt n (0-based) is
 * random() * min(maxDelayMs, baseDelayMs * 2^n).
 *
 * It sits on top of the SDK's own retries (which give up after the client's
 * `maxAttempts`), so that a hot partition or shard throttled for seconds
 * does not fail a whole batch.
 *
 *     attempt 0 ──x throttled
 *                 ├─ sleep U(0, base)      ─┐
 *     attempt 1 ──x throttled               │ full jitter: concurrent writers
 *                 ├─ sleep U(0, 2·base)     │ spread out instead of retrying
 *     attempt 2 ──✓                        ─┘ in lock-step
 *
 * Callers that retry only the failed part of a batch call (PutRecords,
 * SendMessageBatch, BatchGetItem) keep their own loop and use
 * {@link sleepBeforeRetry} between rounds; single calls use {@link withRetry}.
 */
import { intOption } from '../util/int-option.ts';
import { sleep } from '../util/sleep.ts';

/** Options of the retry policy (every field optional; see {@link retryPolicy}). */
export interface RetryOptions {
  /** Total attempts including the first (1 = never retry), 1..100. @default 8 */
  readonly maxAttempts?: number;
  /** Backoff base: the cap of the first retry's delay, 0..3600000 ms. @default 25 (the producer: 100) */
  readonly baseDelayMs?: number;
  /** Backoff cap, 0..3600000 ms. @default 5000 */
  readonly maxDelayMs?: number;
  /** Which errors are worth retrying. @default {@link isTransientError} */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Waits; injected by tests. An aborted signal ends the wait early. @default a setTimeout-based sleep */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Randomness for the jitter; must return [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** {@link RetryOptions} with every default applied and every number checked. */
export type RetryPolicy = { readonly [K in keyof RetryOptions]-?: NonNullable<RetryOptions[K]> };

/** The longest backoff setting accepted: one hour. */
const MAX_MS = 3_600_000;

/** The policy's defaults (AWS calls of the adapters; the producer starts at 100 ms). */
export const DEFAULT_RETRY = { maxAttempts: 8, baseDelayMs: 25, maxDelayMs: 5_000 } as const;

/**
 * Applies defaults and validates, failing fast with a {@link ConfigError}
 * that names the field (`<field>.maxAttempts`, or `maxAttempts` when `field`
 * is empty). `defaults` overrides the numeric defaults of one caller. A
 * resolved policy passes through unchanged in meaning.
 *
 * @example
 * const policy = retryPolicy(props.retry, { field: 'retry' });
 * await sleepBeforeRetry(policy, 0);
 */
export function retryPolicy(
  options: RetryOptions = {},
  config: {
    readonly defaults?: Partial<Pick<RetryOptions, 'maxAttempts' | 'baseDelayMs' | 'maxDelayMs'>>;
    readonly field?: string;
  } = {},
): RetryPolicy {
  const defaults = { ...DEFAULT_RETRY, ...config.defaults };
  const name = (f: string): string => (config.field ? `${config.field}.${f}` : f);
  return {
    maxAttempts: intOption(name('maxAttempts'), options.maxAttempts, defaults.maxAttempts, 1, 100),
    baseDelayMs: intOption(
      name('baseDelayMs'),
      options.baseDelayMs,
      defaults.baseDelayMs,
      0,
      MAX_MS,
    ),
    maxDelayMs: intOption(name('maxDelayMs'), options.maxDelayMs, defaults.maxDelayMs, 0, MAX_MS),
    isRetryable: options.isRetryable ?? isTransientError,
    sleep: options.sleep ?? sleep,
    random: options.random ?? Math.random,
  };
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

/** Error names of server-side failures and timeouts (retrying can succeed). */
export const SERVER_ERROR_NAMES: ReadonlySet<string> = new Set([
  'InternalFailure',
  'InternalFailureException',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Node system error codes of a connection that failed or dropped. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** The network error code (`ECONNRESET`, ...) of a dropped connection, if `error` is one. */
export function networkErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code) ? code : undefined;
}

/**
 * The one transient-error classification: true for throttling, server
 * faults (5xx, `$fault: 'server'`, the names in {@link SERVER_ERROR_NAMES}),
 * HTTP 429, dropped connections ({@link NETWORK_ERROR_CODES}) and anything
 * the SDK marked `$retryable`. Client errors (validation, not found, access
 * denied, failed conditions) are not transient.
 */
export function isTransientError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  if (
    typeof e.name === 'string' &&
    (THROTTLING_ERROR_NAMES.has(e.name) || SERVER_ERROR_NAMES.has(e.name))
  )
    return true;
  if (networkErrorCode(error) !== undefined) return true;
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  return e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false;
}

/** The full-jitter wait after failed attempt number `attempt` (0-based): U(0, min(cap, base·2^attempt)). */
export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'> = {},
): number {
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const cap = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const random = options.random ?? Math.random;
  return Math.floor(random() * Math.min(cap, base * 2 ** attempt));
}

/** Waits the policy's backoff after failed attempt `attempt` (0-based); an aborted `signal` ends it early. */
export function sleepBeforeRetry(
  policy: RetryPolicy,
  attempt: number,
  signal?: AbortSignal,
): Promise<void> {
  return policy.sleep(backoffDelay(attempt, policy), signal);
}

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
  const policy = retryPolicy(options);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt + 1 >= policy.maxAttempts || !policy.isRetryable(error)) throw error;
      await sleepBeforeRetry(policy, attempt);
    }
  }
}
