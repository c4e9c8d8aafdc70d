/**
 * The live schedule for the reference (reference.ts): a state store wrapper
 * that turns every applied call into a reference step, as
 * runtime-faults.property.test.ts and restore.property.test.ts use it. One batch step per applied
 * progress write, one close step per shard closed, one `judged` step per new
 * view an attempt recorded, one watermark step per applied advance.
 */
import type { ManualClock } from '../../lib/ports/clock.ts';
import type { StateStore } from '../../lib/ports/state-store.ts';
import { decodeOffset } from '../../lib/model/position.ts';
import type { RefStep } from './reference.ts';

/** Wraps `inner` (below any fault layer): every applied call is appended to `steps`. */
export function recordingStore(
  inner: StateStore,
  clock: ManualClock,
  steps: RefStep[],
  shardIndex: (shardId: string) => number,
  indexOfSeq: (seq: string) => number,
): StateStore {
  const committed = new Map<string, number>();
  const closed = new Set<string>();
  const judged = new Map<string, string>();
  const activity = new Map<string, number>();
  return {
    readProgress: (op) => inner.readProgress(op),
    getWindows: (op, refs, g) => inner.getWindows(op, refs, g),
    readSessionHeads: (op, keys, g) => inner.readSessionHeads(op, keys, g),
    listKeyWindows: (op, keys, g) => inner.listKeyWindows(op, keys, g),
    write: (op, groups, g) => inner.write(op, groups, g),
    listDue: (op, w, limit, g) => inner.listDue(op, w, limit, g),
    listExpired: (op, w, limit, g) => inner.listExpired(op, w, limit, g),
    listOutbox: (op, limit, g) => inner.listOutbox(op, limit, g),
    ackOutbox: (op, acks, g) => inner.ackOutbox(op, acks, g),
    async writeShardProgress(op, p, g) {
      const ok = await inner.writeShardProgress(op, p, g);
      if (!ok) return ok;
      const shard = shardIndex(p.shardId);
      const now = clock.now();
      if (p.closed && !closed.has(p.shardId)) {
        closed.add(p.shardId);
        steps.push({ kind: 'close', shard, now, noAdvance: true });
        return ok;
      }
      const last = p.committed === null ? -1 : indexOfSeq(decodeOffset(p.committed).sequenceNumber);
      const prev = committed.get(p.shardId) ?? -1;
      // A write that only records a failing range (runtime/failing-range.ts) moves neither the
      // position nor the activity: it is no step of the schedule.
      if (last <= prev && activity.get(p.shardId) === p.lastActivity && p.judged === undefined)
        return ok;
      activity.set(p.shardId, p.lastActivity);
      steps.push({
        kind: 'batch',
        shard,
        from: prev + 1,
        to: Math.max(prev, last) + 1,
        now,
        noAdvance: true,
      });
      committed.set(p.shardId, Math.max(prev, last));
      // The store keeps the higher of the stored and the written view: read it back.
      const stored = (await inner.readProgress(op)).shards.find(
        (s) => s.shardId === p.shardId,
      )?.judged;
      const view = stored === undefined ? undefined : JSON.stringify(stored);
      if (stored !== undefined && judged.get(p.shardId) !== view) {
        const upTo = indexOfSeq(decodeOffset(stored.upTo).sequenceNumber);
        steps.push({ kind: 'judged', shard, upTo, now });
      }
      if (view !== undefined) judged.set(p.shardId, view);
      else judged.delete(p.shardId);
      return ok;
    },
    async advanceWatermark(op, w, g) {
      const stored = await inner.advanceWatermark(op, w, g);
      steps.push({ kind: 'tick', now: clock.now() });
      return stored;
    },
  };
}
