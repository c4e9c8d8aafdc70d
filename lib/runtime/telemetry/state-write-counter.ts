/**
 * Counts the state writes a runtime makes, and the ones that lost a race,
 * without the engine core knowing: a wrapper around the StateStore port
 * whose `write` (the conditional group writes of the core's state writer
 * and firing) counts what applied and what did not. Every other method
 * passes through untouched, so the port may grow without this file.
 *
 *   core ──write(groups)──► counter ──► StateStore
 *                              └── applied group: +items written; refused group: +1 conflict
 */
import type { StateStore } from '../../ports/state-store.ts';

/** What {@link countStateWrites} counted since the last `take()`. */
export interface StateWriteCounts {
  /** Items written by groups whose condition held. */
  readonly writes: number;
  /** Groups whose condition failed (another writer changed an item first): re-read, re-planned, retried. */
  readonly conflicts: number;
}

/** A counting store and the way to read (and reset) its counts. */
export interface CountedStateStore<S extends StateStore> {
  readonly store: S;
  take(): StateWriteCounts;
}

/**
 * Wraps `store` so that its conditional writes are counted.
 *
 * @example
 * const counted = countStateWrites(new DynamoDbStateStore({ ... }));
 * const runtime = new OperatorRuntime({ ..., store: counted.store });
 * // after an invocation:
 * const { writes, conflicts } = counted.take();
 */
export function countStateWrites<S extends StateStore>(store: S): CountedStateStore<S> {
  let writes = 0;
  let conflicts = 0;
  const write: StateStore['write'] = async (operator, groups) => {
    const ok = await store.write(operator, groups);
    ok.forEach((applied, i) => {
      if (applied) writes += groups[i]?.length ?? 0;
      else conflicts += 1;
    });
    return ok;
  };
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  return {
    store: counted,
    take: () => {
      const counts = { writes, conflicts };
      writes = 0;
      conflicts = 0;
      return counts;
    },
  };
}
