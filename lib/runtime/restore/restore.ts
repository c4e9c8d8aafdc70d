/**
 * `weir restore`: an operator's state and positions put back to a
 * checkpoint's, and the stream replayed from there through the live batch
 * path, while its event source mapping is paused (docs/recovery.md,
 * "Restore and replay").
 *
 *   pause mapping ─► open manifest ─► plan shards, check retention ─► restoreState ─► replay ─► tick ─► retract ─► resume
 *   (MappingControl)  (id | latest)    (ReplayGapError: state          (verify, raise     (every     (fire    (stale     (MappingControl)
 *                                       untouched)                      generation,        shard,     what is   results:
 *                                                                       collect fired,     parents    due)      retract.ts)
 *                                                                       clear, load,       first)
 *                                                                       reset progress)
 *
 * Whatever fails, from the pause on, leaves the mapping paused (or still
 * disabling, when the pause itself failed) and throws
 * {@link RestoreFailedError}: what failed, whether the state was changed,
 * and exactly what to run next.
 */
import type { TickReport } from '../operator-runtime.ts';
import { openCheckpoint, verifyCheckpoint } from '../../core/checkpoint/read-checkpoint.ts';
import { restoreState } from '../../core/checkpoint/restore-state.ts';
import { finishReplaySpans } from '../../core/checkpoint/replay-spans.ts';
import { CheckpointError, ReplayGapError, WeirError, describeError } from '../../errors.ts';
import type { CheckpointManifest } from '../../model/checkpoint.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import type { MappingControl } from '../../ports/mapping-control.ts';
import type { RestorableStateStore } from '../../ports/state-store.ts';
import {
  planReplay,
  replayShards,
  type ReplayOutcome,
  type ReplaySource,
  type ReplayTarget,
} from './replay.ts';
import { retractStaleResults, type RetractionTarget } from './retract.ts';

/** The step a restore is at. */
export type RestorePhase =
  | 'pausing'
  | 'checking'
  | 'restoring'
  | 'replaying'
  | 'firing'
  | 'retracting'
  | 'resuming'
  | 'done';

/** Where a restore stands (progress bars). */
export interface RestoreProgress {
  readonly phase: RestorePhase;
  /** Window items loaded so far, of `itemsTotal`. */
  readonly items: number;
  readonly itemsTotal: number;
  readonly shards: number;
  readonly shardsDone: number;
  /** Kinesis records replayed so far. */
  readonly records: number;
}

/** Options of {@link restoreOperator}. */
export interface RestoreOperatorOptions {
  readonly operator: string;
  readonly state: RestorableStateStore;
  readonly checkpoints: CheckpointStore;
  /** A checkpoint id, or `'latest'`. */
  readonly checkpoint: string;
  /**
   * The operator's event source mapping, paused first and resumed last.
   * `undefined`: no pause (only for an operator whose mapping is stopped;
   * the generation still fences a batch in flight).
   */
  readonly mapping: MappingControl | undefined;
  /** How to resume the mapping by hand (printed when the restore stops with it paused). */
  readonly resumeHint: string;
  /** The command that runs this restore again from a checkpoint (printed as the next step). */
  readonly rerun: (checkpoint: string) => string;
  /** The stream, by the manifest's stream ARN. */
  readonly source: (streamArn: string) => ReplaySource;
  /**
   * The operator runtime (its Lambda entry point, its tick, and `retract`
   * for windows the replay did not fire again; a target without `retract`
   * fails a restore that has any to retract). Give it the stream's shard
   * directory (as `weir restore` does, from the checkpoint's stream): the
   * closing tick then closes the parents the replay read to their end;
   * without one they hold the watermark back until the deployed ticker
   * closes them after the resume.
   */
  readonly target: ReplayTarget & Partial<RetractionTarget> & { tick(): Promise<TickReport> };
  /** Runtime calls of the replay at once. @default 2 */
  readonly concurrency?: number;
  /** Kinesis records per runtime call. @default 10000 */
  readonly chunkRecords?: number;
  /** Width of a replay round in ms of arrival time (replayShards' `sliceMs`). @default 1000 */
  readonly sliceMs?: number;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** Processing time for the summary's duration. @default Date.now */
  readonly now?: () => number;
}

