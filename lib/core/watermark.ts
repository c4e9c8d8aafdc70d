/**
 * Watermark rules (see docs/semantics.md, "Watermarks").
 *
 *   W(s) = max event time seen on shard s - maxOutOfOrderness   (never decreases)
 *   W    = max(W_published, min over active shards of W(s))       (never decreases)
 *
 * A shard is active unless it is closed and consumed, or idle: no batch for
 * `idleTimeout` of processing time. When no shard is active and `idleAdvance`
 * is on, the candidate is `now - idleTimeout - maxOutOfOrderness`: every shard
 * has been silent for at least idleTimeout, so weir assumes event time keeps
 * pace with processing time. Records that break that assumption are not lost;
 * they go to the late-data output.
 */
import type { ShardProgress } from '../model/progress.ts';
import type { EventTimeSettings } from './pipeline.ts';

/** Whether a shard holds back the operator watermark at processing time `now`. */
export function isShardActive(p: ShardProgress, now: number, time: EventTimeSettings): boolean {
  return !p.closed && (time.idleTimeout === undefined || now - p.lastActivity < time.idleTimeout);
}

/**
 * Candidate operator watermark from the shards' progress at `now`, before the
 * monotonic max with the published watermark. `-Infinity` when nothing is known.
 */
export function watermarkCandidate(
  shards: readonly ShardProgress[],
  now: number,
  time: EventTimeSettings,
): number {
  let active = false;
  let min = Infinity;
  for (const p of shards) {
    if (!isShardActive(p, now, time)) continue;
    active = true;
    const w = p.watermark ?? -Infinity;
    if (w < min) min = w;
  }
  if (active) return min;
  if (time.idleAdvance && time.idleTimeout !== undefined && shards.length > 0) {
    return now - time.idleTimeout - time.maxOutOfOrderness;
  }
  return -Infinity;
}
