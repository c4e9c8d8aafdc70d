/**
 * weir's error hierarchy. Every error thrown by weir is a {@link WeirError};
 * subclasses carry the data needed to act on them and, where one exists, the
 * underlying `cause`.
 */

/** Root of every error weir throws. */
export class WeirError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A configuration value is out of range or malformed. The message names the
 * field, echoes the given value and states what is allowed.
 *
 * @example
 * throw new ConfigError('batchSize', 20000, 'must be 1..10000');
 * // "batchSize must be 1..10000 (given 20000)"
 */
export class ConfigError extends WeirError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, requirement: string, options?: { cause?: unknown }) {
    super(`${field} ${requirement} (given ${formatValue(value)})`, options);
    this.field = field;
    this.value = value;
  }
}

/** A record's bytes could not be decoded into a user event. */
export class RecordDecodeError extends WeirError {}

/** A checkpoint is missing, partial or corrupt. */
export class CheckpointError extends WeirError {}

/**
 * A replay would need records older than the stream's retention. Carries the
 * exact gap so the operator can decide what to do; weir never skips silently.
 */
export class ReplayGapError extends WeirError {
  readonly shardId: string;
  readonly wantedSequenceNumber: string;
  readonly oldestAvailableSequenceNumber: string | undefined;
  constructor(
    shardId: string,
    wantedSequenceNumber: string,
    oldestAvailableSequenceNumber: string | undefined,
  ) {
    super(
      `Cannot replay ${shardId} from sequence number ${wantedSequenceNumber}: ` +
        (oldestAvailableSequenceNumber === undefined
          ? 'the shard has no records left within the stream retention.'
          : `the oldest record still retained is ${oldestAvailableSequenceNumber}.`) +
        ' Records in between are lost to retention; restore from an older checkpoint or accept the gap explicitly.',
    );
    this.shardId = shardId;
    this.wantedSequenceNumber = wantedSequenceNumber;
    this.oldestAvailableSequenceNumber = oldestAvailableSequenceNumber;
  }
}

/** A local emulator (embedded AWS) failed to start, answer or stop. */
export class EmulatorError extends WeirError {
  readonly emulator: string;
  constructor(emulator: string, message: string, options?: { cause?: unknown }) {
    super(`${emulator}: ${message}`, options);
    this.emulator = emulator;
  }
}

/** A record is too large for Kinesis (1 MiB of data plus partition key). */
export class RecordTooLargeError extends WeirError {
  readonly index: number;
  readonly sizeBytes: number;
  constructor(index: number, sizeBytes: number, limitBytes: number) {
    super(
      `Record ${index} is ${sizeBytes} bytes (data + partition key); Kinesis accepts at most ${limitBytes}. ` +
        'Split the record or store the payload in S3 and send a reference.',
    );
    this.index = index;
    this.sizeBytes = sizeBytes;
  }
}

/**
 * One line for a caught value, for messages and logs: `Name: message` for an
 * Error (`ThrottlingException: Rate exceeded`), `String(value)` for anything
 * else thrown.
 *
 * @example
 * throw new SinkError(target, `PutObject failed: ${describeError(cause)}`, { cause, ... });
 */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The name a caught value is known by: an AWS exception's `name`
 * (`ConditionalCheckFailedException`), else a Node system error's `code`
 * (`ECONNRESET`: such errors are all named `Error`), else `'Error'`.
 *
 * @example
 * if (errorName(e) === 'ResourceInUseException') return; // already exists
 */
export function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'Error';
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  if (typeof code === 'string' && code !== '') return code;
  return 'Error';
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
