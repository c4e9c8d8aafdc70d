/**
 * The DeadLetterOutput port: where records that cannot be processed go
 * (undecodable, invalid event time, a throwing user function, oversized, a
 * corrupt KPL aggregate). Each {@link DeadLetter} keeps the record's position
 * and raw bytes byte-for-byte, so nothing is lost and the record can be
 * replayed once the cause is fixed. A dead letter never blocks the shard.
 */
import type { DeadLetter } from '../model/records.ts';

/**
 * Where dead letters go. `send` is idempotent per (operator, position)
 * (`deadLetterId`) where the backend allows (S3, SQS FIFO); otherwise
 * at-least-once (SQS standard).
 */
export interface DeadLetterOutput {
  /** Stores every dead letter or throws a `DeadLetterError` naming the ones not stored. */
  send(deadLetters: readonly DeadLetter[]): Promise<void>;
}
