/**
 * Gathers one {@link OperatorStatus} from the ports: the operator's progress
 * (one Query), the stream's shard list (ListShards), the window counts and
 * a bounded lag read per shard that is not retired. Progress records of
 * `weir redrive` ranges (`redrive:<shard>:<start>`) are listed apart, not as
 * shards.
 */
import { REDRIVE_SOURCE_PREFIX } from '../../core/guard.ts';
import { describeError } from '../../errors.ts';
import { decodeOffset } from '../../model/position.ts';
import type { ShardProgress } from '../../model/progress.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ShardLagReader, WindowCounter, WindowCounts } from '../../ports/operator-status.ts';
import type { ShardDirectory, ShardInfo } from '../../ports/shard-directory.ts';
import type { StateStore } from '../../ports/state-store.ts';
import { mapSettled } from '../../util/map-settled.ts';
import {
  STATUS_SCHEMA,
  type OperatorStatus,
  type RedrivenRange,
  type ShardBehind,
  type ShardState,
  type ShardStatus,
} from './status-model.ts';

/** What a look reads. */
export interface StatusSources {
  readonly progress: Pick<StateStore, 'readProgress'>;
  readonly windows: WindowCounter;
  readonly shards: Pick<ShardDirectory, 'listShards'>;
  readonly lag: ShardLagReader;
  readonly clock: Clock;
}

/** Options of {@link gatherStatus}. */
export interface GatherStatusOptions {
  readonly operator: string;
  /** Names shown in the report. */
  readonly stream: string;
  readonly table: string;
  /** A shard without a batch for this long is `idle`, as the runtime judges it (the pipeline's `idleTimeout`). */
  readonly idleTimeoutMs: number;
  /** Shards whose lag is read at once. @default 4 */
  readonly concurrency?: number;
}

/**
 * Takes one look at an operator. Never throws for a shard's lag or the
 * window counts (they are reported as errors in the status); the progress
 * and the shard list must be readable.
 *
 * @example
 * const status = await gatherStatus(sources, { operator: 'click-counter', stream, table, idleTimeoutMs: 60_000 });
 */
export async function gatherStatus(
  sources: StatusSources,
  options: GatherStatusOptions,
): Promise<OperatorStatus> {
  const [progress, listed] = await Promise.all([
    sources.progress.readProgress(options.operator),
    sources.shards.listShards(),
  ]);
  const at = sources.clock.now();
  const errors: string[] = [];
  let windows: WindowCounts | null = null;
  const counting = sources.windows.countWindows(options.operator, progress.watermark).then(
    (w) => void (windows = w),
    (err: unknown) => void errors.push(`window counts: ${describeError(err)}`),
  );
  const byId = new Map<string, { info?: ShardInfo; progress?: ShardProgress }>();
  for (const info of listed) byId.set(info.shardId, { info });
  const redriven: RedrivenRange[] = [];
  for (const p of progress.shards) {
    if (p.shardId.startsWith(REDRIVE_SOURCE_PREFIX)) redriven.push(redrivenRange(p));
    else byId.set(p.shardId, { ...byId.get(p.shardId), progress: p });
  }
  redriven.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  const ids = [...byId.keys()].sort();
  const settled = await mapSettled(ids, options.concurrency ?? 4, (id) =>
    shardStatus(id, byId.get(id) ?? {}, sources.lag, at, options.idleTimeoutMs),
  );
  await counting;
  return {
    schema: STATUS_SCHEMA,
    at,
    operator: options.operator,
    stream: options.stream,
    table: options.table,
    idleTimeoutMs: options.idleTimeoutMs,
    watermark: progress.watermark,
    windows,
    shards: settled.map((s) => {
      // shardStatus catches its own failures; a rejection here is a bug, not an outage.
      if (s.status === 'rejected') throw s.reason;
      return s.value;
    }),
    redriven,
    errors,
  };
}

/** A redrive's progress record, read as the range it stands for. */
function redrivenRange(p: ShardProgress): RedrivenRange {
  const rest = p.shardId.slice(REDRIVE_SOURCE_PREFIX.length);
  const cut = rest.lastIndexOf(':');
  const committed = p.committed ? decodeOffset(p.committed) : null;
  return {
    source: p.shardId,
    shardId: cut < 0 ? rest : rest.slice(0, cut),
    startSequenceNumber: cut < 0 ? '' : rest.slice(cut + 1),
    committed:
      committed === null
        ? null
        : {
            sequenceNumber: committed.sequenceNumber,
            subSequenceNumber: committed.subSequenceNumber,
          },
    done: p.closed,
    at: p.lastActivity,
  };
}

async function shardStatus(
  shardId: string,
  { info, progress }: { info?: ShardInfo; progress?: ShardProgress },
  lag: ShardLagReader,
  now: number,
  idleTimeoutMs: number,
): Promise<ShardStatus> {
  const closedInStream = info === undefined || info.closed;
  const committed = progress?.committed ? decodeOffset(progress.committed) : null;
  let state: ShardState;
  if (progress?.closed) state = 'closed';
  else if (closedInStream) state = 'closing';
  else if (progress !== undefined && now - progress.lastActivity >= idleTimeoutMs) state = 'idle';
  else state = 'open';
  let behind: ShardBehind | null = null;
  let error: string | null = null;
  // A retired shard is consumed to its end; a trimmed one cannot be read.
  if (state !== 'closed' && info !== undefined) {
    try {
      const l = await lag.lagAfter(info.shardId, committed?.sequenceNumber ?? null);
      behind = { records: l.records, exact: l.exact, millis: l.millis };
    } catch (err) {
      error = describeError(err);
    }
  }
  return {
    shardId,
    state,
    registered: progress !== undefined,
    inStream: info !== undefined,
    parentShardId: info?.parentShardId ?? null,
    adjacentParentShardId: info?.adjacentParentShardId ?? null,
    committed:
      committed === null
        ? null
        : {
            sequenceNumber: committed.sequenceNumber,
            subSequenceNumber: committed.subSequenceNumber,
          },
    watermark: progress?.watermark ?? null,
    lastActivity: progress?.lastActivity ?? null,
    behind,
    error,
  };
}
