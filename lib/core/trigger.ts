/**
 * The trigger: whether this invocation fires and purges, as a value (Flink's
 * `TriggerResult`), decided in one place (docs/semantics.md, "Who fires").
 *
 * Windows are due when the watermark reaches their maxTimestamp; the state
 * store's due index finds them. What the trigger decides is who fires them.
 * Every shard's batch ends by publishing the operator watermark; if every
 * batch then fired, shards finishing at about the same time would list the
 * same due windows and race for every one (conditional writes make that
 * safe, not cheap). So a batch fires only when
 *
 *   it raised the operator watermark         the windows that became due are its job
 *   it wrote a window that is now due        a late update re-fires at the end of its batch
 *   it is a retry                            the attempt that raised the watermark
 *                                            may have died before firing
 *
 * and the ticker always fires. Anything left waits for the next raise or
 * tick.
 */

/** What to do with due and expired windows (Flink's `TriggerResult`, for a whole batch or tick). */
export const TriggerResult = {
  /** Leave them: another batch (or the next tick) fires. */
  CONTINUE: 'continue',
  /** Fire the windows due at the watermark, then purge those past their lateness (two writes each). */
  FIRE_AND_PURGE: 'fire-and-purge',
} as const;
/** What to do with due and expired windows. */
export type TriggerResult = (typeof TriggerResult)[keyof typeof TriggerResult];

/** Why an invocation fires. */
export const FiringReason = {
  RAISED_WATERMARK: 'raised-watermark',
  WROTE_DUE_WINDOW: 'wrote-due-window',
  RETRY: 'retry',
  TICK: 'tick',
} as const;
/** Why an invocation fires. */
export type FiringReason = (typeof FiringReason)[keyof typeof FiringReason];

/** The trigger's decision. */
export type TriggerDecision =
  | { readonly result: typeof TriggerResult.CONTINUE }
  | {
      readonly result: typeof TriggerResult.FIRE_AND_PURGE;
      /** The operator watermark to fire and purge at. */
      readonly watermark: number;
      readonly reason: FiringReason;
    };

/** What the trigger looks at when a batch has committed. */
export interface BatchEnd {
  /** The published operator watermark the batch read at its start (`-Infinity`: none). */
  readonly read: number;
  /** This shard's candidate for the operator watermark after its commit. */
  readonly candidate: number;
  /** The operator watermark after the batch's advance. */
  readonly watermark: number;
  /** The batch's first records were at or below the committed position. */
  readonly retry: boolean;
  /** The lowest end of the windows the batch wrote (`Infinity`: none). */
  readonly lowestWrittenEnd: number;
}

const CONTINUE: TriggerDecision = Object.freeze({ result: TriggerResult.CONTINUE });

function fire(watermark: number, reason: FiringReason): TriggerDecision {
  // Nothing can be due before the watermark is known.
  if (!Number.isFinite(watermark)) return CONTINUE;
  return { result: TriggerResult.FIRE_AND_PURGE, watermark, reason };
}

/** The decision at the end of a batch. */
export function onBatchEnd(end: BatchEnd): TriggerDecision {
  const w = end.watermark;
  // Raised: its advance stored its own candidate above the value it read.
  if (w > end.read && w === end.candidate) return fire(w, FiringReason.RAISED_WATERMARK);
  if (end.retry) return fire(w, FiringReason.RETRY);
  if (end.lowestWrittenEnd - 1 <= w) return fire(w, FiringReason.WROTE_DUE_WINDOW);
  return CONTINUE;
}

/** The decision of a processing-time tick: the ticker always fires. */
export function onTick(watermark: number): TriggerDecision {
  return fire(watermark, FiringReason.TICK);
}
