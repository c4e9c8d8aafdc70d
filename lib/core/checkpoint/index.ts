/** Checkpoints, engine side: taking, reading, verifying, listing and retention over the ports. */
export { decodeCheckpointItem, encodeCheckpointItem } from './item-codec.ts';
export { CheckpointRunStatus, CheckpointTaker, utf8Length } from './take-checkpoint.ts';
export type {
  CheckpointCompleted,
  CheckpointRun,
  CheckpointRunStats,
  CheckpointSuspended,
  CheckpointTakerProps,
  TakeOptions,
} from './take-checkpoint.ts';
export {
  CheckpointStatus,
  listCheckpoints,
  openCheckpoint,
  readCheckpointItems,
  readPartItems,
  verifyCheckpoint,
} from './read-checkpoint.ts';
export type { CheckpointSummary, CheckpointVerification } from './read-checkpoint.ts';
export { applyRetention } from './retention.ts';
export type { RetentionPolicy, RetentionReport } from './retention.ts';
export { restoreState } from './restore-state.ts';
export { finishReplaySpans, withReplayStarts } from './replay-spans.ts';
export type { RestoreStateProps, RestoredState } from './restore-state.ts';
export { FiredWindows, collectFiredWindows, isWindowScanner } from './stale-results.ts';
export type { CollectFiredOptions, FiredWindow } from './stale-results.ts';
