/**
 * `weir redrive`: brings back, exactly once, the ranges an event source
 * mapping gave up on (docs/recovery.md, "Skipped batches and redrive").
 *
 *   on-failure record ─► range (shard, start..end) ─► done already? (its progress says so) ─► settle, next
 *        │                                             │ no
 *        │                          read the range back from Kinesis (shard-reader.ts, AT start .. end)
 *        │                                             ▼
 *        │       chunks ─► OperatorRuntime.handleRedrive: the live batch path, the range as its own source
 *        │                 (KPL, dead letters, late output against the published watermark, firing)
 *        │                                             ▼
 *        └──── remove it from the shard's failing ranges, mark it done (its progress: committed = the
 *              range's end) ─► settle (SQS: delete)
 *
 * A range a restore's replay read (its shard's `replayed` spans,
 * core/checkpoint/replay-spans.ts) is already in state: wholly, it is
 * reported `replayed-by-restore` and nothing is read; in part, only the
 * rest is applied (the guard skips the replayed records).
 *
 * Idempotent: a range is marked done only after every record of it is
 * applied, and a rerun of a range that stopped midway resumes from its own
 * progress (the guards skip what items already absorbed of it). A dry run
 * lists the ranges and what it would do, and writes nothing.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { redriveRange, type RedriveRange } from '../../core/guard.ts';
import { WeirError, describeError } from '../../errors.ts';
import { shardId as toShardId } from '../../model/position.ts';
import { spanCoverage } from '../../model/shard-ranges.ts';
import type { Clock } from '../../ports/clock.ts';
import type { StateStore, StoredProgress } from '../../ports/state-store.ts';
import { buildKinesisEvent, type StreamRecordInput } from '../local/esm/kinesis-event.ts';
import type { BatchReport } from '../operator-runtime.ts';
import {
  FailureRecordFormatError,
  type FailedBatchSource,
  type KinesisBatchInfo,
} from './failed-batches.ts';

/** Reads the Kinesis records of a range, `start` to `end` inclusive, page by page. */
export type RangeRecordReader = (
  info: KinesisBatchInfo,
) => AsyncIterable<readonly StreamRecordInput[]>;

/** What a redrive drives: an operator runtime, or anything with its redrive entry point. */
export interface RedriveTarget {
  handleRedrive(event: KinesisStreamEvent, range: RedriveRange): Promise<BatchReport[]>;
}

/** Options of {@link redrive}. */
export interface RedriveOptions {
  readonly operator: string;
  readonly runtime: RedriveTarget;
  /** The operator's state store (the ranges' progress records). */
  readonly store: StateStore;
  readonly failures: FailedBatchSource;
  readonly readRange: RangeRecordReader;
  readonly clock: Clock;
  /** Only ranges of this stream; others are left where they are. @default every stream */
  readonly streamArn?: string;
  /** List, change nothing. @default false */
  readonly dryRun?: boolean;
  /** Kinesis records per batch handed to the runtime, 1..10000. @default 1000 */
  readonly chunkRecords?: number;
  /** Called after each chunk and each range (a progress line). */
  readonly onProgress?: (p: RedriveProgress) => void;
}

/** Where a redrive stands. */
export interface RedriveProgress {
  readonly ranges: number;
  readonly records: number;
  readonly current: string | undefined;
}

/** What became of one range. */
export type RangeStatus =
  /** Read back and applied (this run). */
  | 'applied'
  /** Its progress says a previous run applied it: nothing read, nothing written. */
  | 'already-redriven'
  /** A restore's replay read the whole range (it lies after the checkpoint's position): nothing read, nothing written. */
  | 'replayed-by-restore'
  /** Dry run: would be read back and applied. */
  | 'would-redrive'
  /** A range of another stream: left at the destination. */
  | 'other-stream'
  /** Failed; left at the destination, a rerun resumes it. */
  | 'failed';

/** Where the records of a range went (user records, after KPL de-aggregation). */
export interface RangeCounts {
  /** Kinesis records read back. */
  readonly kinesisRecords: number;
  /** User records (KPL de-aggregated) plus broken aggregates. */
  readonly records: number;
  readonly inState: number;
  readonly late: number;
  readonly deadLettered: number;
  readonly filtered: number;
  /** Already applied by an earlier run of this redrive that stopped midway, or by a restore's replay. */
  readonly alreadyRedriven: number;
}

/** One range's line of the report. */
export interface RangeReport {
  readonly id: string;
  readonly source: string | undefined;
  readonly shardId: string | undefined;
  readonly startSequenceNumber: string | undefined;
  readonly endSequenceNumber: string | undefined;
  /** Records in the range, as the failure record states it. */
  readonly batchSize: number | undefined;
  readonly condition: string | undefined;
  readonly status: RangeStatus;
  /** How much of the range a restore's replay read: `part` is skipped, the rest applied. */
  readonly replayedByRestore: 'none' | 'part' | 'all';
  readonly counts: RangeCounts;
  /** records = inState + late + deadLettered + filtered + alreadyRedriven. */
  readonly balanced: boolean;
  readonly error: string | undefined;
}

