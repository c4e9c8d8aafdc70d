/**
 * Firing and purging (docs/semantics.md, "Firing, lateness, purge"), and
 * the outbox they fill.
 *
 *   due windows (pending, maxTimestamp <= W)
 *        │  fire: ONE conditional write per window sets the fired version
 *        │        and puts the result in the item's outbox
 *        ▼
 *   results ─► runtime ─► sinks ─► acknowledge (clears the outbox entry)
 *        │                   └─ a crash in between leaves the outbox: re-driven
 *        ▼
 *   expired windows (cleanupAt < W, not pending)
 *           purge: the item becomes a tombstone (bounds, absorbed, fired version)
 *
 * Firing and purging are two writes, even for a window already past its
 * lateness when it fires (see docs/semantics.md, "Firing and purging are
 * two writes"). Both take the windows a page at a time and repeat until
 * nothing is left.
 */
import type { AggregateFunction } from './aggregate.ts';
import { AggregateResultError, StateContentionError } from './errors.ts';
import type { OperatorStore } from './operator-store.ts';
import { MAX_ATTEMPTS, NO_WINDOWS, changed } from './state-writer.ts';
import { TriggerResult, type TriggerDecision } from './trigger.ts';
import type { Clock } from '../ports/clock.ts';
import type { WindowWrite } from '../ports/state-store.ts';
import { ResultIds } from '../model/ids.ts';
import { toJsonValue, type JsonValue } from '../model/json.ts';
import type { WindowResult } from '../model/records.ts';
import type { TimeWindow } from '../model/time-window.ts';

/** Fires, purges and re-drives one operator's windows. */
export class WindowFiring<IN, ACC, OUT> {
  private readonly store: OperatorStore;
  private readonly agg: AggregateFunction<IN, ACC, OUT>;
  private readonly clock: Clock;
  private readonly ids: ResultIds;
  private readonly page: number;

  constructor(
    store: OperatorStore,
    agg: AggregateFunction<IN, ACC, OUT>,
    clock: Clock,
    pageSize: number,
    ids: ResultIds = new ResultIds(store.operator),
  ) {
    this.store = store;
    this.agg = agg;
    this.clock = clock;
    this.ids = ids;
    this.page = pageSize;
  }

  /** The same firing under another restore generation (the one an attempt read). */
  at(store: OperatorStore): WindowFiring<IN, ACC, OUT> {
    return store === this.store
      ? this
      : new WindowFiring(store, this.agg, this.clock, this.page, this.ids);
  }

  /** Carries out a trigger decision: the results fired (none for CONTINUE). */
  async run(decision: TriggerDecision): Promise<WindowResult<OUT>[]> {
    if (decision.result === TriggerResult.CONTINUE) return [];
    const results = await this.fire(decision.watermark);
    await this.purge(decision.watermark);
    return results;
  }

  /** Fires every window due at `w`, a page at a time. */
  private async fire(w: number): Promise<WindowResult<OUT>[]> {
    const op = this.store.operator;
    const now = this.clock.now();
    const out: WindowResult<OUT>[] = [];
    for (let round = 1; ; round++) {
      if (round > MAX_ATTEMPTS * 1000) throw new StateContentionError(op, round);
      const due = [...(await this.store.listDue(w, this.page))];
      if (due.length === 0) return out;
      due.sort(
        (a, b) =>
          a.end - b.end || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start,
      );
      const planned: WindowWrite[][] = [];
      const pendingResults: WindowResult<OUT>[] = [];
      // Due items come sorted by end: results of one window share one (readonly) bounds object.
      let window: TimeWindow = { start: NaN, end: NaN };
      for (const item of due) {
        let value: OUT;
        try {
          value = this.agg.getResult(this.agg.deserialize(item.accumulator));
        } catch (e) {
          throw new AggregateResultError(item.key, item, e);
        }
        const version = item.firedVersion + 1;
        const generation = this.store.generation;
        if (window.start !== item.start || window.end !== item.end)
          window = { start: item.start, end: item.end };
        pendingResults.push({
          id: this.ids.of(item.key, item.start, item.end, version, generation),
          operator: op,
          key: item.key,
          window,
          value,
          version,
          ...(generation > 0 ? { generation } : {}),
          supersedes: item.supersedes,
        });
        // Fired, not purged, even when already past its lateness: the purge
        // skips an item another shard updated in between.
        const outbox = {
          generation,
          version,
          value: toJsonValue(value),
          supersedes: item.supersedes,
          firedAt: now,
        };
        // Fired in state and put in the outbox by one write: emission is re-driven until acknowledged.
        const fired = changed(
          item,
          item.accumulator,
          item.absorbed,
          version,
          false,
          false,
          NO_WINDOWS,
          outbox,
        );
        planned.push([{ kind: 'put', expectedRevision: item.revision, item: fired }]);
      }
      const ok = await this.store.write(planned);
      for (let j = 0; j < ok.length; j++)
        if (ok[j] === true) out.push(pendingResults[j] as WindowResult<OUT>);
    }
  }

  /** Purges every window whose lateness has passed at `w` (not pending) to a tombstone. */
  private async purge(w: number): Promise<void> {
    for (;;) {
      const expired = await this.store.listExpired(w, this.page);
      const planned: WindowWrite[][] = [];
      for (const item of expired) {
        if (item.pending) continue; // updated after firing: the next fire/purge round takes it
        const tombstone = changed(
          item,
          null,
          item.absorbed,
          item.firedVersion,
          false,
          true,
          NO_WINDOWS,
        );
        planned.push([{ kind: 'put', expectedRevision: item.revision, item: tombstone }]);
      }
      if (planned.length === 0) return;
      const ok = await this.store.write(planned);
      if (!ok.some((x) => x) && expired.length < this.page) return;
    }
  }

  /** Results fired in state but not yet acknowledged as emitted (the outbox), at most `limit`. */
  async pendingResults(limit: number): Promise<WindowResult<JsonValue>[]> {
    const op = this.store.operator;
    const items = await this.store.listOutbox(limit);
    const out: WindowResult<JsonValue>[] = [];
    for (const item of items) {
      const o = item.outbox;
      if (o === null) continue;
      out.push({
        id: this.ids.of(item.key, item.start, item.end, o.version, o.generation),
        operator: op,
        key: item.key,
        window: { start: item.start, end: item.end },
        value: o.value,
        version: o.version,
        ...(o.generation > 0 ? { generation: o.generation } : {}),
        supersedes: o.supersedes,
      });
    }
    return out;
  }

  /** Clears the outbox entries of emitted results; returns how many were cleared. */
  async acknowledge(
    results: readonly Pick<WindowResult<unknown>, 'key' | 'window' | 'generation' | 'version'>[],
  ): Promise<number> {
    if (results.length === 0) return 0;
    const acks = results.map((r) => ({
      key: r.key,
      start: r.window.start,
      end: r.window.end,
      generation: r.generation ?? 0,
      version: r.version,
    }));
    const ok = await this.store.ackOutbox(acks);
    return ok.filter((x) => x).length;
  }
}