/** What a restore did. */
export interface RestoreSummary {
  readonly operator: string;
  readonly checkpointId: string;
  readonly previousCheckpointId: string | null;
  readonly streamArn: string;
  /** The restore generation the state is under now. */
  readonly generation: number;
  /** Window items loaded from the checkpoint. */
  readonly windowsLoaded: number;
  /** Items of older generations deleted. */
  readonly cleared: number;
  readonly replay: ReplayOutcome;
  /** Window results fired by the replayed batches and by the closing tick. */
  readonly windowsRefired: number;
  /**
   * Windows that had fired in the replaced state after the checkpoint and
   * did not fire again: a retraction went to the result sink for each
   * (docs/recovery.md "Corrections"). 0 after a state loss.
   */
  readonly windowsRetracted: number;
  readonly seconds: number;
  /** Kinesis records replayed per second of the replay step. */
  readonly recordsPerSecond: number;
  /** The mapping was paused and resumed (false with no mapping control). */
  readonly paused: boolean;
}

/**
 * A restore stopped. The mapping is left paused; `nextStep` says what to run.
 * `cause` is the `CheckpointError`, `ReplayGapError` or AWS error underneath.
 */
export class RestoreFailedError extends WeirError {
  readonly operator: string;
  readonly phase: RestorePhase;
  /** The state was replaced (fully or in part) before the failure. */
  readonly stateChanged: boolean;
  readonly nextStep: string;
  constructor(
    operator: string,
    phase: RestorePhase,
    stateChanged: boolean,
    nextStep: string,
    cause: unknown,
  ) {
    super(
      `restore of operator ${operator} failed while ${phase}: ${describeError(cause)}\n` +
        `${phase === 'pausing' ? 'The pause did not finish (the mapping may still be disabling)' : 'The mapping is left paused'}; ` +
        `the state is ${stateChanged ? 'partly restored' : 'untouched'}.\n` +
        `Next: ${nextStep}`,
      { cause },
    );
    this.operator = operator;
    this.phase = phase;
    this.stateChanged = stateChanged;
    this.nextStep = nextStep;
  }
}

/**
 * Pauses the mapping, restores the checkpoint's state and positions,
 * replays every shard to the tip through the runtime, fires what is due and
 * resumes the mapping.
 *
 * @example
 * const summary = await restoreOperator({ operator: 'clicks', state, checkpoints, checkpoint: 'latest',
 *   mapping: new LambdaMappingControl({ client: lambda, functionName }), resumeHint, rerun,
 *   source: (arn) => kinesisReplaySource({ client: kinesis, streamArn: arn }), target: runtime });
 */
