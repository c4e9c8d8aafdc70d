/**
 * The output ports (sinks and dead letter): explicit re-exports of
 * `sink.ts` and `dead-letter.ts`.
 */
export {
  SinkError,
  SinkOutcome,
  lateRecordId,
  resultId,
  sinkWriteReport,
  windowResult,
  type JsonValue,
  type LateRecord,
  type Sink,
  type SinkItemReport,
  type SinkWriteReport,
  type WindowBounds,
  type WindowResult,
} from './sink.ts';
export {
  DeadLetterError,
  DeadLetterKind,
  DeadLetterTooLargeError,
  deadLetterId,
  fromDeadLetterDocument,
  toDeadLetterDocument,
  type DeadLetter,
  type DeadLetterDocument,
  type DeadLetterEntry,
} from './dead-letter.ts';
