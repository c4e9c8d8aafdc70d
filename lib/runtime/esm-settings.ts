/**
 * One description of a Kinesis event source mapping (ESM), read by both the
 * CDK construct (deployed behaviour) and the local ESM (embedded behaviour),
 * so the two cannot drift. Field names follow AWS's own
 * (`CreateEventSourceMapping`) vocabulary; limits are AWS's documented ones.
 */
import { ConfigError } from '../errors.ts';

/** Where a new mapping starts reading a shard. */
export const StartingPosition = {
  TRIM_HORIZON: 'TRIM_HORIZON',
  LATEST: 'LATEST',
  AT_TIMESTAMP: 'AT_TIMESTAMP',
} as const;
/** Where a new mapping starts reading a shard. */
export type StartingPosition = (typeof StartingPosition)[keyof typeof StartingPosition];

/** Settings of one Kinesis event source mapping. */
export interface EventSourceMappingSettings {
  /** Records per batch, 1..10000. @default 100 */
  readonly batchSize: number;
  /** How long to gather records before invoking, 0..300 s. @default 0 */
  readonly maximumBatchingWindowInSeconds: number;
  /** @default 'TRIM_HORIZON' */
  readonly startingPosition: StartingPosition;
  /** Epoch seconds; required when startingPosition is AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
  /** Split a failing batch in two and retry each half. @default true */
  readonly bisectBatchOnFunctionError: boolean;
  /**
   * Retries of a failing batch; -1 means until the records expire (stream
   * retention, or `maximumRecordAgeInSeconds`). -1..10000. @default -1
   *
   * weir's default is AWS's own (-1), on purpose: weir dead-letters bad
   * records one by one and answers a failing batch with a partial response,
   * so only an infrastructure fault (DynamoDB throttled past every SDK retry,
   * a sink or the dead-letter queue down, a timeout) fails a batch, and such a
   * fault passes. A finite value lets the mapping give up on the batch: the
   * next batch of the shard commits past it, and the skipped range comes back
   * only through `weir redrive` (docs/recovery.md, "Skipped batches and
   * redrive"). The construct's iterator-age alarm shows a shard that is stuck
   * retrying long before its records expire.
   */
  readonly maximumRetryAttempts: number;
  /** Records older than this are discarded (sent to the on-failure destination); -1 means never. -1 or 60..604800. @default -1 */
  readonly maximumRecordAgeInSeconds: number;
  /** The handler returns `batchItemFailures` to resume at the first failed record. @default true */
  readonly reportBatchItemFailures: boolean;
  /**
   * Concurrent batches per shard. weir requires 1: a factor above 1 breaks
   * per-shard ordering across partition keys, which the position guards rely on.
   * @default 1
   */
  readonly parallelizationFactor: 1;
}

/**
 * weir's defaults: AWS's own (retries until the records expire included),
 * except bisect and partial batch responses are on.
 */
export const DEFAULT_ESM_SETTINGS: EventSourceMappingSettings = {
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0,
  startingPosition: StartingPosition.TRIM_HORIZON,
  bisectBatchOnFunctionError: true,
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  reportBatchItemFailures: true,
  parallelizationFactor: 1,
};

/** Input to {@link resolveEsmSettings}: every field optional, numbers unchecked. */
export type EventSourceMappingInput = {
  readonly [K in keyof EventSourceMappingSettings]?: K extends 'parallelizationFactor'
    ? number
    : EventSourceMappingSettings[K];
};

/**
 * Applies defaults and validates every field against AWS's limits, failing
 * fast with a {@link ConfigError} naming the field.
 *
 * @example
 * resolveEsmSettings({ batchSize: 500, maximumRetryAttempts: 2 });
 */
export function resolveEsmSettings(
  input: EventSourceMappingInput = {},
): EventSourceMappingSettings {
  const s = { ...DEFAULT_ESM_SETTINGS, ...stripUndefined(input) };
  intIn('batchSize', s.batchSize, 1, 10_000);
  intIn('maximumBatchingWindowInSeconds', s.maximumBatchingWindowInSeconds, 0, 300);
  if (!Object.values(StartingPosition).includes(s.startingPosition)) {
    throw new ConfigError(
      'startingPosition',
      s.startingPosition,
      `must be one of ${Object.values(StartingPosition).join(', ')}`,
    );
  }
  if (s.startingPosition === StartingPosition.AT_TIMESTAMP) {
    if (
      s.startingPositionTimestamp === undefined ||
      !Number.isFinite(s.startingPositionTimestamp)
    ) {
      throw new ConfigError(
        'startingPositionTimestamp',
        s.startingPositionTimestamp,
        'must be set (epoch seconds) when startingPosition is AT_TIMESTAMP',
      );
    }
  }
  intIn('maximumRetryAttempts', s.maximumRetryAttempts, -1, 10_000);
  if (s.maximumRecordAgeInSeconds !== -1)
    intIn('maximumRecordAgeInSeconds', s.maximumRecordAgeInSeconds, 60, 604_800, ' or -1');
  if (s.parallelizationFactor !== 1) {
    throw new ConfigError(
      'parallelizationFactor',
      s.parallelizationFactor,
      "must be 1: a factor above 1 processes one shard in parallel by partition key, which breaks the per-shard ordering weir's exactly-once guards rely on",
    );
  }
  return s as EventSourceMappingSettings;
}

function intIn(field: string, value: number, min: number, max: number, extra = ''): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `must be an integer ${min}..${max}${extra}`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
