/**
 * An in-memory Kinesis stream and Lambda event source mapping (ESM), for
 * fault-injection tests of the operator runtime.
 *
 * The stream: shards holding records with realistic 56-digit sequence
 * numbers; resharding by split (one parent, two children) and merge (two
 * parents, one child), the parents closed, the children open. It is also the
 * runtime's {@link ShardDirectory}.
 *
 * The ESM, per Lambda's documented behaviour for Kinesis, described by the
 * same {@link EventSourceMappingSettings} as the deployed and the local ESM
 * and decided by the same state machine (batch-state-machine.ts):
 *   - one batch in flight per shard; a batch is up to `batchSize` records from
 *     the shard's checkpoint, delivered as the exact event Lambda builds
 *     ({@link buildKinesisEvent});
 *   - ReportBatchItemFailures: a partial response checkpoints before the
 *     reported record and retries from it;
 *   - a function error (the process died, the invocation timed out, or a
 *     whole-batch failure response) retries the batch, bisected in halves
 *     when `bisectBatchOnFunctionError`; `maximumRetryAttempts` and
 *     `maximumRecordAgeInSeconds` give up on records as Lambda does, with
 *     the on-failure record Lambda sends (-1 and -1: nothing is given up);
 *   - after a process death the next invocation is a cold start: a fresh
 *     runtime over the same ports;
 *   - parent-before-child delivery is optional (AWS does not document it for
 *     the ESM, and correctness must not depend on it).
 *
 * By default a failed batch is retried before anything else happens and at
 * the same processing time (`isolateRetries`), so the retry sees what the
 * failed attempt saw; without it, other shards, ticks and time move on
 * between the attempts, as in Lambda.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { ManualClock } from '../ports/clock.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingInput,
  type EventSourceMappingSettings,
} from '../runtime/esm-settings.ts';
import {
  afterInvocation,
  EsmAction,
  expireRecords,
  judgeInvocation,
  startBatch,
  type BatchProgress,
  type InvocationResult,
  type PendingRange,
  type Transition,
} from '../runtime/local/esm/batch-state-machine.ts';
import { kinesisFailureRecord } from '../runtime/local/esm/failure-record.ts';
import { buildKinesisEvent } from '../runtime/local/esm/kinesis-event.ts';
import type { OnFailureDestination } from '../runtime/local/esm/on-failure.ts';
import { SimulatedCrash, type FaultPlan } from './faults.ts';

import type { SimRecord, SimShard, SimulatedKinesis } from './simulated-kinesis.ts';
import type { ShardId } from '../model/position.ts';

export { SimulatedKinesis, type SimRecord, type SimShard } from './simulated-kinesis.ts';

/** What the ESM invokes: an operator runtime (or anything shaped like one). */
export interface SimulatedFunction {
  handle(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse>;
  tick(): Promise<unknown>;
  redriveOutbox(): Promise<number>;
}

/**
 * Options of {@link SimulatedEsm}. The mapping itself is described by
 * `settings`, the same {@link EventSourceMappingSettings} the CDK construct
 * deploys and the local ESM reads; the other options exist only in the
 * simulation (faults, scheduling, a bug guard).
 */
export interface SimulatedEsmOptions {
  readonly kinesis: SimulatedKinesis;
  readonly clock: ManualClock;
  /** Builds a runtime (called at start and at every cold start). */
  readonly makeFunction: () => SimulatedFunction;
  /** The fault plan shared by the function's ports (for process deaths). */
  readonly plan: FaultPlan;
  /** Randomness of the simulation (shard choice, batch sizes, timeouts, duplicates); seed it to reproduce a run. */
  readonly random: () => number;
  /**
   * The mapping, validated with `resolveEsmSettings`. `batchSize` is the
   * largest batch: each poll takes a random size 1..batchSize, as batching
   * windows and record sizes make real batches vary. Fault tests that need
   * every record to end in state set `maximumRetryAttempts: -1` (with no
   * record age limit nothing is given up).
   * @default DEFAULT_ESM_SETTINGS
   */
  readonly settings?: EventSourceMappingSettings | EventSourceMappingInput;
  /** Where given-up batches are reported (shard and sequence range), as the local ESM does. @default none: only counted */
  readonly onFailure?: OnFailureDestination;
  /** Deliver a child only once its parents are fully read (AWS does not document it for the ESM). @default false */
  readonly parentFirst?: boolean;
  /** Probability that a completed invocation "times out": its response is lost, the batch is retried. @default 0 */
  readonly timeoutRate?: number;
  /** Probability that a successful batch is delivered once more (at-least-once duplicates). @default 0 */
  readonly duplicateRate?: number;
  /** Retry a failed batch before anything else happens (no other shard, no tick, no time passing). @default true */
  readonly isolateRetries?: boolean;
  /** Invocations of one polled batch before the simulation throws (a bug guard: the batch never succeeds). @default 500 */
  readonly maxAttempts?: number;
}

/** Counters of what the ESM did. */
export interface EsmStats {
  invocations: number;
  deaths: number;
  coldStarts: number;
  timeouts: number;
  partial: number;
  wholeFailures: number;
  bisects: number;
  duplicates: number;
  ticks: number;
  tickCrashes: number;
  childBeforeParent: number;
  /** Records given up on (retries exhausted or too old) and reported on failure. */
  discarded: number;
}

/** A polled batch not yet past the ESM's checkpoint: shard records [from, to) and the state machine's progress over them. */
interface InFlight {
  readonly from: number;
  readonly to: number;
  progress: BatchProgress;
  attempts: number;
}

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:weir-sim';

/**
 * Lambda's Kinesis event source mapping over a {@link SimulatedKinesis}: the
 * shared ESM state machine (batch-state-machine.ts) driven in memory.
 *
 * @example
 * const clock = new ManualClock(1_700_000_000_000);
 * const kinesis = new SimulatedKinesis(clock);
 * const shard = kinesis.createShard().shardId;
 * const plan = new FaultPlan({ seed: 7, rate: 0.05 });
 * const store = new InMemoryStateStore();
 * const esm = new SimulatedEsm({
 *   kinesis,
 *   clock,
 *   plan,
 *   random: seededRandom(7),
 *   settings: { batchSize: 100, maximumRetryAttempts: -1 },
 *   makeFunction: () => new OperatorRuntime({ definition, clock, store: faultyStateStore(store, plan), ... }),
 * });
 * kinesis.put(shard, JSON.stringify({ page: '/a', ts: clock.now() }), 'u1');
 * await esm.drain();
 */
export class SimulatedEsm {
  readonly stats: EsmStats = {
    invocations: 0,
    deaths: 0,
    coldStarts: 0,
    timeouts: 0,
    partial: 0,
    wholeFailures: 0,
    bisects: 0,
    duplicates: 0,
    ticks: 0,
    tickCrashes: 0,
    childBeforeParent: 0,
    discarded: 0,
  };
  /** The mapping's settings, resolved. */
  readonly settings: EventSourceMappingSettings;
  /** Per shard, the index of the next record to read (the ESM's checkpoint). */
  readonly checkpoints = new Map<string, number>();
  private readonly inFlight = new Map<string, InFlight>();
  private fn: SimulatedFunction;
  private readonly o: Required<
    Pick<
      SimulatedEsmOptions,
      'parentFirst' | 'timeoutRate' | 'duplicateRate' | 'isolateRetries' | 'maxAttempts'
    >
  >;

