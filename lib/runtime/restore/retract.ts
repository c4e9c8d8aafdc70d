/**
 * The last step of a restore's result side: retracting what the replay did
 * not fire again (docs/recovery.md "Corrections", docs/sinks.md
 * "Retractions").
 *
 *   restoreState ─► firedAfterCheckpoint: windows fired in the replaced state,
 *                   not held as fired by the checkpoint (core/checkpoint/stale-results.ts)
 *   replay, tick ─► the new generation fires what the corrected pipeline fires
 *   retract      ─► read each of those windows under the new generation:
 *                     fired again (firedVersion > 0)  → its new result already replaced the old one
 *                     absent, or never fired          → a retraction at (new generation, 0)
 *
 * A window the checkpoint holds unfired and the new generation has not
 * fired yet is retracted too: the corrected run has no result for it now,
 * and if it fires later (its watermark not reached yet) that firing
 * (generation, 1) replaces the retraction. Retractions are idempotent and
 * never regress a sink: one of an older generation than a stored result is
 * refused like any older result.
 */
import type { RestoredState } from '../../core/checkpoint/restore-state.ts';
import { ConfigError } from '../../errors.ts';
import { windowRetraction, type WindowRetraction } from '../../model/retraction.ts';
import type { StateStore, WindowRef } from '../../ports/state-store.ts';

/** Where retractions go: the operator runtime's result sink ({@link OperatorRuntime.retract}). */
export interface RetractionTarget {
  /** Writes retractions to the operator's result sink; throws its `SinkError`. */
  retract(retractions: readonly WindowRetraction[]): Promise<void>;
}

/** What {@link retractStaleResults} needs. */
export interface RetractStaleOptions {
  readonly operator: string;
  /** The restored state, after the replay and the closing tick. */
  readonly state: StateStore;
  /** What `restoreState` returned: its generation (the state's current one) and the candidate windows. */
  readonly restored: Pick<RestoredState, 'generation' | 'firedAfterCheckpoint'>;
  /**
   * Where retractions go. A target without `retract` (a test double
   * wrapping only `handle` and `tick`) can restore only a state with nothing
   * to retract (a lost one); otherwise the call fails with `ConfigError`.
   */
  readonly target: Partial<RetractionTarget>;
  /** Processing time stamped on each retraction (`firedAt`). */
  readonly now: () => number;
  /** Windows read and retracted per round. @default 100 */
  readonly chunk?: number;
}

/**
 * Retracts every candidate window the new generation has not fired, and
 * returns how many it retracted.
 *
 * @example
 * const restored = await restoreState({ state, checkpoints, operator: 'clicks', checkpoint: 'latest' });
 * // ... replay every shard, tick
 * const retracted = await retractStaleResults({ operator: 'clicks', state, restored, target: runtime, now: Date.now });
 */
export async function retractStaleResults(o: RetractStaleOptions): Promise<number> {
  const chunk = o.chunk ?? 100;
  const { generation, firedAfterCheckpoint: candidates } = o.restored;
  let retracted = 0;
  for (let i = 0; i < candidates.length; i += chunk) {
    const refs: WindowRef[] = candidates
      .slice(i, i + chunk)
      .map((w) => ({ key: w.key, start: w.start, end: w.end }));
    const items = await o.state.getWindows(o.operator, refs, generation);
    const firedAt = o.now();
    const out: WindowRetraction[] = [];
    refs.forEach((ref, j) => {
      const item = items[j];
      if (item !== undefined && item.firedVersion > 0) return;
      out.push(
        windowRetraction({
          operator: o.operator,
          key: ref.key,
          window: { start: ref.start, end: ref.end },
          generation,
          firedAt,
        }),
      );
    });
    if (out.length === 0) continue;
    if (o.target.retract === undefined)
      throw new ConfigError(
        'target',
        'a target without retract()',
        `must have retract() (an OperatorRuntime does) to retract ${out.length} window(s) of operator ${o.operator} that the replay did not fire again`,
      );
    await o.target.retract(out);
    retracted += out.length;
  }
  return retracted;
}
