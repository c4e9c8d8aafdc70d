/**
 * The local ESM's reading of one shard: its iterator (renewed before it
 * ages out, re-acquired when it expired), GetRecords, and the gathering of
 * one batch up to `batchSize` or the batching window.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { shardId as toShardId, type ShardId } from '../../../model/position.ts';
import { sleep } from '../../../util/sleep.ts';
import type { EventSourceMappingSettings } from '../../esm-settings.ts';
import type { StreamRecordInput } from './kinesis-event.ts';
import type { EsmEvent, ShardStats } from './local-esm-types.ts';

/** Where a shard's reading starts when it has no position yet. */
export interface ShardStart {
  readonly startType: ShardIteratorType;
  readonly startTimestamp?: Date;
}

/** One shard as the mapping tracks it. */
export interface ShardState {
  readonly shardId: ShardId;
  readonly parents: readonly ShardId[];
  status: ShardStats['status'];
  startType: ShardIteratorType;
  startTimestamp?: Date;
  iterator: string | undefined;
  iteratorAt: number;
  /** Last record fetched from Kinesis (where the iterator stands). */
  lastFetched: string | undefined;
  /** Last sequence number checkpointed. */
  checkpoint: string | undefined;
  endOfShard: boolean;
  /** Start time (epoch ms) of the latest GetRecords that found the shard at its tip; undefined once records arrive. */
  caughtUpSince: number | undefined;
  inFlight: boolean;
  /** Records read but not yet handed to the function (an open batching window). */
  gathered: number;
  loop: Promise<void> | undefined;
}

/** A shard not read yet, waiting for its parents. */
export function newShardState(
  id: string,
  parents: readonly string[],
  start: ShardStart,
): ShardState {
  const state: ShardState = {
    shardId: toShardId(id),
    parents: parents.map(toShardId),
    status: 'waiting-for-parents',
    startType: start.startType,
    iterator: undefined,
    iteratorAt: 0,
    lastFetched: undefined,
    checkpoint: undefined,
    endOfShard: false,
    caughtUpSince: undefined,
    inFlight: false,
    gathered: 0,
    loop: undefined,
  };
  if (start.startTimestamp) state.startTimestamp = start.startTimestamp;
  return state;
}

/** What reading a shard needs of the mapping. */
export interface ShardReadContext {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly settings: EventSourceMappingSettings;
  /** Renew an iterator older than this. */
  readonly iteratorMaxAgeMs: number;
  /** Wait between polls of a shard that had nothing. */
  readonly pollIntervalMs: number;
  /** Aborted when the mapping stops. */
  readonly signal: AbortSignal;
  stopped(): boolean;
  emit(event: EsmEvent): void;
}

/** Gets an iterator after the last fetched record, or at the shard's start. */
export async function acquireIterator(ctx: ShardReadContext, s: ShardState): Promise<void> {
  const base = { StreamName: ctx.streamName, ShardId: s.shardId };
  const cmd = s.lastFetched
    ? new GetShardIteratorCommand({
        ...base,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: s.lastFetched,
      })
    : s.startType === 'AT_TIMESTAMP'
      ? new GetShardIteratorCommand({
          ...base,
          ShardIteratorType: 'AT_TIMESTAMP',
          Timestamp: s.startTimestamp,
        })
      : new GetShardIteratorCommand({ ...base, ShardIteratorType: s.startType });
  const out = await ctx.kinesis.send(cmd);
  s.iterator = out.ShardIterator;
  s.iteratorAt = Date.now();
  if (!s.iterator) s.endOfShard = true;
}

/** One GetRecords call; handles iterator age and expiry. */
async function fetchRecords(
  ctx: ShardReadContext,
  s: ShardState,
  limit: number,
): Promise<KinesisRecord[]> {
  if (s.iterator === undefined && !s.endOfShard) await acquireIterator(ctx, s);
  else if (s.iterator !== undefined && Date.now() - s.iteratorAt >= ctx.iteratorMaxAgeMs) {
    await acquireIterator(ctx, s);
    ctx.emit({ type: 'iterator-renewed', shardId: s.shardId, reason: 'age' });
  }
  if (s.endOfShard || s.iterator === undefined) return [];
  let out;
  const fetchStarted = Date.now();
  try {
    out = await ctx.kinesis.send(
      new GetRecordsCommand({ ShardIterator: s.iterator, Limit: limit }),
    );
  } catch (err) {
    if ((err as { name?: string }).name === 'ExpiredIteratorException') {
      await acquireIterator(ctx, s);
      ctx.emit({ type: 'iterator-renewed', shardId: s.shardId, reason: 'expired' });
      return [];
    }
    throw err;
  }
  const records = out.Records ?? [];
  s.iterator = out.NextShardIterator;
  s.iteratorAt = Date.now();
  const last = records.at(-1);
  if (last?.SequenceNumber) s.lastFetched = last.SequenceNumber;
  if (!out.NextShardIterator) s.endOfShard = true;
  s.caughtUpSince =
    records.length === 0 && (out.MillisBehindLatest ?? 0) === 0 ? fetchStarted : undefined;
  return records;
}

/** Gathers one batch: up to batchSize records, waiting up to the batching window. */
export async function gatherBatch(
  ctx: ShardReadContext,
  s: ShardState,
): Promise<StreamRecordInput[]> {
  const { batchSize, maximumBatchingWindowInSeconds: window } = ctx.settings;
  const deadline = Date.now() + window * 1000;
  const batch: StreamRecordInput[] = [];
  for (;;) {
    let got: KinesisRecord[];
    try {
      got = await fetchRecords(ctx, s, Math.min(10_000, batchSize - batch.length));
    } catch (error) {
      // Records already read must not be lost with the failed call: deliver what we have.
      if (batch.length === 0) throw error;
      ctx.emit({ type: 'poll-error', shardId: s.shardId, error });
      return batch;
    }
    for (const r of got) batch.push(toInput(r));
    s.gathered = batch.length;
    if (batch.length >= batchSize || s.endOfShard || ctx.stopped()) return batch;
    const left = deadline - Date.now();
    if (left <= 0) return batch;
    // The window is open and the shard has no more right now: wait for more.
    if (got.length === 0) await sleep(Math.min(ctx.pollIntervalMs, left), ctx.signal);
  }
}

function toInput(r: KinesisRecord): StreamRecordInput {
  return {
    SequenceNumber: r.SequenceNumber ?? '',
    PartitionKey: r.PartitionKey ?? '',
    Data: r.Data ?? new Uint8Array(),
    ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
  };
}