  constructor(private readonly options: SimulatedEsmOptions) {
    this.settings = resolveEsmSettings(options.settings);
    this.fn = options.makeFunction();
    this.o = {
      parentFirst: options.parentFirst ?? false,
      timeoutRate: options.timeoutRate ?? 0,
      duplicateRate: options.duplicateRate ?? 0,
      isolateRetries: options.isolateRetries ?? true,
      maxAttempts: options.maxAttempts ?? 500,
    };
  }

  private checkpoint(shardId: ShardId): number {
    return this.checkpoints.get(shardId) ?? 0;
  }

  private finished(s: SimShard): boolean {
    return s.closed && this.checkpoint(s.shardId) >= s.records.length;
  }

  private pending(shardId: ShardId): number {
    return this.inFlight.get(shardId)?.progress.pending.length ?? 0;
  }

  /** Shards with unread records that the ESM may read now. */
  readable(): SimShard[] {
    const all = this.options.kinesis.shards;
    return all.filter((s) => {
      if (this.checkpoint(s.shardId) >= s.records.length) return false;
      if (this.pending(s.shardId) > 0) return false;
      if (!this.o.parentFirst) return true;
      const parents = [s.parentShardId, s.adjacentParentShardId].filter((p) => p !== undefined);
      return parents.every((p) => this.finished(this.options.kinesis.shard(p)));
    });
  }