export async function restoreOperator(o: RestoreOperatorOptions): Promise<RestoreSummary> {
  const now = o.now ?? Date.now;
  const t0 = now();
  let progress: RestoreProgress = {
    phase: 'pausing',
    items: 0,
    itemsTotal: 0,
    shards: 0,
    shardsDone: 0,
    records: 0,
  };
  const report = (p: Partial<RestoreProgress>): void => {
    progress = { ...progress, ...p };
    o.onProgress?.(progress);
  };
  report({});

  let manifest: CheckpointManifest | undefined;
  let stateChanged = false;
  try {
    if (o.mapping !== undefined) await o.mapping.pause();
    report({ phase: 'checking' });
    manifest = await openCheckpoint(o.checkpoints, o.operator, o.checkpoint);
    const source = o.source(manifest.streamArn);
    const plan = planReplay(manifest, await source.shards());
    for (const s of plan)
      if (s.start.type === 'AT_SEQUENCE_NUMBER')
        await source.checkRetained(s.shardId, s.start.sequenceNumber);

    // Every part read and checked before the state is touched: a bad one fails here.
    const verified = await verifyCheckpoint(o.checkpoints, o.operator, manifest.id);
    if (verified.problems[0] !== undefined) throw verified.problems[0];

    report({ phase: 'restoring', itemsTotal: manifest.items, shards: plan.length });
    stateChanged = true;
    const restored = await restoreState({
      state: o.state,
      checkpoints: o.checkpoints,
      operator: o.operator,
      checkpoint: manifest.id,
      verify: false, // verified above
      onItems: (items) => report({ items }),
    });

    report({ phase: 'replaying' });
    const r0 = now();
    const replay = await replayShards({
      source,
      target: o.target,
      plan,
      ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
      ...(o.chunkRecords === undefined ? {} : { chunkRecords: o.chunkRecords }),
      ...(o.sliceMs === undefined ? {} : { sliceMs: o.sliceMs }),
      onProgress: (p) => report({ shardsDone: p.shardsDone, records: p.records }),
    });
    const replaySeconds = (now() - r0) / 1000;
    // What the replay applied, for `weir redrive` (core/checkpoint/replay-spans.ts).
    await finishReplaySpans(o.state, o.operator, restored.generation);

    report({ phase: 'firing' });
    const tick = await o.target.tick();

    report({ phase: 'retracting' });
    const windowsRetracted = await retractStaleResults({ ...o, restored, now });

    report({ phase: 'resuming' });
    const summary: RestoreSummary = {
      operator: o.operator,
      checkpointId: manifest.id,
      previousCheckpointId: manifest.previousId,
      streamArn: manifest.streamArn,
      generation: restored.generation,
      windowsLoaded: restored.windows,
      cleared: restored.cleared,
      replay,
      windowsRefired: replay.fired + tick.fired,
      windowsRetracted,
      seconds: 0,
      recordsPerSecond: replaySeconds > 0 ? Math.round(replay.records / replaySeconds) : 0,
      paused: o.mapping !== undefined,
    };
    if (o.mapping !== undefined) await resume(o, o.mapping);
    report({ phase: 'done' });
    return { ...summary, seconds: (now() - t0) / 1000 };
  } catch (err) {
    if (err instanceof RestoreFailedError) throw err;
    throw new RestoreFailedError(
      o.operator,
      progress.phase,
      stateChanged,
      nextStep(o, progress.phase, stateChanged, manifest, err),
      err,
    );
  }
}

async function resume(o: RestoreOperatorOptions, mapping: MappingControl): Promise<void> {
  try {
    await mapping.resume();
  } catch (err) {
    throw new RestoreFailedError(
      o.operator,
      'resuming',
      true,
      `the state is restored and replayed; resume the mapping: ${o.resumeHint}`,
      err,
    );
  }
}

/** The one thing to run after a failure. */
function nextStep(
  o: RestoreOperatorOptions,
  phase: RestorePhase,
  stateChanged: boolean,
  manifest: CheckpointManifest | undefined,
  err: unknown,
): string {
  const id = manifest?.id ?? o.checkpoint;
  if (!stateChanged) {
    const unchanged = `or resume the mapping unchanged: ${o.resumeHint}`;
    if (err instanceof CheckpointError) {
      const previous = err.previousCheckpointId ?? manifest?.previousId;
      return previous
        ? `restore the previous checkpoint: ${o.rerun(previous)}; ${unchanged}`
        : `no earlier checkpoint to fall back to; ${unchanged}`;
    }
    if (err instanceof ReplayGapError)
      return `the stream no longer holds ${err.shardId} from ${err.wantedSequenceNumber}: restore a newer checkpoint (\`weir checkpoints --operator ${o.operator}\` lists them): ${o.rerun('latest')}; ${unchanged}`;
    return `fix the cause above and run ${o.rerun(id)} again; ${unchanged}`;
  }
  // The state is (partly) replaced under the new generation: never resume on it.
  return `fix the cause above, then run ${o.rerun(id)} again (it raises the generation again and starts over); do not resume the mapping on the partly restored state (phase: ${phase})`;
}
