/**
 * The dead-letter output: records that cannot be processed (undecodable,
 * invalid event time, a throwing user function, oversized, a corrupt KPL
 * aggregate). Each entry keeps the record's position and raw bytes
 * byte-for-byte, so nothing is lost and the record can be replayed once the
 * cause is fixed. A dead letter never blocks the shard.
 */
import type { Position } from '../core/position.ts';
import { encodeOffset } from '../core/position.ts';
import { WeirError } from '../errors.ts';

/** Why a record went to the dead-letter output. */
export const DeadLetterKind = {
  Decode: 'decode',
  EventTime: 'event-time',
  UserFunction: 'user-function',
  Oversized: 'oversized',
  Kpl: 'kpl',
  Other: 'other',
} as const;
export type DeadLetterKind = (typeof DeadLetterKind)[keyof typeof DeadLetterKind];

/** One record that could not be processed. */
export interface DeadLetterEntry {
  readonly operator: string;
  readonly position: Position;
  /** The record's bytes exactly as read from the stream (may be invalid UTF-8). */
  readonly raw: Uint8Array;
  /** Human-readable reason ("event time missing: field 'ts' is undefined"). */
  readonly reason: string;
  readonly kind: DeadLetterKind;
  /** The error's message and stack, when one was thrown. */
  readonly error?: string;
  /** Processing time of the decision (epoch ms). */
  readonly at: number;
}

/**
 * Where dead letters go. `send` is idempotent per (operator, position) where
 * the backend allows (S3, SQS FIFO); otherwise at-least-once (SQS standard).
 */
export interface DeadLetter {
  /** Stores every entry or throws a {@link DeadLetterError} naming the ones not stored. */
  send(entries: readonly DeadLetterEntry[]): Promise<void>;
}

/** The deterministic identity of a dead letter: one per (operator, record position). */
export function deadLetterId(entry: Pick<DeadLetterEntry, 'operator' | 'position'>): string {
  return `${encodeURIComponent(entry.operator)}/${encodeURIComponent(entry.position.shardId)}/${encodeOffset(entry.position)}`;
}

/**
 * Some dead letters could not be stored. `unsent` must be sent again (the
 * batch must not be acknowledged until they are); `retryable` is false when
 * sending them again to the same destination cannot succeed.
 */
export class DeadLetterError extends WeirError {
  readonly destination: string;
  readonly unsent: readonly DeadLetterEntry[];
  readonly retryable: boolean;
  constructor(
    destination: string,
    message: string,
    details: { unsent: readonly DeadLetterEntry[]; retryable: boolean; cause?: unknown },
  ) {
    super(
      `${destination}: ${message} (${details.unsent.length} dead letter(s) not stored)`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.destination = destination;
    this.unsent = details.unsent;
    this.retryable = details.retryable;
  }
}

/**
 * A dead letter is larger than the destination accepts (SQS: 256 KiB per
 * message by default). Nothing of the batch was sent. Configure an
 * {@link DeadLetter} backed by S3 (`S3DeadLetter`), which has no practical
 * size limit.
 */
export class DeadLetterTooLargeError extends DeadLetterError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(
    destination: string,
    entry: DeadLetterEntry,
    sizeBytes: number,
    limitBytes: number,
    all: readonly DeadLetterEntry[],
  ) {
    super(
      destination,
      `the dead letter of ${entry.position.shardId} at ${entry.position.sequenceNumber}/${entry.position.subSequenceNumber} ` +
        `is ${sizeBytes} bytes encoded; the limit is ${limitBytes}. Raw bytes are never truncated: ` +
        'configure an S3 dead letter (S3DeadLetter) for records this large',
      { unsent: all, retryable: false },
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/**
 * The JSON document a dead letter is stored as (S3 object body, SQS message
 * body). `raw` is base64 of the exact bytes.
 */
export interface DeadLetterDocument {
  readonly format: 'weir.dead-letter/1';
  readonly id: string;
  readonly operator: string;
  readonly position: {
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly subSequenceNumber: number;
  };
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly error?: string;
  readonly at: number;
  /** Length of the raw bytes. */
  readonly rawLength: number;
  /** Base64 (standard alphabet, padded) of the raw bytes. */
  readonly raw: string;
}

/** Encodes an entry as its stored JSON document. */
export function toDeadLetterDocument(entry: DeadLetterEntry): DeadLetterDocument {
  return {
    format: 'weir.dead-letter/1',
    id: deadLetterId(entry),
    operator: entry.operator,
    position: {
      shardId: entry.position.shardId,
      sequenceNumber: entry.position.sequenceNumber,
      subSequenceNumber: entry.position.subSequenceNumber,
    },
    kind: entry.kind,
    reason: entry.reason,
    ...(entry.error === undefined ? {} : { error: entry.error }),
    at: entry.at,
    rawLength: entry.raw.byteLength,
    raw: Buffer.from(entry.raw.buffer, entry.raw.byteOffset, entry.raw.byteLength).toString(
      'base64',
    ),
  };
}

/** Decodes a stored document back to an entry (raw bytes restored exactly). */
export function fromDeadLetterDocument(doc: DeadLetterDocument): DeadLetterEntry {
  const raw = new Uint8Array(Buffer.from(doc.raw, 'base64'));
  if (raw.byteLength !== doc.rawLength) {
    throw new WeirError(
      `dead letter ${doc.id}: raw is ${raw.byteLength} bytes, document says ${doc.rawLength}`,
    );
  }
  return {
    operator: doc.operator,
    position: doc.position as DeadLetterEntry['position'],
    raw,
    reason: doc.reason,
    kind: doc.kind,
    ...(doc.error === undefined ? {} : { error: doc.error }),
    at: doc.at,
  };
}
