/**
 * Results a restore may leave stale: what the sinks hold from firings of
 * the state a restore replaces that the checkpoint does not stand by. Pure
 * TypeScript over the StateStore port's scan.
 *
 *   raise generation ─► collect (scan the replaced ─► clear ─► load items ──────────► replay, tick ─► retract
 *                       state): every window item     (old     (toLoad: a window the    (lib/runtime/restore/
 *                       with firedVersion > 0          gen)     checkpoint holds as      retract.ts: the windows
 *                                                               fired leaves the set;    left that the new
 *                                                               loaded pending if the    generation did not fire)
 *                                                               sinks hold a later or
 *                                                               merged-away result)
 *
 * Two kinds of stale result:
 *
 * - a window that fired after the checkpoint (absent from it, or held
 *   unfired) had its result written from state the restore throws away; if
 *   the replay under the new generation never fires it (a correction
 *   filtered out every record of it, a session merged differently and has
 *   other bounds), nothing would ever replace that result: the runtime
 *   retracts it (lib/model/retraction.ts);
 * - a window the checkpoint holds as fired version v, which the replaced
 *   state fired further (v + 1 after a late record) or merged away (a
 *   superseded session): the sinks hold a result, or a mask, the restored
 *   state does not stand by. The item is loaded pending, so it fires again
 *   under the new generation and its result replaces both.
 *
 * The scan runs after the generation is raised, so every batch still in
 * flight is fenced from the restored state, and reads the items of every
 * generation: items a fenced batch stored under the old generation (which
 * it may have emitted) are collected too. A batch of the old generation
 * that fires after the scan is not seen (the mapping is paused first, so
 * only one already running can).
 */
import { ConfigError } from '../../errors.ts';
import type { WindowItem, WindowRef, WindowScanner } from '../../ports/state-store.ts';

/** A window that fired in the state a restore replaced. */
export interface FiredWindow extends WindowRef {
  /** The highest version it had fired there. */
  readonly firedVersion: number;
}

/** Options of {@link collectFiredWindows}. */
export interface CollectFiredOptions {
  /** Scan segments read in parallel. @default 4 */
  readonly segments?: number;
  /** Items per scan page. @default 1000 */
  readonly pageSize?: number;
}

/**
 * The windows that had fired in an operator's state, read before a restore
 * clears it; {@link FiredWindows.toLoad} then takes out those the
 * checkpoint holds as fired.
 */
export class FiredWindows {
  readonly #windows = new Map<string, FiredWindow>();
  #scanned = 0;
  #revised = 0;

  /** Records a scanned item if it had fired (the highest version wins across generations). */
  add(item: WindowItem): void {
    this.#scanned++;
    if (item.firedVersion <= 0) return;
    const k = slot(item);
    const had = this.#windows.get(k);
    if (had === undefined || had.firedVersion < item.firedVersion)
      this.#windows.set(k, {
        key: item.key,
        start: item.start,
        end: item.end,
        firedVersion: item.firedVersion,
      });
  }

  /**
   * Judges a checkpoint item against the replaced state and returns the
   * item to load. An item that holds its window as fired takes the window
   * out of the candidates: the restored state stands by a result. If the
   * replaced state had fired that window further (a late update after the
   * checkpoint) or had merged it away (no fired window of its bounds: a
   * session the replaced state superseded), the sinks hold something the
   * restored state does not stand by; an open item is then loaded
   * `pending`, so it fires again under the new generation as soon as the
   * watermark allows (the restored watermark already does: it had fired)
   * and its result replaces the stale one. A tombstone cannot fire again
   * and is loaded as it is. Nothing is revised after a state loss (nothing
   * was scanned).
   */
  toLoad(item: WindowItem): WindowItem {
    if (item.firedVersion <= 0) return item;
    const k = slot(item);
    const had = this.#windows.get(k);
    this.#windows.delete(k);
    const stale = this.#scanned > 0 && had?.firedVersion !== item.firedVersion;
    if (!stale || item.purged || item.pending) return item;
    this.#revised++;
    return { ...item, pending: true };
  }

  /** Checkpoint items {@link toLoad} loaded pending, to fire again. */
  get revised(): number {
    return this.#revised;
  }

  /** The windows left, sorted by key, start, end. */
  windows(): FiredWindow[] {
    return [...this.#windows.values()].sort(
      (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start || a.end - b.end,
    );
  }

  get size(): number {
    return this.#windows.size;
  }
}

/** True when a store can scan its window items (both adapters can; test doubles may not). */
export function isWindowScanner(store: object): store is WindowScanner {
  return typeof (store as Partial<WindowScanner>).scanWindows === 'function';
}

/**
 * Scans every window item of the operator (all generations, segments in
 * parallel) and keeps those that fired.
 *
 * @example
 * const generation = await state.raiseGeneration('clicks');
 * const fired = await collectFiredWindows(state, 'clicks');
 * // ... clear, then load fired.toLoad(item) for each checkpoint item
 */
export async function collectFiredWindows(
  store: WindowScanner,
  operator: string,
  options: CollectFiredOptions = {},
): Promise<FiredWindows> {
  const segments = options.segments ?? 4;
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000)
    throw new ConfigError('segments', segments, 'must be an integer 1..1000000');
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new ConfigError('pageSize', pageSize, 'must be a positive integer');
  const fired = new FiredWindows();
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let cursor: string | null = null;
      do {
        const page = await store.scanWindows(operator, {
          segment,
          totalSegments: segments,
          cursor,
          limit: pageSize,
        });
        for (const item of page.items) fired.add(item);
        cursor = page.cursor;
      } while (cursor !== null);
    }),
  );
  return fired;
}

function slot(w: WindowRef): string {
  return JSON.stringify([w.key, w.start, w.end]);
}
