/**
 * Errors of the output ports. All extend {@link WeirError}; each carries the
 * items the caller must send again and whether sending them again can help.
 */
import { WeirError } from '../errors.ts';
import type { DeadLetter } from '../model/records.ts';
import type { SinkWriteReport } from './sink.ts';

/**
 * A sink could not write some items. `unwritten` are exactly the items that
 * must be re-driven (through the outbox); `report` holds the outcomes of the
 * items that did complete. `retryable` is false when re-driving the same item
 * cannot succeed (for example, it is larger than the sink accepts).
 */
export class SinkError<T = unknown> extends WeirError {
  readonly sink: string;
  readonly unwritten: readonly T[];
  readonly report: SinkWriteReport;
  readonly retryable: boolean;
  constructor(
    sink: string,
    message: string,
    details: {
      unwritten: readonly T[];
      report: SinkWriteReport;
      retryable: boolean;
      cause?: unknown;
    },
  ) {
    super(
      `${sink}: ${message} (${details.unwritten.length} item(s) not written; ` +
        `${details.retryable ? 're-drive them through the outbox' : 'they cannot be written as they are'})`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.sink = sink;
    this.unwritten = details.unwritten;
    this.report = details.report;
    this.retryable = details.retryable;
  }
}

/**
 * Some dead letters could not be stored. `unsent` must be sent again (the
 * batch must not be acknowledged until they are); `retryable` is false when
 * sending them again to the same destination cannot succeed.
 */
export class DeadLetterError extends WeirError {
  readonly destination: string;
  readonly unsent: readonly DeadLetter[];
  readonly retryable: boolean;
  constructor(
    destination: string,
    message: string,
    details: { unsent: readonly DeadLetter[]; retryable: boolean; cause?: unknown },
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
 * message by default). Nothing of the batch was sent. Configure a
 * dead-letter output backed by S3 (`S3DeadLetterOutput`), which has no
 * practical size limit.
 */
export class DeadLetterTooLargeError extends DeadLetterError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(
    destination: string,
    deadLetter: DeadLetter,
    sizeBytes: number,
    limitBytes: number,
    all: readonly DeadLetter[],
  ) {
    super(
      destination,
      `the dead letter of ${deadLetter.position.shardId} at ${deadLetter.position.sequenceNumber}/${deadLetter.position.subSequenceNumber} ` +
        `is ${sizeBytes} bytes encoded; the limit is ${limitBytes}. Raw bytes are never truncated: ` +
        'configure an S3 dead-letter output (S3DeadLetterOutput) for records this large',
      { unsent: all, retryable: false },
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}
