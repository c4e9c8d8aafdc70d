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
 *   run:  shards whose parents are read to their end ─► up to `concurrency` at a time
 *           page ─► chunks of `chunkRecords` ─► runtime.handle (KPL, dead letters, late output, firing)
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
  /** Shards read at once (children still wait for their parents). @default 4 */
  readonly concurrency?: number;
  /** Kinesis records per runtime call. @default 10000 */
  readonly chunkRecords?: number;
  /** Attempts per chunk before the replay fails (retries are idempotent). @default 3 */
  readonly attempts?: number;
  readonly onProgress?: (p: ReplayProgress) => void;
}

/**
 * Replays every planned shard to its end or the tip, parents before
 * children, up to `concurrency` shards at a time. The first shard that
 * fails stops the others from starting and the replay rejects with its error.
 */
export async function replayShards(o: ReplayOptions): Promise<ReplayOutcome> {
  const concurrency = o.concurrency ?? 4;
  const chunk = o.chunkRecords ?? 10_000;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new WeirError(`concurrency must be a positive integer (given ${concurrency})`);
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new WeirError(`chunkRecords must be a positive integer (given ${chunk})`);
  let totals: ReplayOutcome = { ...ZERO, shards: o.plan.length };
  const done = new Set<string>();
  const started = new Set<string>();
  let failure: unknown;
  const report = (): void =>
    o.onProgress?.({ shards: o.plan.length, shardsDone: done.size, records: totals.records });

  const replayOne = async (shard: PlannedShard): Promise<void> => {
    const source = {
      shardId: shard.shardId,
      streamArn: o.source.streamArn,
      awsRegion: o.source.streamArn.split(':')[3] ?? 'us-east-1',
      invokeIdentityArn: 'weir-restore',
    };
    for await (const page of o.source.read(shard.shardId, shard.start)) {
      for (let i = 0; i < page.length; i += chunk) {
        if (failure !== undefined) return;
        const records = page.slice(i, i + chunk);
        const reports = await handleChunk(o, shard.shardId, buildKinesisEvent(records, source));
        totals = add(totals, records.length, reports);
        report();
      }
    }
    done.add(shard.shardId);
    report();
  };

  // A small scheduler: start every ready shard while fewer than `concurrency` run.
  await new Promise<void>((resolve) => {
    let running = 0;
    const pump = (): void => {
      if (failure !== undefined && running === 0) return resolve();
      if (done.size === o.plan.length) return resolve();
      for (const shard of o.plan) {
        if (failure !== undefined || running >= concurrency) break;
        if (started.has(shard.shardId) || !shard.waitsFor.every((p) => done.has(p))) continue;
        started.add(shard.shardId);
        running += 1;
        replayOne(shard)
          .catch((err: unknown) => {
            failure ??= err;
          })
          .finally(() => {
            running -= 1;
            pump();
          });
      }
      if (running === 0 && failure === undefined && done.size < o.plan.length)
        failure = new WeirError(
          `internal: shards ${o.plan
            .filter((s) => !started.has(s.shardId))
            .map((s) => s.shardId)
            .join(', ')} wait for parents that never finish`,
        );
      if (running === 0) resolve();
    };
    pump();
  });
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new WeirError(describeError(failure));
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
