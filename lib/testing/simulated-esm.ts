/**
 * An in-memory Kinesis stream and Lambda event source mapping (ESM), for
 * fault-injection tests of the operator runtime.
 *
 * The stream: shards holding records with realistic 56-digit sequence
 * numbers; resharding by split (one parent, two children) and merge (two
 * parents, one child), the parents closed, the children open. It is also the
 * runtime's {@link ShardDirectory}.
 *
 * The ESM, per Lambda's documented behaviour for Kinesis:
 *   - one batch in flight per shard; a batch is up to `batchSize` records from
 *     the shard's checkpoint, delivered as the exact event Lambda builds
 *     ({@link buildKinesisEvent});
 *   - ReportBatchItemFailures: a partial response checkpoints before the
 *     reported record and retries from it;
 *   - a function error (the process died, the invocation timed out, or a
 *     whole-batch failure response) retries the batch, bisected in halves
 *     when `bisectOnError` (maximumRetryAttempts -1: nothing is discarded);
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
import { shardId as toShardId } from '../model/position.ts';
import type { ShardDirectory, ShardInfo } from '../ports/shard-directory.ts';
import { buildKinesisEvent, type StreamRecordInput } from '../runtime/local/esm/kinesis-event.ts';
import { judgeBatchResponse } from '../runtime/local/esm/batch-response.ts';
import { SimulatedCrash, type FaultPlan } from './faults.ts';

/** One record of a simulated shard. */
export interface SimRecord extends StreamRecordInput {
  readonly shardId: string;
  /** Index in its shard. */
  readonly index: number;
}

/** One simulated shard. */
export interface SimShard {
  readonly shardId: string;
  readonly parentShardId?: string;
  readonly adjacentParentShardId?: string;
  closed: boolean;
  readonly records: SimRecord[];
}

/** First sequence number of the stream (56 digits, like real Kinesis ones). */
const FIRST_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;

/** An in-memory Kinesis stream with resharding; also a {@link ShardDirectory}. */
export class SimulatedKinesis implements ShardDirectory {
  readonly shards: SimShard[] = [];
  readonly streamArn: string;
  private seq = FIRST_SEQUENCE;

