/**
 * The view an attempt judges lateness against (docs/semantics.md, "Within
 * a batch" and "Retries and lateness").
 *
 * A record is judged against what the operator knew before it:
 *
 *   w(i) = max(published, min(W(s) so far in this shard, lowest W(s') of the other active shards))
 *
 * where "so far" covers every earlier record of the shard but not record i
 * itself (a record never makes itself late), so results do not depend on
 * how a shard is split into batches.
 *
 * A retry may read a different view than the attempt it repeats. So an
 * attempt records its view in the shard's progress (`judged`) before its
 * state writes, and a later attempt of the same range judges against it:
 *
 *   at least that view ('floor': tumbling, sliding)  a record judged late stays late
 *   exactly that view  ('exact': sessions)           every attempt decides alike, so the
 *                                                    per-key guard's "absorbed means applied" holds
 */
import type { EventTimeSettings } from './pipeline.ts';
import type { BatchGuard } from './guard.ts';
import type { OperatorStore } from './operator-store.ts';
import { isShardActive } from './watermark.ts';
import type { ShardId } from '../model/position.ts';
import type { JudgedView, OperatorProgress, ShardProgress } from '../model/progress.ts';

/** How an attempt judges against a view recorded by an earlier attempt of its range. */
export type JudgingMode = 'floor' | 'exact';

/** The shard's progress and the other shards' watermarks, as an attempt read them at its start. */
export class LatenessView {
  readonly shardId: ShardId;
  /** The shard's progress at the start (`undefined`: its first batch). */
  readonly shard: ShardProgress | undefined;
  /** The published operator watermark read (`-Infinity`: none yet). */
  readonly published: number;
  /** The lowest watermark of the other active shards (`Infinity`: none active). */
  readonly others: number;
  /** Highest event time accepted so far in this attempt. */
  private maxSeen = -Infinity;
  private readonly shardWm0: number;
  private readonly outOfOrderness: number;
  /** The view an earlier attempt of this range recorded. */
  private readonly floor: JudgedView | undefined;
  private readonly exact: boolean;
  /** Records below this index are judged against the floor's parts. */
  private readonly floorEnd: number;
  private readonly floorPublished: number;
  private readonly floorOthers: number;

  /**
   * `shard` is `shardId`'s entry of `progress`; `guard` and `n` are the
   * batch's; `mode` says how a view recorded by an earlier attempt counts.
   */
  constructor(
    progress: OperatorProgress,
    shardId: ShardId,
    shard: ShardProgress | undefined,
    now: number,
    time: EventTimeSettings,
    guard: BatchGuard,
    n: number,
    mode: JudgingMode,
  ) {
    let others = Infinity;
    for (const p of progress.shards) {
      if (p.shardId !== shardId && isShardActive(p, now, time))
        others = Math.min(others, p.watermark ?? -Infinity);
    }
    const sp = shard;
    this.shardId = shardId;
    this.shard = sp;
    this.others = others;
    const published = progress.watermark ?? -Infinity;
    this.published = published;
    this.shardWm0 = sp?.watermark ?? -Infinity;
    this.outOfOrderness = time.maxOutOfOrderness;
    const floor = sp?.judged;
    const exact = mode === 'exact';
    this.floor = floor;
    this.exact = exact;
    this.floorEnd = floor === undefined ? 0 : exact ? n : guard.indexAbove(floor.upTo);
    this.floorPublished =
      floor === undefined
        ? published
        : exact
          ? floor.published
          : Math.max(published, floor.published);
    this.floorOthers =
      floor === undefined ? others : exact ? floor.others : Math.max(others, floor.others);
  }

  /** The watermark record `i` is judged against, before its own event time counts. */
  watermarkBefore(i: number): number {
    const maxSeen = this.maxSeen;
    const ooo = this.outOfOrderness;
    const shardWm = maxSeen - ooo > this.shardWm0 ? maxSeen - ooo : this.shardWm0;
    const inFloor = i < this.floorEnd;
    const oth = inFloor ? this.floorOthers : this.others;
    const pub = inFloor ? this.floorPublished : this.published;
    const low = shardWm < oth ? shardWm : oth;
    return low > pub ? low : pub;
  }

  /** Counts an accepted record's event time (after it was judged). */
  observe(eventTime: number): void {
    if (eventTime > this.maxSeen) this.maxSeen = eventTime;
  }

  /** The shard watermark after this attempt's records: W(s), never lower than before. */
  shardWatermark(): number {
    return Math.max(this.shardWm0, this.maxSeen - this.outOfOrderness);
  }

  /**
   * Writes, before any state write and before any late record leaves, what
   * this attempt judged against (merged with an earlier view), when a retry
   * must see it: when the attempt sends records to the late output, and for
   * sessions whenever it applies records. A retry then judges these records
   * against at least the same view (sessions: exactly it), so a record
   * judged late here is never applied by a retry (which the per-key session
   * guard would otherwise skip as already absorbed, losing it) nor output
   * twice, and a session record applied here is never sent to the late
   * output by a retry. Returns the view the shard's progress holds for
   * this range afterwards.
   */
  async record(
    store: OperatorStore,
    guard: BatchGuard,
    n: number,
    hasLate: boolean,
    now: number,
  ): Promise<JudgedView | undefined> {
    const floor = this.floor;
    if (!hasLate && !(this.exact && guard.firstLive < n)) return floor;
    const upTo = guard.encAt(n - 1);
    const judged: JudgedView = {
      upTo: floor !== undefined && floor.upTo > upTo ? floor.upTo : upTo,
      published: this.floorPublished,
      others: this.floorOthers,
    };
    const sp = this.shard;
    await store.writeShardProgress({
      shardId: this.shardId,
      committed: guard.committed,
      watermark: sp?.watermark ?? null,
      lastActivity: now,
      closed: sp?.closed ?? false,
      judged,
      // Passed as read (the store keeps them in any case; with them, its first conditional put matches).
      ...(sp?.failing === undefined ? {} : { failing: sp.failing }),
      ...(sp?.replayed === undefined ? {} : { replayed: sp.replayed }),
    });
    return judged;
  }
}
