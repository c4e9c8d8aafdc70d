/** Ports: the interfaces the engine core talks to. */
export { ManualClock, systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export type {
  JudgedView,
  OperatorProgress,
  ShardProgress,
  StateStore,
  WindowItem,
  WindowRef,
  WindowWrite,
  OutboxAck,
  OutboxEntry,
} from './state-store.ts';
export { keptJudgedView, progressRegresses } from './state-store.ts';
export type {
  ScannableStateStore,
  WindowScanPage,
  WindowScanRequest,
  WindowScanner,
} from './state-store.ts';
export type {
  CheckpointFolder,
  CheckpointFormat,
  CheckpointInProgress,
  CheckpointManifest,
  CheckpointPart,
  CheckpointPartInput,
  CheckpointSegmentState,
  CheckpointStore,
} from './checkpoint-store.ts';
export type { ShardDirectory, ShardInfo } from './shard-directory.ts';