  constructor(
    private readonly clock: ManualClock,
    streamName = 'weir-sim',
  ) {
    this.streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`;
  }

  /** Creates an open shard (no parents: an initial shard). */
  createShard(parents: readonly string[] = []): SimShard {
    const s: SimShard = {
      shardId: `shardId-${String(this.shards.length).padStart(12, '0')}`,
      ...(parents[0] === undefined ? {} : { parentShardId: parents[0] }),
      ...(parents[1] === undefined ? {} : { adjacentParentShardId: parents[1] }),
      closed: false,
      records: [],
    };
    this.shards.push(s);
    return s;
  }

  shard(shardId: string): SimShard {
    const s = this.shards.find((x) => x.shardId === shardId);
    if (s === undefined) throw new Error(`no shard ${shardId}`);
    return s;
  }

  /** Appends a record to an open shard; returns it. */
  put(shardId: string, data: Uint8Array | string, partitionKey = 'pk'): SimRecord {
    const s = this.shard(shardId);
    if (s.closed) throw new Error(`${shardId} is closed`);
    // Increasing across the stream, with uneven gaps, as real ones are.
    this.seq += 1_000_000_000_000n + BigInt((s.records.length * 7919) % 1013);
    const r: SimRecord = {
      shardId,
      index: s.records.length,
      SequenceNumber: this.seq.toString(),
      PartitionKey: partitionKey,
      Data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
      ApproximateArrivalTimestamp: new Date(this.clock.now()),
    };
    s.records.push(r);
    return r;
  }

  /** Splits an open shard: it closes, two children open. */
  split(shardId: string): [SimShard, SimShard] {
    this.shard(shardId).closed = true;
    return [this.createShard([shardId]), this.createShard([shardId])];
  }

  /** Merges two open shards: both close, one child opens. */
  merge(a: string, b: string): SimShard {
    this.shard(a).closed = true;
    this.shard(b).closed = true;
    return this.createShard([a, b]);
  }

  listShards(): Promise<readonly ShardInfo[]> {
    return Promise.resolve(
      this.shards.map((s) => ({
        shardId: toShardId(s.shardId),
        ...(s.parentShardId === undefined ? {} : { parentShardId: s.parentShardId }),
        ...(s.adjacentParentShardId === undefined
          ? {}
          : { adjacentParentShardId: s.adjacentParentShardId }),
        closed: s.closed,
      })),
    );
  }

  isConsumed(shardId: string, committed: string | null): Promise<boolean> {
    const s = this.shard(shardId);
    if (!s.closed) return Promise.resolve(false);
    const last = s.records[s.records.length - 1];
    if (last === undefined) return Promise.resolve(true);
    return Promise.resolve(committed !== null && BigInt(committed) >= BigInt(last.SequenceNumber));
  }

  hasRecordsAfter(shardId: string, committed: string | null): Promise<boolean> {
    const last = this.shard(shardId).records.at(-1);
    if (last === undefined) return Promise.resolve(false);
    return Promise.resolve(committed === null || BigInt(committed) < BigInt(last.SequenceNumber));
  }
}

/** What the ESM invokes: an operator runtime (or anything shaped like one). */
export interface SimulatedFunction {
  handle(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse>;
  tick(): Promise<unknown>;
  redriveOutbox(): Promise<number>;
}

/** Options of {@link SimulatedEsm}. */
export interface SimulatedEsmOptions {
  readonly kinesis: SimulatedKinesis;
  readonly clock: ManualClock;
  /** Builds a runtime (called at start and at every cold start). */
  readonly makeFunction: () => SimulatedFunction;
  /** The fault plan shared by the function's ports (for process deaths). */
  readonly plan: FaultPlan;
  readonly random: () => number;
  /** @default 10 */
  readonly batchSize?: number;
  /** @default true */
  readonly bisectOnError?: boolean;
  /** Deliver a child only once its parents are fully read. @default false */
  readonly parentFirst?: boolean;
  /** Probability that a completed invocation "times out": its response is lost, the batch is retried. @default 0 */
  readonly timeoutRate?: number;
  /** Probability that a successful batch is delivered once more (at-least-once duplicates). @default 0 */
  readonly duplicateRate?: number;
  /** Retry a failed batch before anything else happens (no other shard, no tick, no time passing). @default true */
  readonly isolateRetries?: boolean;
  /** Give up on a batch after this many attempts (a bug: the batch never succeeds). @default 500 */
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
}

/** A polled batch not yet past the ESM's checkpoint: what is left of it, bisected halves in order. */
interface InFlight {
  readonly from: number;
  readonly to: number;
  readonly queue: [number, number][];
  attempts: number;
}

type Outcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly index: number }
  | { readonly kind: 'error' };

/** Lambda's Kinesis event source mapping over a {@link SimulatedKinesis}. */
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
  };
  /** Per shard, the index of the next record to read (the ESM's checkpoint). */
  readonly checkpoints = new Map<string, number>();
  private readonly inFlight = new Map<string, InFlight>();
  private fn: SimulatedFunction;
  private readonly o: Required<
    Omit<SimulatedEsmOptions, 'kinesis' | 'clock' | 'makeFunction' | 'plan' | 'random'>
  >;

  constructor(private readonly options: SimulatedEsmOptions) {
    this.fn = options.makeFunction();
    this.o = {
      batchSize: options.batchSize ?? 10,
      bisectOnError: options.bisectOnError ?? true,
      parentFirst: options.parentFirst ?? false,
      timeoutRate: options.timeoutRate ?? 0,
      duplicateRate: options.duplicateRate ?? 0,
      isolateRetries: options.isolateRetries ?? true,
      maxAttempts: options.maxAttempts ?? 500,
    };
  }

  private checkpoint(shardId: string): number {
    return this.checkpoints.get(shardId) ?? 0;
  }

  private finished(s: SimShard): boolean {
    return s.closed && this.checkpoint(s.shardId) >= s.records.length;
  }

  /** Shards with unread records that the ESM may read now. */
  readable(): SimShard[] {
    const all = this.options.kinesis.shards;
    return all.filter((s) => {
      if (this.checkpoint(s.shardId) >= s.records.length) return false;
      if ((this.inFlight.get(s.shardId)?.queue.length ?? 0) > 0) return false;
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
   * without, one invocation is made and a failed batch waits for a later call
   * (other shards and ticks run in between, as they do in Lambda). Returns
   * false when nothing was readable or pending.
   */
  async deliverNext(shardId?: string): Promise<boolean> {
    const kinesis = this.options.kinesis;
    const candidates = [
      ...this.readable(),
      ...kinesis.shards.filter((s) => (this.inFlight.get(s.shardId)?.queue.length ?? 0) > 0),
    ];
    if (candidates.length === 0) return false;
    const shard =
      shardId === undefined
        ? (candidates[Math.floor(this.options.random() * candidates.length)] as SimShard)
        : kinesis.shard(shardId);
    let batch = this.inFlight.get(shard.shardId);
    if (batch === undefined || batch.queue.length === 0) {
      const parents = [shard.parentShardId, shard.adjacentParentShardId].filter(
        (p) => p !== undefined,
      );
      if (parents.some((p) => !this.finished(kinesis.shard(p)))) this.stats.childBeforeParent++;
      const from = this.checkpoint(shard.shardId);
      const size = 1 + Math.floor(this.options.random() * this.o.batchSize);
      const to = Math.min(shard.records.length, from + size);
      if (from >= to) return false;
      batch = { from, to, queue: [[from, to]], attempts: 0 };
      this.inFlight.set(shard.shardId, batch);
    }
    do {
      await this.attempt(shard, batch);
    } while (this.o.isolateRetries && batch.queue.length > 0);
    if (batch.queue.length > 0) return true;
    this.inFlight.delete(shard.shardId);
    this.checkpoints.set(shard.shardId, Math.max(this.checkpoint(shard.shardId), batch.to));
    if (this.options.random() < this.o.duplicateRate) {
      // At-least-once: the same records once more (e.g. a lost checkpoint).
      this.stats.duplicates++;
      const again: InFlight = {
        from: batch.from,
        to: batch.to,
        queue: [[batch.from, batch.to]],
        attempts: 0,
      };
      while (again.queue.length > 0) await this.attempt(shard, again);
    }
    return true;
  }

  /** Delivers everything left, in random order. */
  async drain(): Promise<void> {
    for (let i = 0; i < 100_000; i++) if (!(await this.deliverNext())) return;
    throw new Error('SimulatedEsm.drain: did not finish');
  }

  /** One invocation of the batch's current range, with Lambda's retry, bisect and partial-response rules. */
  private async attempt(shard: SimShard, batch: InFlight): Promise<void> {
    const { queue } = batch;
    const [f, t] = queue[0] as [number, number];
    if (++batch.attempts > this.o.maxAttempts) {
      throw new Error(
        `SimulatedEsm: ${shard.shardId} records ${f}..${t - 1} never succeeded in ${this.o.maxAttempts} attempts`,
      );
    }
    const outcome = await this.invoke(shard, f, t);
    if (outcome.kind === 'success') {
      queue.shift();
    } else if (outcome.kind === 'partial') {
      this.stats.partial++;
      queue[0] = [f + outcome.index, t];
    } else if (this.o.bisectOnError && t - f > 1) {
      this.stats.bisects++;
      const mid = f + Math.floor((t - f) / 2);
      queue.splice(0, 1, [f, mid], [mid, t]);
    }
  }

  private async invoke(shard: SimShard, f: number, t: number): Promise<Outcome> {
    const records = shard.records.slice(f, t);
    const event = buildKinesisEvent(records, {
      shardId: shard.shardId,
      streamArn: this.options.kinesis.streamArn,
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-sim',
    });
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
      return { kind: 'error' };
    }
    if (this.options.random() < this.o.timeoutRate) {
      this.stats.timeouts++;
      return { kind: 'error' };
    }
    const verdict = judgeBatchResponse(
      response,
      records.map((r) => r.SequenceNumber),
    );
    if (verdict.kind === 'success') return verdict;
    if (verdict.kind === 'partial') return { kind: 'partial', index: verdict.index };
    this.stats.wholeFailures++;
    return { kind: 'error' };
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
