/**
 * One scheduled call of an operator's checkpointer: continue the checkpoint
 * a previous call could not finish, or take a new one when the interval has
 * passed since the newest complete one, and apply retention after every
 * completed checkpoint. On AWS a checkpoint function of its own runs this
 * once a minute (EventBridge, reserved concurrency 1); locally the runner
 * calls it on the same cadence, in process.
 *
 *     EventBridge  ▼ 0:00           ▼ 0:01            ▼ 0:02   ...  ▼ 1:00            ▼ 1:01
 *     call         take c1 ┄┄┄┄┄┄┄┄┄ resume c1 ┄┄┄ ✓    not due     take c2 ✓ retain
 *                  (deadline: saved   (same id, same                (capture >= interval
 *                   cursors, returns)  positions)                    after c1's)
 *
 * Due means: no complete checkpoint yet, or the newest one's capture time
 * (its id) is at least `intervalMs` ago, less a tolerance of up to a minute
 * so that the minute-grained schedule does not push every checkpoint one
 * minute later than the last. A pending checkpoint (an `in-progress.json`
 * newer than the newest complete one) is always resumed first, so a table
 * too large for one call is checkpointed over several calls from its stored
 * cursors (the taker's `takeOrResume`).
 */
import type { Clock } from '../../ports/clock.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import { checkpointIdTime } from '../../model/checkpoint-id.ts';
import {
  CheckpointRunStatus,
  type CheckpointRun,
  type CheckpointTaker,
} from '../../core/checkpoint/take-checkpoint.ts';
import { applyRetention, type RetentionReport } from '../../core/checkpoint/retention.ts';

/** What a scheduled call did, as a value. */
export const ScheduledCheckpointAction = {
  /** A checkpoint was started (and possibly completed) in this call. */
  Took: 'took',
  /** A pending checkpoint was continued (and possibly completed). */
  Resumed: 'resumed',
  /** The newest checkpoint is recent enough; nothing was done. */
  NotDue: 'not-due',
} as const;
/** What a scheduled call did. */
export type ScheduledCheckpointAction =
  (typeof ScheduledCheckpointAction)[keyof typeof ScheduledCheckpointAction];

/** Options of {@link runScheduledCheckpoint}. */
export interface ScheduledCheckpointOptions {
  readonly taker: CheckpointTaker;
  readonly checkpoints: CheckpointStore;
  readonly operator: string;
  readonly clock: Clock;
  /** Time between two captures, ms. */
  readonly intervalMs: number;
  /** Complete checkpoints kept after each completed one. */
  readonly retain: number;
  /** Processing time from which no new scan page is requested (see `TakeOptions.deadline`). @default none */
  readonly deadline?: number;
  /** Take one now even when not due (`weir checkpoint`). @default false */
  readonly force?: boolean;
}

/** The report of one scheduled call. */
export interface ScheduledCheckpointReport {
  readonly action: ScheduledCheckpointAction;
  /** The checkpoint taken or continued (absent when not due). */
  readonly id?: string;
  /** The taker's outcome (absent when not due). */
  readonly run?: CheckpointRun;
  /** Retention applied after a completed checkpoint. */
  readonly retention?: RetentionReport;
  /** Capture time of the newest complete checkpoint before this call, if any. */
  readonly previousAt?: number;
}

/** Tolerance of the due check: half the interval, at most one minute (the schedule's grain). */
export function dueTolerance(intervalMs: number): number {
  return Math.min(60_000, Math.floor(intervalMs / 2));
}

/**
 * Runs one scheduled checkpointer call (see the module comment).
 *
 * @example
 * const report = await runScheduledCheckpoint({ taker, checkpoints, operator: 'clicks', clock: systemClock,
 *   intervalMs: 3_600_000, retain: 24, deadline: Date.now() + context.getRemainingTimeInMillis() - 30_000 });
 */
export async function runScheduledCheckpoint(
  o: ScheduledCheckpointOptions,
): Promise<ScheduledCheckpointReport> {
  const take = o.deadline === undefined ? {} : { deadline: o.deadline };
  const latest = await o.checkpoints.latestId(o.operator);
  const previousAt = latest === undefined ? undefined : checkpointIdTime(latest);
  const since = previousAt === undefined ? {} : { previousAt };
  const pending = await o.taker.pendingId();
  let action: ScheduledCheckpointAction;
  let run: CheckpointRun;
  if (pending !== undefined) {
    action = ScheduledCheckpointAction.Resumed;
    run = await o.taker.resume(pending, take);
  } else {
    const due =
      o.force === true ||
      previousAt === undefined ||
      o.clock.now() - previousAt >= o.intervalMs - dueTolerance(o.intervalMs);
    if (!due) return { action: ScheduledCheckpointAction.NotDue, ...since };
    action = ScheduledCheckpointAction.Took;
    run = await o.taker.take(take);
  }
  const id = run.status === CheckpointRunStatus.Complete ? run.manifest.id : run.state.id;
  if (run.status !== CheckpointRunStatus.Complete) return { action, id, run, ...since };
  const retention = await applyRetention(o.checkpoints, o.operator, { keep: o.retain }, o.clock);
  return { action, id, run, retention, ...since };
}
