/**
 * The commit: after a batch's state writes (and its side outputs), the
 * shard's progress moves past its records, and the operator watermark
 * advances (docs/semantics.md, "Exactly-once state", steps 5 and 6).
 *
 *   shard progress   committed = last record of the batch   (a retry skips up to it)
 *                    W(s), last activity = now, closed
 *        ▼
 *   operator watermark = max(published, min W(s) over active shards)   (never decreases)
 *
 * Progress is written after the state writes, so every record at or below
 * `committed` is durably in state or in an output. Neither value ever
 * moves backwards: the state store refuses a write that would.
 */
import type { EventTimeSettings } from './pipeline.ts';
import type { OperatorStore } from './operator-store.ts';
import type { Clock } from '../ports/clock.ts';
import { watermarkCandidate } from './watermark.ts';
import type { ShardId } from '../model/position.ts';
import type { JudgedView, OperatorProgress, ShardProgress } from '../model/progress.ts';
import type { SequenceRange } from '../model/shard-ranges.ts';

/** What a batch's commit needs to know about the attempt. */
export interface BatchCommit {
  readonly shardId: ShardId;
  /** The progress read at the attempt's start. */
  readonly progress: OperatorProgress;
  /** The shard's progress in it (`undefined`: its first batch). */
  readonly shard: ShardProgress | undefined;
  /** Encoded offset of the batch's last record (`null`: an empty batch). */
  readonly lastOffset: string | null;
  /** The shard watermark after the batch's records (`-Infinity`: none yet). */
  readonly shardWatermark: number;
  /** The view the shard's progress holds for this range (judged-view.ts). */
  readonly judged: JudgedView | undefined;
  /** This batch ends a closed shard. */
  readonly shardEnded: boolean;
  /** Records the batch applied: the store removes them from the shard's failing ranges. */
  readonly settles?: SequenceRange | undefined;
  /** Processing time of the attempt. */
  readonly now: number;
}

/** What the commit did: the trigger's input. */
export interface Committed {
  /** The published watermark the attempt read (`-Infinity`: none). */
  readonly read: number;
  /** This shard's candidate for the operator watermark. */
  readonly candidate: number;
  /** The operator watermark after the advance. */
  readonly watermark: number;
}

/** Commits batches and advances the operator watermark of one operator. */
export class ProgressCommit {
  private readonly store: OperatorStore;
  private readonly time: EventTimeSettings;
  private readonly clock: Clock;

  constructor(store: OperatorStore, time: EventTimeSettings, clock: Clock) {
    this.store = store;
    this.time = time;
    this.clock = clock;
  }

  /** The same commit under another restore generation (the one an attempt read). */
  at(store: OperatorStore): ProgressCommit {
    return store === this.store ? this : new ProgressCommit(store, this.time, this.clock);
  }

  /** Moves the shard's progress past the batch, then advances the operator watermark. */
  async commitBatch(c: BatchCommit): Promise<Committed> {
    const sp = c.shard;
    const committed = sp?.committed ?? null;
    const last = c.lastOffset;
    const newCommitted =
      last === null ? committed : committed === null || last > committed ? last : committed;
    const judged = c.judged;
    const mine: ShardProgress = {
      shardId: c.shardId,
      committed: newCommitted,
      watermark: Number.isFinite(c.shardWatermark) ? c.shardWatermark : (sp?.watermark ?? null),
      lastActivity: c.now,
      closed: c.shardEnded || (sp?.closed ?? false),
      // A view still covering records above the new commit (a bisected retry) stays.
      ...(judged !== undefined && (newCommitted === null || judged.upTo > newCommitted)
        ? { judged }
        : {}),
      // Passed as read (the store keeps them in any case; with them, its first conditional put matches).
      ...(sp?.failing === undefined ? {} : { failing: sp.failing }),
      ...(sp?.replayed === undefined ? {} : { replayed: sp.replayed }),
    };
    await this.store.writeShardProgress(
      c.settles === undefined ? mine : { ...mine, settles: c.settles },
    );
    const shards = c.progress.shards.filter((p) => p.shardId !== c.shardId);
    shards.push(mine);
    const candidate = watermarkCandidate(shards, c.now, this.time);
    const watermark = await this.advance(c.progress.watermark, candidate);
    return { read: c.progress.watermark ?? -Infinity, candidate, watermark };
  }

  /** Raises the published watermark to `candidate` when that is higher; returns the operator watermark. */
  async advance(published: number | null, candidate: number): Promise<number> {
    const current = published ?? -Infinity;
    if (candidate > current && Number.isFinite(candidate)) {
      return this.store.advanceWatermark(candidate);
    }
    return current;
  }

  /** Marks a shard closed and fully consumed: it stops holding back the watermark. */
  async closeShard(shardId: ShardId): Promise<void> {
    const progress = await this.store.readProgress();
    const p = progress.shards.find((s) => s.shardId === shardId);
    await this.store.at(progress.generation).writeShardProgress({
      shardId,
      committed: p?.committed ?? null,
      watermark: p?.watermark ?? null,
      lastActivity: p?.lastActivity ?? this.clock.now(),
      closed: true,
      ...(p?.failing === undefined ? {} : { failing: p.failing }),
      ...(p?.replayed === undefined ? {} : { replayed: p.replayed }),
    });
  }
}
