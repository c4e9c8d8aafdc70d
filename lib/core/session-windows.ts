/**
 * Session windows in one batch. A record is late when `t + allowedLateness
 * <= w` (Flink's `isElementLate`), which also guarantees it can never touch
 * a session that was already purged, so incremental merging equals a
 * recomputation. The records of each key are then merged into batch-local
 * sessions, those with the key's stored sessions (merging-window-set.ts),
 * and every change to the key's sessions is ONE atomic write group.
 *
 * Atomicity per key is what makes the per-key guard sound: every record of
 * a key in an attempt is applied together, so "some item of the key
 * absorbed a position >= p of this shard" implies "the record at p was
 * applied" (docs/semantics.md, "Exactly-once state").
 *
 * Serializability per key across shards: a group that creates, removes or
 * revives a session also writes the key's head, conditioned on the version
 * read before the items. Two batches of different shards that planned
 * against the same read cannot both create a session (two overlapping items
 * that would fire apart); the loser re-reads and merges into the winner's.
 * Updates in place need no head: their bounds are an item the other writer
 * would have to delete, on its revision (docs/semantics.md, "Sessions under
 * concurrent shards").
 */
import type { AggregateFunction } from './aggregate.ts';
import { RecordStatus } from './batch.ts';
import type { Batch } from './batch.ts';
import type { BatchWindows, WindowsContext } from './batch-windows.ts';
import type { BatchGuard } from './guard.ts';
import { MergingWindowSet, type MergedSession } from './merging-window-set.ts';
import type { OperatorStore } from './operator-store.ts';
import type { RecordCursor } from './record-cursor.ts';
import type { RecordPipeline } from './record-pipeline.ts';
import { writeUntilApplied } from './state-writer.ts';
import type { SessionWindows } from './window.ts';
import { DeadLetterReason, LateReason } from '../model/records.ts';
import type { TimeWindow } from '../model/time-window.ts';
import type { WindowItem, WindowWrite } from '../ports/state-store.ts';

/** What a plan reads of one key: its head version (read first), then its items. */
interface KeySessions {
  readonly head: number;
  readonly items: readonly WindowItem[];
}

/** One batch's session windows. */
export class SessionBatchWindows<IN, ACC> implements BatchWindows<IN> {
  private readonly batch: Batch<IN>;
  private readonly guard: BatchGuard;
  private readonly store: OperatorStore;
  private readonly pipeline: RecordPipeline<IN>;
  private readonly agg: AggregateFunction<IN, ACC, unknown>;
  private readonly lateness: number;
  private readonly assigner: SessionWindows;
  private readonly gap: number;
  /** key -> batch indexes of its records in state, ascending. */
  private readonly byKey = new Map<string, number[]>();
  /** The lowest end of the session items this batch planned to write. */
  private lowestWrittenEnd = Infinity;

  constructor(ctx: WindowsContext<IN, ACC>, assigner: SessionWindows) {
    this.batch = ctx.batch;
    this.guard = ctx.guard;
    this.store = ctx.store;
    this.pipeline = ctx.pipeline;
    this.agg = ctx.aggregate;
    this.lateness = ctx.allowedLateness;
    this.assigner = assigner;
    this.gap = assigner.gap;
  }

  addAll(cursor: RecordCursor<IN>): void {
    for (let i = 0; i < this.batch.n; i++) {
      const key = cursor.next(i);
      if (key !== undefined) this.add(i, key, cursor.value as IN, cursor.time, cursor.watermark);
    }
  }

  add(i: number, key: string, _value: IN, t: number, w: number): void {
    const batch = this.batch;
    if (t + this.lateness <= w) {
      const window = { start: t, end: t + this.gap };
      batch.lateRecord(i, key, [window], LateReason.SESSION_CLOSED, w);
      batch.status[i] = RecordStatus.LATE;
      return;
    }
    let list = this.byKey.get(key);
    if (list === undefined) this.byKey.set(key, (list = []));
    list.push(i);
    batch.status[i] = RecordStatus.IN_STATE;
  }

  /**
   * Sessions judge lateness by the record's own event time, not by its
   * window's, so a session's absorbed position does not prove an older
   * record in it was applied: they keep the view recorded by the first
   * attempt instead (judged-view.ts, 'exact').
   */
  reclaimLate(): Promise<void> {
    return Promise.resolve();
  }

  lowestEnd(): number {
    return this.lowestWrittenEnd;
  }

  async write(): Promise<number> {
    const keys = [...this.byKey.keys()];
    if (keys.length === 0) return 0;
    const read = async (ks: readonly string[]): Promise<KeySessions[]> => {
      // The heads first: a head unchanged at write time then covers the items read after it.
      const heads = await this.store.readSessionHeads(ks);
      const stored = await this.store.listKeyWindows(ks);
      return ks.map((k, i) => ({ head: heads[i] ?? 0, items: stored.get(k) ?? [] }));
    };
    return writeUntilApplied(this.store, keys, await read(keys), read, (key, read) =>
      this.plan(key, read),
    );
  }

  /** One key's session changes as one atomic write group (with its head when sessions come or go). */
  private plan(key: string, { head, items }: KeySessions): WindowWrite[] {
    const recs = this.unapplied(key, items);
    if (recs.length === 0) return [];
    const set = new MergingWindowSet<ACC>(this.agg);
    const lastIdx = this.batchSessions(recs, set);
    if (lastIdx < 0) return [];
    const lastEnc = this.guard.encAt(lastIdx);
    const writes: WindowWrite[] = [];
    let bounds = false;
    for (const m of set.merge(items)) if (this.writesOf(key, m, lastEnc, writes)) bounds = true;
    for (const w of writes)
      if (w.kind === 'put' && w.item.end < this.lowestWrittenEnd)
        this.lowestWrittenEnd = w.item.end;
    if (bounds) writes.push({ kind: 'head', key, expectedVersion: head });
    return writes;
  }