/** What a redrive did. */
export interface RedriveReport {
  readonly dryRun: boolean;
  readonly ranges: readonly RangeReport[];
  readonly totals: RangeCounts;
  readonly failed: number;
}

const ZERO: RangeCounts = {
  kinesisRecords: 0,
  records: 0,
  inState: 0,
  late: 0,
  deadLettered: 0,
  filtered: 0,
  alreadyRedriven: 0,
};

/**
 * Redrives every range the destination holds now. Never throws for one
 * range's failure: the range is reported `failed` and left for a rerun.
 *
 * @example
 * const report = await redrive({ operator: 'clicks', runtime, store, clock: systemClock,
 *   failures: new SqsFailedBatches({ client: sqs, queueUrl }),
 *   readRange: kinesisRangeReader(kinesis) });
 */
export async function redrive(o: RedriveOptions): Promise<RedriveReport> {
  const chunk = o.chunkRecords ?? 1000;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000)
    throw new WeirError(`chunkRecords must be an integer 1..10000 (given ${chunk})`);
  const ranges: RangeReport[] = [];
  let records = 0;
  for await (const entry of o.failures.list()) {
    if (entry instanceof FailureRecordFormatError) {
      ranges.push(blank(entry.id, 'failed', entry.message));
      continue;
    }
    const { info } = entry;
    const base = {
      id: entry.id,
      shardId: info.shardId,
      startSequenceNumber: info.startSequenceNumber,
      endSequenceNumber: info.endSequenceNumber,
      batchSize: info.batchSize,
      condition: entry.condition,
    };
    if (o.streamArn !== undefined && info.streamArn !== o.streamArn) {
      ranges.push({ ...blank(entry.id, 'other-stream', undefined), ...base, source: undefined });
      await entry.release();
      continue;
    }
    const whole = redriveRange(
      toShardId(info.shardId),
      info.startSequenceNumber,
      info.endSequenceNumber,
    );
    const progress = await o.store.readProgress(o.operator);
    const done = isDone(progress, whole.source, whole.to);
    const unfinished = done ? undefined : unfinishedReplay(progress);
    const spans = progress.shards.find((p) => p.shardId === info.shardId)?.replayed ?? [];
    const replayed = done ? 'none' : spanCoverage(spans, whole.from, whole.to);
    const range = replayed === 'part' ? { ...whole, replayed: spans } : whole;
    if (unfinished !== undefined) {
      ranges.push({ ...blank(entry.id, 'failed', unfinished), ...base, source: range.source });
      await entry.release();
      continue;
    }
    if (o.dryRun || done || replayed === 'all') {
      const status = done
        ? 'already-redriven'
        : replayed === 'all'
          ? 'replayed-by-restore'
          : 'would-redrive';
      ranges.push({
        ...blank(entry.id, status, undefined),
        ...base,
        source: range.source,
        replayedByRestore: replayed,
      });
      if (o.dryRun) await entry.release();
      else await entry.settle();
      continue;
    }
    try {
      const counts = await applyRange(o, info, range, chunk, (n) => {
        o.onProgress?.({ ranges: ranges.length, records: records + n, current: range.source });
      });
      records += counts.records;
      await settleFailing(o, info);
      await markDone(o, range);
      await entry.settle();
      ranges.push({
        ...base,
        id: entry.id,
        source: range.source,
        status: 'applied',
        replayedByRestore: replayed,
        counts,
        balanced: balanced(counts),
        error: undefined,
      });
    } catch (err) {
      await entry.release().catch(() => undefined);
      ranges.push({
        ...blank(entry.id, 'failed', describeError(err)),
        ...base,
        source: range.source,
      });
    }
    o.onProgress?.({ ranges: ranges.length, records, current: undefined });
  }
  const totals = ranges.reduce((t, r) => add(t, r.counts), ZERO);
  return {
    dryRun: o.dryRun ?? false,
    ranges,
    totals,
    failed: ranges.filter((r) => r.status === 'failed').length,
  };
}

