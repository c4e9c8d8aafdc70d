/**
 * The replay half of a restore: every shard of the stream read from the
 * checkpoint's position to the tip, through the operator's live batch path.
 *
 *   plan: manifest shards ∪ listed shards ──► start per shard
 *           in the manifest, committed c      AT c (the committed record is skipped by its guard)
 *           in the manifest, committed null   TRIM_HORIZON
 *           listed, not in the manifest       TRIM_HORIZON (created since the checkpoint)
 *           redrive:… sources                 not a shard: never read
 *
 *   run:  shards whose parents are read to their end, in lockstep rounds of `sliceMs` of arrival time
 *           (lockstep.ts) ─► chunks of `chunkRecords` ─► runtime.handle (KPL, dead letters, late output, firing)
 *
 * Reading AT the committed sequence number instead of AFTER it costs one
 * record per shard and keeps the rest of a KPL aggregate whose committed
 * offset is one of its sub-records: the runtime's committed guard skips
 * what was applied, the remaining sub-records are applied.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { REDRIVE_SOURCE_PREFIX } from '../../core/guard.ts';
import { ReplayGapError, WeirError, describeError } from '../../errors.ts';
import type { CheckpointManifest } from '../../model/checkpoint.ts';
import { decodeOffset } from '../../model/position.ts';
import { buildKinesisEvent, type StreamRecordInput } from '../local/esm/kinesis-event.ts';
import type { BatchReport } from '../operator-runtime.ts';
import { replayInLockstep } from './lockstep.ts';

/** Where a shard's replay starts. */
export type ReplayStart =
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'TRIM_HORIZON' };

/** A shard of the stream as the replay sees it. */
export interface ReplayShardInfo {
  readonly shardId: string;
  /** Parent shards (ParentShardId, AdjacentParentShardId). */
  readonly parents: readonly string[];
  /** Closed by a reshard (it has an ending sequence number). */
  readonly closed: boolean;
}

/**
 * What a replay reads: the stream's shards and their records. The Kinesis
 * implementation is {@link kinesisReplaySource}; tests may pass a fake.
 */
export interface ReplaySource {
  readonly streamArn: string;
  /** Every shard of the stream, open and closed. */
  shards(): Promise<readonly ReplayShardInfo[]>;
  /** Throws `ReplayGapError` when the shard no longer retains the record at `sequenceNumber`. */
  checkRetained(shardId: string, sequenceNumber: string): Promise<void>;
  /** The shard's records from `start` to the tip (or its end, closed), page by page. */
  read(shardId: string, start: ReplayStart): AsyncIterable<readonly StreamRecordInput[]>;
}

/** What a replay drives: the operator runtime's Lambda entry point. */
export interface ReplayTarget {
  handle(
    event: KinesisStreamEvent,
  ): Promise<KinesisStreamBatchResponse & { readonly reports: readonly BatchReport[] }>;
}

/** One shard of the plan. */
export interface PlannedShard {
  readonly shardId: string;
  readonly start: ReplayStart;
  /** Parents that are replayed too: this shard waits until they are read to their end. */
  readonly waitsFor: readonly string[];
}

/**
 * The shards to replay and where each starts. Throws `ReplayGapError` for a
 * shard the checkpoint was reading that the stream no longer lists (its
 * records aged out with it), unless the checkpoint had it closed and consumed.
 */
export function planReplay(
  manifest: CheckpointManifest,
  listed: readonly ReplayShardInfo[],
): PlannedShard[] {
  const stored = new Map<string, string | null>();
  for (const p of manifest.progress.shards) {
    if (p.shardId.startsWith(REDRIVE_SOURCE_PREFIX)) continue; // a redriven range, not a shard
    stored.set(p.shardId, p.committed);
    const known = listed.some((s) => s.shardId === p.shardId);
    if (!known && !p.closed)
      throw new ReplayGapError(
        p.shardId,
        p.committed === null ? 'TRIM_HORIZON' : decodeOffset(p.committed).sequenceNumber,
        undefined,
      );
  }
  const ids = new Set(listed.map((s) => s.shardId));
  return listed.map((s) => {
    const committed = stored.get(s.shardId) ?? null;
    const start: ReplayStart =
      committed === null
        ? { type: 'TRIM_HORIZON' }
        : { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: decodeOffset(committed).sequenceNumber };
    return { shardId: s.shardId, start, waitsFor: s.parents.filter((p) => ids.has(p)) };
  });
}

/** Where a replay stands (after each chunk). */
export interface ReplayProgress {
  readonly shards: number;
  readonly shardsDone: number;
  /** Kinesis records handed to the runtime so far. */
  readonly records: number;
}

/** What a replay did. */
export interface ReplayOutcome {
  /** Kinesis records read and handed to the runtime. */
  readonly records: number;
  /** User records the runtime received (after KPL de-aggregation). */
  readonly received: number;
  readonly inState: number;
  readonly late: number;
  readonly deadLettered: number;
  /** Records at or below a restored position (already in the restored state). */
  readonly skipped: number;
  /** Window results the batches fired. */
  readonly fired: number;
  readonly shards: number;
}

/** A replayed batch kept failing: the runtime reported records it could not apply. */
export class ReplayBatchError extends WeirError {
  readonly shardId: string;
  readonly resumeAt: string;
  constructor(shardId: string, resumeAt: string, attempts: number) {
    super(
      `replay of ${shardId} failed at sequence number ${resumeAt} after ${attempts} attempts ` +
        '(the operator log names the error)',
    );
    this.shardId = shardId;
    this.resumeAt = resumeAt;
  }
}