  /** Whether every record of every shard was read. */
  drained(): boolean {
    return this.options.kinesis.shards.every((s) => this.checkpoint(s.shardId) >= s.records.length);
  }

  /**
   * Polls one batch of a shard (random if not given, among the readable ones)
   * and delivers it. With `isolateRetries` (the default) the batch is retried
   * until the ESM's checkpoint moves past it before anything else happens;
   * without, one step is made (an invocation, or giving up on records too
   * old) and a failed batch waits for a later call (other shards and ticks
   * run in between, as they do in Lambda). Returns false when nothing was
   * readable or pending.
   */
  async deliverNext(shardId?: ShardId): Promise<boolean> {
    const kinesis = this.options.kinesis;
    const candidates = [
      ...this.readable(),
      ...kinesis.shards.filter((s) => this.pending(s.shardId) > 0),
    ];
    if (candidates.length === 0) return false;
    const shard =
      shardId === undefined
        ? (candidates[Math.floor(this.options.random() * candidates.length)] as SimShard)
        : kinesis.shard(shardId);
    let batch = this.inFlight.get(shard.shardId);
    if (batch === undefined || batch.progress.pending.length === 0) {
      const parents = [shard.parentShardId, shard.adjacentParentShardId].filter(
        (p) => p !== undefined,
      );
      if (parents.some((p) => !this.finished(kinesis.shard(p)))) this.stats.childBeforeParent++;
      const from = this.checkpoint(shard.shardId);
      const size = 1 + Math.floor(this.options.random() * this.settings.batchSize);
      const to = Math.min(shard.records.length, from + size);
      if (from >= to) return false;
      batch = { from, to, progress: startBatch(to - from), attempts: 0 };
      this.inFlight.set(shard.shardId, batch);
    }
    do {
      await this.step(shard, batch);
    } while (this.o.isolateRetries && batch.progress.pending.length > 0);
    if (batch.progress.pending.length > 0) return true;
    // Done, or given up on: either way the checkpoint moves past the batch.
    this.inFlight.delete(shard.shardId);
    this.checkpoints.set(shard.shardId, Math.max(this.checkpoint(shard.shardId), batch.to));
    if (this.options.random() < this.o.duplicateRate) {
      // At-least-once: the same records once more (e.g. a lost checkpoint).
      this.stats.duplicates++;
      const again: InFlight = {
        from: batch.from,
        to: batch.to,
        progress: startBatch(batch.to - batch.from),
        attempts: 0,
      };
      while (again.progress.pending.length > 0) await this.step(shard, again);
    }
    return true;
  }

  /** Delivers everything left, in random order. */
  async drain(): Promise<void> {
    for (let i = 0; i < 100_000; i++) if (!(await this.deliverNext())) return;
    throw new Error('SimulatedEsm.drain: did not finish');
  }

