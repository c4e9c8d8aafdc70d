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

/**
 * What is wrong with a checkpoint, as a value (see {@link CheckpointError.problem}).
 *
 * - `not-found`: no such checkpoint (no manifest), or no checkpoint at all.
 * - `unreadable-manifest`: the manifest is not JSON or misses a field.
 * - `unknown-format`: the manifest's `format` is not one this weir reads.
 * - `missing-part`: a part the manifest lists is not stored.
 * - `truncated-part`: a part has fewer (or more) bytes than the manifest says.
 * - `checksum-mismatch`: a part's SHA-256 differs from the manifest's.
 * - `corrupt-part`: a part does not decompress, or a line is not a window item.
 * - `item-count-mismatch`: a part holds another number of items than the manifest says.
 * - `abandoned`: a checkpoint being taken can no longer be continued (its folder was cleaned).
 * - `unsettled-key`: a key's windows kept changing while a checkpoint of merging windows read them.
 * - `invalid`: a request names an invalid checkpoint id or state.
 */
export const CheckpointProblem = {
  NotFound: 'not-found',
  UnreadableManifest: 'unreadable-manifest',
  UnknownFormat: 'unknown-format',
  MissingPart: 'missing-part',
  TruncatedPart: 'truncated-part',
  ChecksumMismatch: 'checksum-mismatch',
  CorruptPart: 'corrupt-part',
  ItemCountMismatch: 'item-count-mismatch',
  Abandoned: 'abandoned',
  UnsettledKey: 'unsettled-key',
  Invalid: 'invalid',
} as const;
/** One of {@link CheckpointProblem}. */
export type CheckpointProblem = (typeof CheckpointProblem)[keyof typeof CheckpointProblem];

/** The data a {@link CheckpointError} carries. */
export interface CheckpointErrorDetails {
  readonly operator: string;
  /** The checkpoint concerned; `undefined` when the error is about the operator's checkpoints as a whole. */
  readonly checkpointId?: string | undefined;
  /** The part (`part-00003.ndjson.gz`) or object (`manifest.json`) that is wrong, when one is. */
  readonly part?: string | undefined;
  /**
   * The checkpoint taken before this one (from its manifest, or, when the
   * manifest cannot be read, the next older complete checkpoint in the
   * listing): where a restore falls back to. `null`: there is none.
   * `undefined`: not known at the point of the error.
   */
  readonly previousCheckpointId?: string | null | undefined;
  readonly problem: CheckpointProblem;
  /** What was wrong, in words ("expected 1200 bytes, found 1033"). */
  readonly detail: string;
}

/**
 * A checkpoint is missing, partial or corrupt, or cannot be read by this
 * version of weir. Names the operator, the checkpoint, the part and the
 * previous checkpoint, so a restore can fall back to it.
 *
 * @example
 * try { await readCheckpointItems(store, manifest) } catch (e) {
 *   if (e instanceof CheckpointError && e.previousCheckpointId) retryWith(e.previousCheckpointId);
 * }
 */
export class CheckpointError extends WeirError {
  readonly operator: string;
  readonly checkpointId: string | undefined;
  readonly part: string | undefined;
  readonly previousCheckpointId: string | null | undefined;
  readonly problem: CheckpointProblem;
  readonly detail: string;
  constructor(details: CheckpointErrorDetails, options?: { cause?: unknown }) {
    const where =
      details.checkpointId === undefined
        ? `checkpoints of operator ${details.operator}`
        : `checkpoint ${details.checkpointId} of operator ${details.operator}` +
          (details.part === undefined ? '' : `, ${details.part}`);
    const previous =
      details.previousCheckpointId === undefined
        ? ''
        : details.previousCheckpointId === null
          ? ' There is no previous checkpoint to fall back to.'
          : ` The previous checkpoint is ${details.previousCheckpointId}.`;
    super(`${where}: ${details.problem}: ${details.detail}.${previous}`, options);
    this.operator = details.operator;
    this.checkpointId = details.checkpointId;
    this.part = details.part;
    this.previousCheckpointId = details.previousCheckpointId;
    this.problem = details.problem;
    this.detail = details.detail;
  }
}

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

/**
 * A state call was made under a restore generation older than the store's:
 * a restore ran since the caller read its progress (a batch or tick in
 * flight during `weir restore`). Nothing of the call was applied. Retryable:
 * the retried batch reads the new generation and is judged by the restored
 * state (docs/recovery.md, "Restore generation and fencing").
 */
export class FencedError extends WeirError {
  readonly operator: string;
  /** The generation the caller read. */
  readonly generation: number;
  /** The generation the store holds (higher), when known. */
  readonly storedGeneration: number | undefined;
  constructor(operator: string, generation: number, storedGeneration: number | undefined) {
    super(
      `operator ${operator}: state call fenced: it was made under restore generation ${generation}, ` +
        `the store holds ${storedGeneration ?? 'a higher one'}. A restore ran since this batch read its progress; ` +
        'nothing of the call was applied. Retry the batch: it reads the new generation and is judged by the restored state.',
    );
    this.operator = operator;
    this.generation = generation;
    this.storedGeneration = storedGeneration;
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
