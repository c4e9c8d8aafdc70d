/**
 * Checkpoints, locally: on AWS an EventBridge rule invokes the operator's
 * checkpoint function once a minute; locally the runner calls the same
 * export in this process on its own timer, configured as the template
 * configures the checkpoint function (`resources.checkpointers`), so the
 * cadence (`checkpointInterval`) and retention are the deployed ones.
 *
 *     time ───────────────────────────────────────────────────────────▶
 *     CheckpointLoop   call ··60 s·· call ··60 s·· call (stop: waits for the call in flight)
 *                      took c1       not due        ...  took c2 (an interval after c1), retain
 */
import type { WindowedOperatorDefinition } from '../../core/pipeline.ts';
import type { ScheduledCheckpointReport } from '../checkpoint/scheduled-checkpoint.ts';
import {
  checkpointerConfigFromEnv,
  createLambdaCheckpointer,
  type LambdaCheckpointer,
  type LambdaCheckpointerOptions,
} from '../lambda/checkpointer.ts';
import { RepeatingCall } from './repeating-call.ts';

/**
 * An operator's checkpointer in this process, configured as the template
 * configures its checkpoint function, against the local endpoints (`env`
 * under the function's own variables). Destroy `clients` when done.
 *
 * @example
 * const cp = localCheckpointer(clickCounter, resources.checkpointers[0]!, { env: aws.env() });
 * const report = await cp.checkpointNow();
 */
export function localCheckpointer<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  fn: { readonly environment: Readonly<Record<string, string>> },
  options: LambdaCheckpointerOptions & { readonly env?: Readonly<Record<string, string>> } = {},
): LambdaCheckpointer {
  const { env, ...rest } = options;
  return createLambdaCheckpointer(
    definition,
    checkpointerConfigFromEnv({ ...env, ...fn.environment }),
    rest,
  );
}

/** Options of {@link CheckpointLoop}. */
export interface CheckpointLoopOptions {
  /** Wait between the end of one call and the start of the next. @default 60000 (the deployed schedule) */
  readonly intervalMs?: number;
  /** A call that failed (the loop goes on; the next call continues from the saved cursors). @default discard */
  readonly onError?: (error: unknown) => void;
  /** Every call's report. @default discard */
  readonly onReport?: (report: ScheduledCheckpointReport) => void;
}

/**
 * Calls a checkpointer again and again in the background, as the
 * EventBridge schedule does on AWS.
 *
 * @example
 * const loop = new CheckpointLoop(() => cp.checkpointer());
 * loop.start();
 * // ... run the mapping ...
 * await loop.stop();
 */
export class CheckpointLoop {
  readonly #loop: RepeatingCall<ScheduledCheckpointReport>;

  constructor(call: () => Promise<ScheduledCheckpointReport>, options: CheckpointLoopOptions = {}) {
    this.#loop = new RepeatingCall(call, {
      intervalMs: options.intervalMs ?? 60_000,
      onResult: options.onReport,
      onError: options.onError,
    });
  }

  /** Starts calling (the first call at once). A second start does nothing. */
  start(): void {
    this.#loop.start();
  }

  /** Stops; resolves once the call in flight, if any, has ended. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