/** Options of {@link replayShards}. */
export interface ReplayOptions {
  readonly source: ReplaySource;
  readonly target: ReplayTarget;
  readonly plan: readonly PlannedShard[];
  /**
   * Runtime calls at once, never two of one shard (every ready shard takes
   * part in each round; children still wait for their parents).
   * @default 2 ({@link DEFAULT_REPLAY_CONCURRENCY})
   */
  readonly concurrency?: number;
  /** Kinesis records per runtime call. @default 10000 */
  readonly chunkRecords?: number;
  /**
   * Width of a lockstep round, in milliseconds of ApproximateArrivalTimestamp:
   * each round hands every ready shard its records of the slice, so a batch
   * judges lateness against the other shards about where the live run had
   * them. The live mapping polls each shard about once a second. @default 1000
   */
  readonly sliceMs?: number;
  /** Pages (GetRecords responses) each shard reads ahead. @default 2 */
  readonly readAheadPages?: number;
  /** Attempts per chunk before the replay fails (retries are idempotent). @default 3 */
  readonly attempts?: number;
  readonly onProgress?: (p: ReplayProgress) => void;
}

/** Default width of a lockstep round: the live mapping's poll interval per shard. */
export const DEFAULT_REPLAY_SLICE_MS = 1000;

/**
 * Default runtime calls of a replay at once. Measured on the e2e bench
 * (docs/benchmarks.md): shards replaying the same hot (key, window) items at
 * once lose conditional writes to each other, and 1-2 calls at once replayed
 * 1.2-1.3 times as fast as 4.
 */
export const DEFAULT_REPLAY_CONCURRENCY = 2;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new WeirError(`${name} must be a positive integer (given ${value})`);
  return value;
}

/**
 * Replays every planned shard to its end or the tip, parents before
 * children, the ready shards in lockstep by arrival time (lockstep.ts):
 * rounds of `sliceMs`, each handing every ready shard its records of the
 * slice, at most `chunkRecords` per call and `concurrency` calls at once.
 * The first failure stops the other shards at their next call and the
 * replay rejects with it.
 *
 * @example
 * const outcome = await replayShards({ source, target: runtime, plan: planReplay(manifest, await source.shards()) });
 */
export async function replayShards(o: ReplayOptions): Promise<ReplayOutcome> {
  const concurrency = positiveInteger('concurrency', o.concurrency ?? DEFAULT_REPLAY_CONCURRENCY);
  const chunk = positiveInteger('chunkRecords', o.chunkRecords ?? 10_000);
  const sliceMs = positiveInteger('sliceMs', o.sliceMs ?? DEFAULT_REPLAY_SLICE_MS);
  const readAheadPages = positiveInteger('readAheadPages', o.readAheadPages ?? 2);
  let totals: ReplayOutcome = { ...ZERO, shards: o.plan.length };
  let shardsDone = 0;
  const report = (): void =>
    o.onProgress?.({ shards: o.plan.length, shardsDone, records: totals.records });
  const eventSource = (shardId: string) => ({
    shardId,
    streamArn: o.source.streamArn,
    awsRegion: o.source.streamArn.split(':')[3] ?? 'us-east-1',
    invokeIdentityArn: 'weir-restore',
  });
  try {
    await replayInLockstep({
      shards: o.plan,
      read: (s) => o.source.read(s.shardId, s.start),
      async handle(shardId, records) {
        const event = buildKinesisEvent(records, eventSource(shardId));
        const reports = await handleChunk(o, shardId, event);
        totals = add(totals, records.length, reports);
        report();
      },
      onShardDone() {
        shardsDone += 1;
        report();
      },
      sliceMs,
      chunkRecords: chunk,
      concurrency,
      readAheadPages,
    });
  } catch (failure) {
    throw failure instanceof Error ? failure : new WeirError(describeError(failure));
  }
  return totals;
}

async function handleChunk(
  o: ReplayOptions,
  shardId: string,
  event: KinesisStreamEvent,
): Promise<readonly BatchReport[]> {
  const attempts = o.attempts ?? 3;
  const reports: BatchReport[] = [];
  let resumeAt = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // A retry hands the whole chunk again: the guards skip what the failed attempt applied.
    const response = await o.target.handle(event);
    reports.push(...response.reports);
    const failed = response.batchItemFailures[0];
    if (failed === undefined) return reports;
    resumeAt = failed.itemIdentifier;
  }
  throw new ReplayBatchError(shardId, resumeAt, attempts);
}

const ZERO: ReplayOutcome = {
  records: 0,
  received: 0,
  inState: 0,
  late: 0,
  deadLettered: 0,
  skipped: 0,
  fired: 0,
  shards: 0,
};

function add(t: ReplayOutcome, records: number, reports: readonly BatchReport[]): ReplayOutcome {
  let out = { ...t, records: t.records + records };
  for (const r of reports) {
    const c = r.counts;
    out = {
      ...out,
      received: out.received + c.received + r.kplDeadLettered,
      inState: out.inState + c.inState,
      late: out.late + c.late,
      deadLettered: out.deadLettered + c.deadLettered + r.kplDeadLettered,
      skipped: out.skipped + c.skippedCommitted,
      fired: out.fired + r.results,
    };
  }
  return out;
}
