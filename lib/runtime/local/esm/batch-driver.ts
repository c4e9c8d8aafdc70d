/**
 * The local ESM's driver of one gathered batch: the decisions (checkpoint,
 * resume, retry, bisect, give up, expire) are the shared state machine's
 * (batch-state-machine.ts); this driver invokes, waits, moves the
 * checkpoint, reports discarded records, counts and emits events.
 */
import { randomUUID } from 'node:crypto';
import type { KinesisStreamEvent } from 'aws-lambda';
import { backoffDelay } from '../../../adapters/retry.ts';
import { sleep } from '../../../util/sleep.ts';
import type { EventSourceMappingSettings } from '../../esm-settings.ts';
import {
  afterInvocation,
  EsmAction,
  expireRecords,
  judgeInvocation,
  startBatch,
  type BatchProgress,
  type Discard,
  type PendingRange,
  type Transition,
} from './batch-state-machine.ts';
import { kinesisFailureRecord } from './failure-record.ts';
import type { HandlerInvoker, InvokeOutcome } from './invoker.ts';
import type { StreamRecordInput } from './kinesis-event.ts';
import type { EsmClock, EsmEvent, EsmStats } from './local-esm-types.ts';
import type { OnFailureDestination } from './on-failure.ts';
import type { ShardState } from './shard-reader.ts';

/** Wait before re-sending a failure record: the adapters' full-jitter backoff, 100 ms base, 5 s cap. */
const onFailureBackoffMs = (attempt: number): number =>
  backoffDelay(attempt, { baseDelayMs: 100, maxDelayMs: 5_000 });

/** The mapping's counters (see {@link EsmStats}). */
export type EsmCounters = { -readonly [K in Exclude<keyof EsmStats, 'shards'>]: number };

/** What driving a batch needs of the mapping. */
export interface BatchDriverContext {
  readonly settings: EventSourceMappingSettings;
  readonly invoker: HandlerInvoker;
  readonly onFailure: OnFailureDestination | undefined;
  readonly clock: EsmClock;
  readonly uuid: string;
  readonly functionName: string;
  readonly functionTimeoutMs: number;
  /** Wait before retrying a failed batch. */
  readonly retryDelayMs: number;
  readonly counters: EsmCounters;
  /** Aborted when the mapping stops. */
  readonly signal: AbortSignal;
  /** Known after start. */
  functionArn(): string;
  streamArn(): string;
  stopped(): boolean;
  emit(event: EsmEvent): void;
  /** The event Lambda would build for `records` of shard `s`. */
  event(s: ShardState, records: readonly StreamRecordInput[]): KinesisStreamEvent;
  /** Resolves once the mapping is not paused (`Enabled: false` holds invocations back) or stopped. */
  whilePaused(): Promise<void>;
  /** Counts an invocation starting (+1) or returning (-1): a pause waits until none runs. */
  invoking(delta: 1 | -1): void;
}

/** Runs one gathered batch to completion (or until the mapping stops: then nothing is checkpointed). */
export async function driveBatch(
  ctx: BatchDriverContext,
  s: ShardState,
  records: readonly StreamRecordInput[],
): Promise<void> {
  const arrivalMs = (i: number): number =>
    (records[i] as StreamRecordInput).ApproximateArrivalTimestamp.getTime();
  let batch = startBatch(records.length);
  while (batch.pending.length > 0) {
    if (ctx.stopped()) return; // not checkpointed: a restart would see these records again
    const expiry = expireRecords(ctx.settings, batch, ctx.clock.now(), arrivalMs);
    if (expiry !== undefined) {
      batch = await apply(ctx, s, records, expiry);
      continue;
    }
    const head = batch.pending[0] as PendingRange;
    const invoked = records.slice(head.from, head.to);
    await ctx.whilePaused();
    if (ctx.stopped()) return;
    ctx.invoking(1);
    const { requestId, outcome } = await invoke(ctx, s, invoked, head.retries).finally(() =>
      ctx.invoking(-1),
    );
    const result =
      outcome.kind === 'success'
        ? judgeInvocation(
            ctx.settings,
            outcome.value,
            invoked.map((r) => r.SequenceNumber),
          )
        : ({ kind: 'function-error' } as const);
    const next = afterInvocation(ctx.settings, batch, { requestId, result });
    const end = { shardId: s.shardId, requestId, size: invoked.length };
    if (result.kind === 'success') {
      batch = await apply(ctx, s, records, next);
      ctx.emit({ type: 'batch-end', ...end, outcome: outcome.kind, verdict: result.kind });
      continue;
    }
    if (result.kind === 'partial') {
      ctx.emit({ type: 'batch-end', ...end, outcome: outcome.kind, verdict: result.kind });
    } else {
      ctx.emit({ type: 'batch-error', ...end, outcome });
    }
    batch = await apply(ctx, s, records, next);
    if (next.action === EsmAction.RETRY || next.action === EsmAction.RESUME)
      await sleep(ctx.retryDelayMs, ctx.signal);
  }
}