  /**
   * The key's records this attempt still has to apply, in event-time order:
   * not those at or below what the key's items absorbed of this shard (the
   * per-key guard), and not those whose session would join one already
   * purged (its state is gone: late output, as a tumbling window's record
   * meeting a tombstone). The latter is only reachable when the record was
   * judged against an older view than the purge's (a retry judges its range
   * against the view the range first recorded; or a restore moved the
   * watermark back).
   */
  private unapplied(key: string, items: readonly WindowItem[]): number[] {
    const { batch, guard } = this;
    let maxAbs: string | undefined;
    for (const it of items) {
      const a = guard.absorbedBy(it);
      if (a !== undefined && (maxAbs === undefined || a > maxAbs)) maxAbs = a;
    }
    const cut = guard.cut(maxAbs);
    const times = batch.times;
    const tombs = items.filter((it) => it.purged);
    const recs: number[] = [];
    for (const i of this.byKey.get(key) as number[]) {
      if (batch.status[i] !== RecordStatus.IN_STATE) continue;
      if (i < cut) {
        batch.applied[i] = 1;
        continue;
      }
      const t = times[i] as number;
      if (tombs.length > 0) {
        const proto: TimeWindow = { start: t, end: t + this.gap };
        if (tombs.some((it) => this.assigner.connects(it, proto))) {
          batch.lateRecord(i, key, [proto], LateReason.WINDOW_PURGED, -Infinity);
          batch.status[i] = RecordStatus.LATE;
          continue;
        }
      }
      recs.push(i);
    }
    recs.sort((a, b) => (times[a] as number) - (times[b] as number) || a - b);
    return recs;
  }

  /**
   * Folds the records (in event-time order) into batch-local sessions: a
   * record joins the current session when its proto-window `[t, t + gap)`
   * touches it, and opens a new one otherwise. Returns the highest batch
   * index applied (`-1`: none, every record's aggregate threw).
   */
  private batchSessions(recs: readonly number[], set: MergingWindowSet<ACC>): number {
    const { agg, batch, gap } = this;
    const times = batch.times;
    let start = NaN;
    let end = -Infinity;
    let acc: ACC | undefined;
    let lastIdx = -1;
    for (const i of recs) {
      const t = times[i] as number;
      try {
        const value = this.pipeline.eventAt(batch, i);
        if (acc === undefined || t > end) {
          const opened = agg.add(value, agg.createAccumulator());
          if (acc !== undefined) set.addBatchSession(start, end, acc);
          start = t;
          end = t + gap;
          acc = opened;
        } else {
          acc = agg.add(value, acc);
          if (t + gap > end) end = t + gap;
        }
      } catch (e) {
        batch.deadLetter(i, DeadLetterReason.AGGREGATE_THREW, e);
        continue;
      }
      if (i > lastIdx) lastIdx = i;
    }
    if (acc !== undefined) set.addBatchSession(start, end, acc);
    return lastIdx;
  }

  /**
   * The writes of one merged session: an update in place (returns `false`),
   * or deletes of what it absorbs and one put of new bounds (returns `true`:
   * the key's set of sessions changes).
   */
  private writesOf(
    key: string,
    m: MergedSession<ACC>,
    lastEnc: string,
    out: WindowWrite[],
  ): boolean {
    const agg = this.agg;
    const source = this.guard.source;
    const absorbed: Record<string, string> = {};
    for (const it of m.stored) {
      for (const [s, a] of Object.entries(it.absorbed)) {
        const have = absorbed[s];
        if (have === undefined || a > have) absorbed[s] = a;
      }
    }
    const have = absorbed[source];
    if (have === undefined || lastEnc > have) absorbed[source] = lastEnc;
    const accumulator = agg.serialize(m.acc);
    const only = m.stored.length === 1 ? m.stored[0] : undefined;
    if (only !== undefined && only.start === m.start && only.end === m.end) {
      const item = { ...only, accumulator, absorbed, pending: true, revision: only.revision + 1 };
      out.push({ kind: 'put', expectedRevision: only.revision, item });
      return false;
    }
    const supersedes: TimeWindow[] = [];
    for (const it of m.stored) {
      supersedes.push(...it.supersedes);
      if (it.firedVersion > 0) supersedes.push({ start: it.start, end: it.end });
      out.push({ kind: 'delete', ref: it, expectedRevision: it.revision });
    }
    supersedes.sort((a, b) => a.start - b.start || a.end - b.end);
    const tomb = m.tombstone;
    out.push({
      kind: 'put',
      expectedRevision: tomb?.revision ?? null,
      item: {
        key,
        start: m.start,
        end: m.end,
        accumulator,
        absorbed,
        firedVersion: tomb?.firedVersion ?? 0,
        pending: true,
        cleanupAt: m.end - 1 + this.lateness,
        revision: (tomb?.revision ?? 0) + 1,
        purged: false,
        supersedes,
        // A revived tombstone keeps a result it fired but had not emitted yet.
        outbox: tomb?.outbox ?? null,
      },
    });
    return true;
  }
}