/** Reads a range back and applies it chunk by chunk; checks that it read the whole range. */
async function applyRange(
  o: RedriveOptions,
  info: KinesisBatchInfo,
  range: RedriveRange,
  chunk: number,
  progress: (records: number) => void,
): Promise<RangeCounts> {
  let counts = ZERO;
  let last: string | undefined;
  let pending: StreamRecordInput[] = [];
  const source = {
    shardId: info.shardId,
    streamArn: info.streamArn,
    awsRegion: info.streamArn.split(':')[3] ?? 'us-east-1',
    invokeIdentityArn: 'weir-redrive',
  };
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const reports = await o.runtime.handleRedrive(buildKinesisEvent(pending, source), range);
    counts = add(counts, countsOf(pending.length, reports));
    pending = [];
    progress(counts.records);
  };
  for await (const page of o.readRange(info)) {
    for (const r of page) {
      pending.push(r);
      last = r.SequenceNumber;
      if (pending.length >= chunk) await flush();
    }
  }
  await flush();
  if (last !== info.endSequenceNumber)
    throw new WeirError(
      `${range.source}: read back up to ${last ?? 'nothing'}, not to the range's end ${info.endSequenceNumber}; ` +
        'the range is not marked done, a rerun resumes it',
    );
  return counts;
}

function countsOf(kinesisRecords: number, reports: readonly BatchReport[]): RangeCounts {
  let c: RangeCounts = { ...ZERO, kinesisRecords };
  for (const r of reports) {
    const k = r.counts;
    c = add(c, {
      kinesisRecords: 0,
      records: k.received + r.kplDeadLettered,
      inState: k.inState,
      late: k.late,
      deadLettered: k.deadLettered + r.kplDeadLettered,
      filtered: k.filtered,
      alreadyRedriven: k.skippedCommitted,
    });
  }
  return c;
}

function balanced(c: RangeCounts): boolean {
  return c.records === c.inState + c.late + c.deadLettered + c.filtered + c.alreadyRedriven;
}

function add(a: RangeCounts, b: RangeCounts): RangeCounts {
  return {
    kinesisRecords: a.kinesisRecords + b.kinesisRecords,
    records: a.records + b.records,
    inState: a.inState + b.inState,
    late: a.late + b.late,
    deadLettered: a.deadLettered + b.deadLettered,
    filtered: a.filtered + b.filtered,
    alreadyRedriven: a.alreadyRedriven + b.alreadyRedriven,
  };
}

function blank(id: string, status: RangeStatus, error: string | undefined): RangeReport {
  return {
    id,
    source: undefined,
    shardId: undefined,
    startSequenceNumber: undefined,
    endSequenceNumber: undefined,
    batchSize: undefined,
    condition: undefined,
    status,
    replayedByRestore: 'none',
    counts: ZERO,
    balanced: true,
    error,
  };
}

/** A range is done when its progress record is committed through its end. */
function isDone(progress: StoredProgress, source: string, to: string): boolean {
  return progress.shards.find((s) => s.shardId === source)?.committed === to;
}

/** Why no range can be judged against the replayed spans now: a restore's replay has not finished. */
function unfinishedReplay(progress: StoredProgress): string | undefined {
  const open = progress.shards.find((p) => p.replayed?.some((s) => !s.done) === true);
  if (open === undefined) return undefined;
  return (
    `the replay of the restore to generation ${progress.generation} has not finished (shard ${open.shardId}), ` +
    'so what it applied is not known: run that `weir restore` again to its end, then this redrive; the range stays at the destination'
  );
}

/** Conditional writes before giving up (a live batch of the shard commits meanwhile). */
const SETTLE_ATTEMPTS = 10;

/** Removes a range applied by the redrive from its shard's failing ranges (core/guard.ts). */
async function settleFailing(o: RedriveOptions, info: KinesisBatchInfo): Promise<void> {
  const settles = { start: info.startSequenceNumber, end: info.endSequenceNumber };
  for (let attempt = 1; attempt <= SETTLE_ATTEMPTS; attempt++) {
    const { generation, shards } = await o.store.readProgress(o.operator);
    const p = shards.find((s) => s.shardId === info.shardId);
    const overlaps = p?.failing?.some(
      (r) => BigInt(r.start) <= BigInt(settles.end) && BigInt(r.end) >= BigInt(settles.start),
    );
    if (p === undefined || overlaps !== true) return;
    if (await o.store.writeShardProgress(o.operator, { ...p, settles }, generation)) return;
  }
  throw new WeirError(
    `${info.shardId}: the range ${settles.start}..${settles.end} stays recorded as failing (the shard's progress kept moving); ` +
      'it is not marked done, a rerun finishes it',
  );
}

/** Marks a range done: its progress committed through its end (past any sub-sequence of its last record). */
async function markDone(o: RedriveOptions, range: RedriveRange): Promise<void> {
  const { generation } = await o.store.readProgress(o.operator);
  await o.store.writeShardProgress(
    o.operator,
    {
      shardId: toShardId(range.source),
      committed: range.to,
      watermark: null,
      lastActivity: o.clock.now(),
      closed: true,
    },
    generation,
  );
}
