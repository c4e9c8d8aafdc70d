/**
 * What a restore's replay applied, recorded per shard in its progress
 * (`ShardProgress.replayed`), so that `weir redrive` does not apply a
 * skipped range a second time (docs/recovery.md, "What a restore does to
 * redriven ranges"):
 *
 *   resetProgress   every shard of the manifest: a started span, above its committed position
 *   replay          reads every shard from there to the tip through the live batch path
 *   after it        every started span finished at the shard's committed position; a shard not in
 *                   the manifest (created since, replayed from its start) gets a span from its start
 *
 * Spans travel with the state they describe: a checkpoint carries them in
 * its progress, and a restore keeps the ones its checkpoint carries (their
 * records are in the checkpoint's state) and adds its own.
 */
import { WeirError } from '../../errors.ts';
import type { OperatorProgress, ShardProgress } from '../../model/progress.ts';
import { lastOffsetOfRecord, type ReplayedSpan } from '../../model/shard-ranges.ts';
import type { StateStore } from '../../ports/state-store.ts';
import { REDRIVE_SOURCE_PREFIX } from '../guard.ts';

/**
 * A checkpoint's progress as a restore writes it: each shard's spans with
 * the one this restore's replay starts (above the committed position,
 * `null`: from the start). A span the checkpoint holds as started (taken
 * while a replay ran) ends at the checkpoint's position: that is as far as
 * its records can be in the checkpoint's state.
 */
export function withReplayStarts(progress: OperatorProgress): OperatorProgress {
  return {
    ...progress,
    shards: progress.shards.map((p) => {
      if (p.shardId.startsWith(REDRIVE_SOURCE_PREFIX)) return p;
      const carried = (p.replayed ?? [])
        .map((s): ReplayedSpan => (s.done ? s : { ...s, upTo: p.committed, done: true }))
        .filter((s) => s.after !== p.committed);
      return { ...p, replayed: [...carried, { after: p.committed, upTo: null, done: false }] };
    }),
  };
}

/** Conditional writes per shard before giving up (only a concurrent tick moves the progress). */
const ATTEMPTS = 5;

/**
 * Finishes the spans of the replay that just read every shard to the tip:
 * each started span ends at its shard's committed position, and each shard
 * without one (not in the checkpoint: replayed from its start) gets a span
 * from its start. Returns the shards written.
 */
export async function finishReplaySpans(
  state: StateStore,
  operator: string,
  generation: number,
): Promise<number> {
  let written = 0;
  const first = await state.readProgress(operator);
  for (const shard of first.shards) {
    if (shard.shardId.startsWith(REDRIVE_SOURCE_PREFIX)) continue;
    let p: ShardProgress | undefined = shard;
    for (let attempt = 1; ; attempt++) {
      if (p === undefined) break;
      if (await state.writeShardProgress(operator, finished(p), generation)) break;
      if (attempt >= ATTEMPTS)
        throw new WeirError(
          `the progress of ${shard.shardId} kept moving while the restore recorded what its replay applied`,
        );
      p = (await state.readProgress(operator)).shards.find((s) => s.shardId === shard.shardId);
    }
    written++;
  }
  return written;
}

function finished(p: ShardProgress): ShardProgress {
  // The committed offset after a replay is the last sub-record of its Kinesis record.
  const upTo = p.committed === null ? null : lastOffsetOfRecord(p.committed);
  const spans = p.replayed ?? [];
  const started = spans.some((s) => !s.done);
  const { settles: _never, ...rest } = p;
  return {
    ...rest,
    replayed: started
      ? spans.map((s) => (s.done ? s : { ...s, upTo, done: true }))
      : [...spans, { after: null, upTo, done: true }],
  };
}
