/**
 * The vocabulary every layer of weir speaks: positions, JSON values, time
 * windows, the records from the source to the sinks, their deterministic
 * ids, and the pure rules of shard progress. It imports nothing but
 * errors; everything else imports it.
 */
export { emittedResult, lateRecordsPerWindow } from './records.ts';
export { DEAD_LETTER_KIND, DeadLetterKind, DeadLetterReason, LateReason } from './records.ts';
export type {
  BatchCounts,
  BatchOutcome,
  DeadLetter,
  DecodedRecord,
  LateRecord,
  SourceRecord,
  TickOutcome,
  WindowResult,
} from './records.ts';
export {
  ResultIds,
  deadLetterId,
  lateRecordId,
  resultId,
  resultIdPart,
  windowResult,
} from './ids.ts';
export { RETRACTION_VERSION, isRetraction, windowRetraction } from './retraction.ts';
export type { WindowRetraction, WindowRetractionFields } from './retraction.ts';
export { toJsonValue } from './json.ts';
export type { JsonValue } from './json.ts';
export {
  comparePositions,
  compareSequenceNumbers,
  decodeOffset,
  encodeOffset,
  position,
  sequenceNumber,
  shardId,
  SEQUENCE_NUMBER_WIDTH,
  SUB_SEQUENCE_WIDTH,
} from './position.ts';
export type { Position, SequenceNumber, ShardId } from './position.ts';
export { keptJudgedView, progressRegresses } from './progress.ts';
export type { JudgedView, OperatorProgress, ShardProgress } from './progress.ts';
export {
  keptFailingRanges,
  keptReplayedSpans,
  spanCoverage,
  subtractRange,
} from './shard-ranges.ts';
export type { ReplayedSpan, SequenceRange } from './shard-ranges.ts';
export { maxTimestamp } from './time-window.ts';
export type { TimeWindow } from './time-window.ts';
export { CHECKPOINT_FORMAT } from './checkpoint.ts';
export type {
  CheckpointFormat,
  CheckpointInProgress,
  CheckpointManifest,
  CheckpointPart,
  CheckpointSegmentState,
} from './checkpoint.ts';
export { checkpointIdTime, isCheckpointId, newCheckpointId } from './checkpoint-id.ts';
export {
  decodeInProgress,
  decodeManifest,
  encodeInProgress,
  encodeManifest,
} from './checkpoint-codec.ts';
export type { CheckpointDocumentSource } from './checkpoint-codec.ts';