/** One invocation of `records` (a retry number for observers); an invoker failure is a crash. */
async function invoke(
  ctx: BatchDriverContext,
  s: ShardState,
  records: readonly StreamRecordInput[],
  retry: number,
): Promise<{ requestId: string; outcome: InvokeOutcome }> {
  const requestId = randomUUID();
  ctx.emit({
    type: 'batch-start',
    shardId: s.shardId,
    requestId,
    size: records.length,
    firstSequenceNumber: (records[0] as StreamRecordInput).SequenceNumber,
    lastSequenceNumber: (records.at(-1) as StreamRecordInput).SequenceNumber,
    retry,
  });
  const event = ctx.event(s, records);
  ctx.counters.invocations += 1;
  ctx.counters.recordsDelivered += records.length;
  try {
    const outcome = await ctx.invoker.invoke(event, {
      awsRequestId: requestId,
      functionName: ctx.functionName,
      invokedFunctionArn: ctx.functionArn(),
      timeoutMs: ctx.functionTimeoutMs,
    });
    return { requestId, outcome };
  } catch (err) {
    // The invoker itself failed (e.g. no worker could be created): Lambda retries such errors until expiry.
    return {
      requestId,
      outcome: { kind: 'crash', exitCode: null, signal: String(err), durationMs: 0 },
    };
  }
}

/** Applies a transition: checkpoint, counters and events, the report of discarded records. */
async function apply(
  ctx: BatchDriverContext,
  s: ShardState,
  records: readonly StreamRecordInput[],
  t: Transition,
): Promise<BatchProgress> {
  if (t.checkpointTo !== undefined)
    s.checkpoint = (records[t.checkpointTo - 1] as StreamRecordInput).SequenceNumber;
  if (t.action === EsmAction.RETRY || t.action === EsmAction.RESUME) ctx.counters.retries += 1;
  if (t.halves !== undefined) {
    const [left, right] = t.halves;
    ctx.counters.bisects += 1;
    ctx.emit({
      type: 'bisect',
      shardId: s.shardId,
      from: right.to - left.from,
      left: left.to - left.from,
      right: right.to - right.from,
    });
  }
  if (t.discard !== undefined) await discardRecords(ctx, s, records, t.discard);
  return t.next;
}

/** Reports records the state machine gave up on, then checkpoints past them. */
async function discardRecords(
  ctx: BatchDriverContext,
  s: ShardState,
  polled: readonly StreamRecordInput[],
  discard: Discard,
): Promise<void> {
  const records = polled.slice(discard.from, discard.to);
  const { last } = discard;
  const record = kinesisFailureRecord({
    requestId: last?.requestId ?? randomUUID(),
    functionArn: ctx.functionArn(),
    condition: discard.condition,
    approximateInvokeCount: discard.approximateInvokeCount,
    response:
      last === undefined ? undefined : { functionError: last.result.kind === 'function-error' },
    timestampMs: ctx.clock.now(),
    shardId: s.shardId,
    streamArn: ctx.streamArn(),
    records,
  });
  ctx.counters.recordsDiscarded += records.length;
  if (ctx.onFailure) {
    // Lambda keeps trying to deliver the failure record; so do we, until stopped.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await ctx.onFailure.send({
          esmUuid: ctx.uuid,
          shardId: s.shardId,
          record,
          event: ctx.event(s, records),
        });
        ctx.counters.failuresSent += 1;
        break;
      } catch (error) {
        ctx.emit({ type: 'poll-error', shardId: s.shardId, error });
        if (ctx.stopped()) throw error;
        await sleep(onFailureBackoffMs(attempt), ctx.signal);
      }
    }
  }
  s.checkpoint = (records.at(-1) as StreamRecordInput).SequenceNumber;
  ctx.emit({
    type: 'discarded',
    shardId: s.shardId,
    condition: discard.condition,
    size: records.length,
    record,
  });
}
