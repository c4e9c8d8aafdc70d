/** Checkpoints on a schedule: the shared settings and one scheduled call, for the Lambda checkpointer, the local runner and the CLI. */
export {
  DEFAULT_CHECKPOINT_SCHEDULE,
  describeMs,
  resolveCheckpointSchedule,
} from './checkpoint-settings.ts';
export type { CheckpointSchedule, CheckpointScheduleInput } from './checkpoint-settings.ts';
export {
  ScheduledCheckpointAction,
  dueTolerance,
  runScheduledCheckpoint,
} from './scheduled-checkpoint.ts';
export type {
  ScheduledCheckpointOptions,
  ScheduledCheckpointReport,
} from './scheduled-checkpoint.ts';
