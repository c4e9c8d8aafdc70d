/**
 * The state writer: conditional writes of state items, retried until each
 * group applied (docs/semantics.md, "Exactly-once state").
 *
 *   read the items ─► plan each group against what is stored
 *        ▲                (guard: only what the item has not absorbed)
 *        │                       │
 *        │                       ▼
 *        └── re-read the ◄── conditional write (on the item's revision,
 *            groups that         or on its absence)
 *            lost a race
 *
 * Every write is conditional on the revision it was planned against, so a
 * write that lost a race to another writer fails as a whole and is planned
 * again against the item that writer left. After {@link MAX_ATTEMPTS} lost
 * races the batch fails ({@link StateContentionError}) and Lambda retries
 * it, which is safe because every write is guarded.
 *
 * The writer knows nothing of windows: a group is whatever its planner
 * makes of it (one window of a tumbling or sliding batch, every session of
 * one key), so another keyed operator can write its state the same way.
 */
import { StateContentionError } from './errors.ts';
import type { OperatorStore } from './operator-store.ts';
import type { WindowItem, WindowWrite } from '../ports/state-store.ts';
import type { TimeWindow } from '../model/time-window.ts';

/** Lost races per group before a batch gives up (and is retried by Lambda). */
export const MAX_ATTEMPTS = 20;

/** The empty `supersedes` list shared by every item that supersedes nothing. */
export const NO_WINDOWS: readonly TimeWindow[] = Object.freeze([]);

/**
 * Plans one group's writes against what is stored for it (`attempt` is 1
 * for the first plan). Returns nothing to write when the stored state
 * already holds the group.
 */
export type GroupPlanner<G, S> = (
  group: G,
  stored: S,
  attempt: number,
) => readonly WindowWrite[] | undefined;

/**
 * Writes `groups` (each an atomic group of conditional writes) until every
 * one applied or needs nothing, planning each against `stored` (what was
 * read for it, in the same order) and re-reading with `reread` the groups
 * that lost a race. Returns how many items were put (session heads included).
 */
export async function writeUntilApplied<G, S>(
  store: OperatorStore,
  groups: readonly G[],
  stored: readonly S[],
  reread: (retry: readonly G[]) => Promise<readonly S[]>,
  plan: GroupPlanner<G, S>,
): Promise<number> {
  let pending = groups;
  let items = stored;
  let puts = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS) throw new StateContentionError(store.operator, MAX_ATTEMPTS);
    const planned: (readonly WindowWrite[])[] = [];
    const planGroups: G[] = [];
    for (let j = 0; j < pending.length; j++) {
      const g = pending[j] as G;
      const writes = plan(g, items[j] as S, attempt);
      if (writes !== undefined && writes.length > 0) {
        planned.push(writes);
        planGroups.push(g);
      }
    }
    if (planned.length === 0) break;
    const ok = await store.write(planned);
    const retry: G[] = [];
    for (let j = 0; j < planGroups.length; j++) {
      if (ok[j] === true) {
        for (const w of planned[j] as readonly WindowWrite[]) if (w.kind !== 'delete') puts++;
      } else retry.push(planGroups[j] as G);
    }
    pending = retry;
    if (retry.length > 0) items = await reread(retry);
  }
  return puts;
}

/**
 * A copy of `item` with some fields changed and its revision raised, built
 * as one literal so every item has the same shape.
 */
export function changed(
  item: WindowItem,
  accumulator: WindowItem['accumulator'],
  absorbed: WindowItem['absorbed'],
  firedVersion: number,
  pending: boolean,
  purged: boolean,
  supersedes: WindowItem['supersedes'],
  outbox: WindowItem['outbox'] = item.outbox,
): WindowItem {
  return {
    key: item.key,
    start: item.start,
    end: item.end,
    accumulator,
    absorbed,
    firedVersion,
    pending,
    cleanupAt: item.cleanupAt,
    revision: item.revision + 1,
    purged,
    supersedes,
    outbox,
  };
}
