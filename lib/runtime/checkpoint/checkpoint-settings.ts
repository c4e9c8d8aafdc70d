/**
 * The one description of an operator's checkpoint schedule, read by the CDK
 * construct (which validates it at synth and writes it into the checkpoint
 * function's environment) and by the runtimes that take the checkpoints (the
 * Lambda checkpointer, the local runner), so deployed and local cadences
 * cannot drift. Pure: no AWS, no clock.
 *
 * Three retentions have to fit together (docs/recovery.md, "Retention"):
 *
 *     capture c0        c1 = c0 + interval        c2          ...        c(retain)
 *        │────────────────│────────────────────────│─ ... ───────────────│ retention deletes c0
 *        │◄─ the stream must still hold c0's positions until c1 is complete (+1 interval) ─►│
 *        │◄──────── tombstones purged after c0 must live until c0 is deleted ──────────────►│
 *
 * - Stream retention: a restore replays the stream from the manifest's
 *   positions. The newest checkpoint must always be restorable, so the stream
 *   must hold its positions until the next checkpoint is complete: one
 *   interval until the next capture starts, and up to one more for its scan
 *   (which may span several invocations) and for a restore begun meanwhile.
 *   Rule: `streamRetention >= 2 x interval`.
 * - Tombstones: a window purged after a checkpoint's capture leaves a
 *   tombstone that keeps a replay from that checkpoint from resurrecting it.
 *   The oldest retained checkpoint is at most `retain x interval` old when
 *   retention runs, plus up to one interval while the next is being taken.
 *   Rule: `tombstoneTtl >= (retain + 1) x interval`.
 */
import { ConfigError } from '../../errors.ts';

/** What a deployment says about checkpoints (construct props, or the checkpoint function's environment). */
export interface CheckpointScheduleInput {
  /** Time between two checkpoint captures, ms: whole minutes, 1 minute..7 days. @default 3600000 (1 hour) */
  readonly intervalMs?: number;
  /** Complete checkpoints kept; older ones are deleted after each new one. 1..1000. @default 24 */
  readonly retain?: number;
  /**
   * How long a tombstone lives (DynamoDbStateStore `tombstoneTtlSeconds`).
   * @default max(7 days, (retain + 1) x interval)
   */
  readonly tombstoneTtlSeconds?: number;
  /** Retention of the source stream, hours (Kinesis: 24..8760). @default 24 */
  readonly streamRetentionHours?: number;
}

/** The validated schedule, every default applied. */
export interface CheckpointSchedule {
  readonly intervalMs: number;
  readonly retain: number;
  readonly tombstoneTtlSeconds: number;
  readonly streamRetentionHours: number;
}

/** Defaults of {@link CheckpointScheduleInput}. */
export const DEFAULT_CHECKPOINT_SCHEDULE = {
  intervalMs: 3_600_000,
  retain: 24,
  streamRetentionHours: 24,
  minTombstoneTtlSeconds: 7 * 24 * 3600,
} as const;

const MINUTE_MS = 60_000;
const MAX_INTERVAL_MS = 7 * 24 * 60 * MINUTE_MS;

/** Human form of a duration in ms (`90 minutes`, `2 hours`, `3 days`). */
export function describeMs(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms % size === 0 && ms >= size) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
}

/**
 * Validates a checkpoint schedule and applies its defaults. Every
 * inconsistency is a `ConfigError` that names both values.
 *
 * @example
 * resolveCheckpointSchedule({ intervalMs: 3_600_000, retain: 48 });
 * // { intervalMs: 3600000, retain: 48, tombstoneTtlSeconds: 604800, streamRetentionHours: 24 }
 */
export function resolveCheckpointSchedule(input: CheckpointScheduleInput = {}): CheckpointSchedule {
  const intervalMs = input.intervalMs ?? DEFAULT_CHECKPOINT_SCHEDULE.intervalMs;
  if (
    !Number.isSafeInteger(intervalMs) ||
    intervalMs % MINUTE_MS !== 0 ||
    intervalMs < MINUTE_MS ||
    intervalMs > MAX_INTERVAL_MS
  ) {
    throw new ConfigError(
      'checkpointInterval',
      `${intervalMs} ms`,
      'must be a whole number of minutes, 1 minute..7 days (the checkpoint function is scheduled once a minute)',
    );
  }
  const retain = input.retain ?? DEFAULT_CHECKPOINT_SCHEDULE.retain;
  if (!Number.isInteger(retain) || retain < 1 || retain > 1000) {
    throw new ConfigError('checkpointRetain', retain, 'must be an integer 1..1000');
  }
  const streamRetentionHours =
    input.streamRetentionHours ?? DEFAULT_CHECKPOINT_SCHEDULE.streamRetentionHours;
  if (
    !Number.isInteger(streamRetentionHours) ||
    streamRetentionHours < 24 ||
    streamRetentionHours > 8760
  ) {
    throw new ConfigError(
      'streamRetention',
      `${streamRetentionHours} hours`,
      'must be whole hours, 24..8760 (Kinesis)',
    );
  }
  if (streamRetentionHours * 3_600_000 < 2 * intervalMs) {
    throw new ConfigError(
      'checkpointInterval',
      describeMs(intervalMs),
      `is too long for the stream retention of ${describeMs(streamRetentionHours * 3_600_000)}: the stream must hold a checkpoint's positions until the next one is complete (2 x checkpointInterval = ${describeMs(2 * intervalMs)}), or the newest checkpoint cannot be replayed; shorten checkpointInterval or raise streamRetention`,
    );
  }
  const neededTtl = ((retain + 1) * intervalMs) / 1000;
  const tombstoneTtlSeconds =
    input.tombstoneTtlSeconds ??
    Math.max(DEFAULT_CHECKPOINT_SCHEDULE.minTombstoneTtlSeconds, neededTtl);
  if (!Number.isSafeInteger(tombstoneTtlSeconds) || tombstoneTtlSeconds < 1) {
    throw new ConfigError('tombstoneTtl', tombstoneTtlSeconds, 'must be a whole number of seconds');
  }
  if (tombstoneTtlSeconds < neededTtl) {
    throw new ConfigError(
      'tombstoneTtl',
      describeMs(tombstoneTtlSeconds * 1000),
      `is shorter than the age the oldest retained checkpoint reaches: checkpointRetain ${retain} x checkpointInterval ${describeMs(intervalMs)}, plus one interval while the next is taken = ${describeMs(neededTtl * 1000)}; a replay from it could resurrect a purged window. Raise tombstoneTtl to at least that, or keep fewer checkpoints`,
    );
  }
  return { intervalMs, retain, tombstoneTtlSeconds, streamRetentionHours };
}