  /**
   * One step of the batch: give up on records too old, or invoke the head
   * range and apply the state machine's decision (retry, bisect, resume at a
   * reported failure, give up).
   */
  private async step(shard: SimShard, batch: InFlight): Promise<void> {
    const records = shard.records.slice(batch.from, batch.to);
    const expiry = expireRecords(this.settings, batch.progress, this.options.clock.now(), (i) =>
      (records[i] as SimRecord).ApproximateArrivalTimestamp.getTime(),
    );
    if (expiry !== undefined) {
      await this.apply(shard, records, batch, expiry);
      return;
    }
    const head = batch.progress.pending[0] as PendingRange;
    if (++batch.attempts > this.o.maxAttempts) {
      throw new Error(
        `SimulatedEsm: ${shard.shardId} records ${batch.from + head.from}..${batch.from + head.to - 1} never succeeded in ${this.o.maxAttempts} attempts`,
      );
    }
    const result = await this.invoke(shard, records.slice(head.from, head.to));
    const requestId = `sim-request-${this.stats.invocations}`;
    await this.apply(
      shard,
      records,
      batch,
      afterInvocation(this.settings, batch.progress, { requestId, result }),
    );
  }

  private async apply(
    shard: SimShard,
    records: readonly SimRecord[],
    batch: InFlight,
    t: Transition,
  ): Promise<void> {
    batch.progress = t.next;
    if (t.action === EsmAction.BISECT) this.stats.bisects++;
    const discard = t.discard;
    if (discard === undefined) return;
    const given = records.slice(discard.from, discard.to);
    this.stats.discarded += given.length;
    const { last } = discard;
    const record = kinesisFailureRecord({
      requestId: last?.requestId ?? `sim-request-none-${this.stats.discarded}`,
      functionArn: FUNCTION_ARN,
      condition: discard.condition,
      approximateInvokeCount: discard.approximateInvokeCount,
      response:
        last === undefined ? undefined : { functionError: last.result.kind === 'function-error' },
      timestampMs: this.options.clock.now(),
      shardId: shard.shardId,
      streamArn: this.options.kinesis.streamArn,
      records: given,
    });
    await this.options.onFailure?.send({
      esmUuid: 'weir-sim',
      shardId: shard.shardId,
      record,
      event: this.event(shard, given),
    });
  }

  private event(shard: SimShard, records: readonly SimRecord[]): KinesisStreamEvent {
    return buildKinesisEvent(records, {
      shardId: shard.shardId,
      streamArn: this.options.kinesis.streamArn,
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-sim',
    });
  }

  /** One invocation: a process death or a lost response is a function error; a response is judged. */
  private async invoke(shard: SimShard, records: readonly SimRecord[]): Promise<InvocationResult> {
    const event = this.event(shard, records);
    this.stats.invocations++;
    let response: KinesisStreamBatchResponse | undefined;
    try {
      response = await this.fn.handle(event);
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
    }
    if (this.options.plan.dead || response === undefined) {
      // The process died mid-invocation: Lambda sees a function error; the next invocation is a cold start.
      this.stats.deaths++;
      this.coldStart();
      return { kind: 'function-error' };
    }
    if (this.options.random() < this.o.timeoutRate) {
      this.stats.timeouts++;
      return { kind: 'function-error' };
    }
    const result = judgeInvocation(
      this.settings,
      response,
      records.map((r) => r.SequenceNumber),
    );
    if (result.kind === 'partial') this.stats.partial++;
    if (result.kind === 'invalid-response') this.stats.wholeFailures++;
    return result;
  }

  /** A fresh runtime over the same ports (the old process is gone). */
  coldStart(): void {
    this.stats.coldStarts++;
    this.options.plan.revive();
    this.fn = this.options.makeFunction();
  }

  /** One run of the scheduled ticker; a crash ends it (a dead process cold starts the next). */
  async tick(): Promise<boolean> {
    this.stats.ticks++;
    try {
      await this.fn.tick();
      if (this.options.plan.dead) throw new SimulatedCrash('tick', 'dead');
      return true;
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      this.stats.tickCrashes++;
      if (this.options.plan.dead) this.coldStart();
      return false;
    }
  }

  /** Re-drives the outbox once (crashes propagate). */
  redriveOutbox(): Promise<number> {
    return this.fn.redriveOutbox();
  }
}
