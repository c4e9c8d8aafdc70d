/**
 * Ports: the interfaces the engine core and the runtime talk to, and the
 * types they speak. Implementations live in lib/adapters.
 */
export { ManualClock, systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export type { DeadLetterOutput } from './dead-letter-output.ts';
export { DeadLetterError, DeadLetterTooLargeError, SinkError } from './errors.ts';
export type { ShardDirectory, ShardInfo } from './shard-directory.ts';
export type { ShardLag, ShardLagReader, WindowCounter, WindowCounts } from './operator-status.ts';
export { SinkOutcome } from './sink.ts';
export type { Sink, SinkItemReport, SinkWriteReport } from './sink.ts';
export type {
  OutboxAck,
  OutboxEntry,
  StateStore,
  WindowItem,
  WindowRef,
  WindowWrite,
} from './state-store.ts';
export type {
  ScannableStateStore,
  WindowScanPage,
  WindowScanRequest,
  WindowScanner,
} from './state-store.ts';
export type { CheckpointFolder, CheckpointPartInput, CheckpointStore } from './checkpoint-store.ts';
