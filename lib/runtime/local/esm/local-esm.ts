/**
 * The local Kinesis event source mapping: polls every shard of a stream and
 * invokes a handler with batches, reproducing Lambda's ESM (see
 * docs/local-esm.md for the mapping to AWS's documented behaviour).
 *
 * One shard, in time (one batch in flight per shard; shards run in parallel):
 *
 *     gather ─► [age check] ─► invoke ─┬─ ok ───────────────► checkpoint after batch
 *       ▲   (batchSize or window)      ├─ partial (lowest i) ► checkpoint before i, retry [i..] (counts)
 *       │                              └─ error/crash/timeout
 *       │                                   ├─ bisect & >1 record ─► [left][right] (free)
 *       │                                   └─ retry (counts) ─► exhausted ─► on-failure, skip
 *       └───────────────────────────────────────────────────────────────┘
 *
 * A child shard is not read until every parent listed by ListShards has
 * been consumed to SHARD_END; it then starts at TRIM_HORIZON.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { listShards } from '../../../adapters/kinesis/list-shards.ts';
import { backoffDelay } from '../../../adapters/retry.ts';
import { ConfigError, WeirError } from '../../../errors.ts';
import { sleep } from '../../../util/sleep.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingInput,
  type EventSourceMappingSettings,
} from '../../esm-settings.ts';
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
import { buildKinesisEvent, type StreamRecordInput } from './kinesis-event.ts';
import type { FailureCondition, KinesisFailureRecord } from './failure-record.ts';
import type { OnFailureDestination } from './on-failure.ts';

/** Wait before re-sending a failure record: the adapters' full-jitter backoff, 100 ms base, 5 s cap. */
const onFailureBackoffMs = (attempt: number): number =>
  backoffDelay(attempt, { baseDelayMs: 100, maxDelayMs: 5_000 });

/** Time source; tests inject a fake one to age records. */
export interface EsmClock {
  /** Epoch milliseconds. */
  now(): number;
}

/** The system clock. */
export const systemClock: EsmClock = { now: () => Date.now() };

/** Options of {@link LocalEventSourceMapping}. */
export interface LocalEventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly invoker: HandlerInvoker;
  /** The shared ESM description; validated with `resolveEsmSettings`. @default DEFAULT_ESM_SETTINGS */
  readonly settings?: EventSourceMappingSettings | EventSourceMappingInput;
  /** Where discarded batches are reported; without one they are only counted and dropped (as Lambda). */
  readonly onFailure?: OnFailureDestination;
  /** @default 'weir-local' */
  readonly functionName?: string;
  /** @default `arn:aws:lambda:<region>:<account>:function:<functionName>` */
  readonly functionArn?: string;
  /** @default `arn:aws:iam::<account>:role/weir-local-esm` */
  readonly invokeIdentityArn?: string;
  /** The mapping's UUID (used in S3 failure keys). @default a random UUID */
  readonly uuid?: string;
  /** The function's timeout, enforced by the invoker. @default 60000 */
  readonly functionTimeoutMs?: number;
  /** Wait before polling a shard again after it returned nothing (Lambda polls once per second). @default 1000 */
  readonly pollIntervalMs?: number;
  /** How often ListShards runs to find new (child) shards. @default 1000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** Wait before retrying a failed batch. @default 100 */
  readonly retryDelayMs?: number;
  /**
   * Renew an iterator older than this before using it (Kinesis expires them after 300 s).
   * @default 240000
   */
  readonly iteratorMaxAgeMs?: number;
  /** Time source for record age. @default systemClock */
  readonly clock?: EsmClock;
  /** Observability hook; also see {@link LocalEventSourceMapping.on}. */
  readonly onEvent?: (event: EsmEvent) => void;
}

/** What the ESM reports while it works. */
export type EsmEvent =
  | { readonly type: 'shard-started'; readonly shardId: string; readonly iteratorType: string }
  | { readonly type: 'shard-ended'; readonly shardId: string }
  | {
      readonly type: 'batch-start';
      readonly shardId: string;
      readonly requestId: string;
      readonly size: number;
      readonly firstSequenceNumber: string;
      readonly lastSequenceNumber: string;
      /** 0 for the first invocation of these exact records, then 1, 2, ... */
      readonly retry: number;
    }
  | {
      readonly type: 'batch-end';
      readonly shardId: string;
      readonly requestId: string;
      readonly size: number;
      readonly outcome: InvokeOutcome['kind'];
      readonly verdict: string;
    }
  | {
      readonly type: 'batch-error';
      readonly shardId: string;
      readonly requestId: string;
      readonly size: number;
      readonly outcome: InvokeOutcome;
    }
  | {
      readonly type: 'bisect';
      readonly shardId: string;
      readonly from: number;
      readonly left: number;
      readonly right: number;
    }
  | {
      readonly type: 'discarded';
      readonly shardId: string;
      readonly condition: FailureCondition;
      readonly size: number;
      readonly record: KinesisFailureRecord;
    }
  | {
      readonly type: 'iterator-renewed';
      readonly shardId: string;
      readonly reason: 'expired' | 'age';
    }
  | { readonly type: 'poll-error'; readonly shardId: string; readonly error: unknown };

/** Per-shard state, as {@link LocalEventSourceMapping.stats} reports it. */
export interface ShardStats {
  readonly shardId: string;
  readonly parentShardIds: readonly string[];
  readonly status: 'waiting-for-parents' | 'reading' | 'consumed';
  /** Last sequence number checkpointed (every record up to it is done). */
  readonly checkpoint: string | undefined;
  readonly inFlight: boolean;
  readonly caughtUp: boolean;
}

/** Counters of a {@link LocalEventSourceMapping}. */
export interface EsmStats {
  readonly invocations: number;
  readonly recordsDelivered: number;
  readonly retries: number;
  readonly bisects: number;
  readonly failuresSent: number;
  readonly recordsDiscarded: number;
  readonly shards: readonly ShardStats[];
}

interface ShardState {
  readonly shardId: string;
  readonly parents: readonly string[];
  status: ShardStats['status'];
  startType: ShardIteratorType;
  startTimestamp?: Date;
  iterator: string | undefined;
  iteratorAt: number;
  /** Last record fetched from Kinesis (where the iterator stands). */
  lastFetched: string | undefined;
  checkpoint: string | undefined;
  endOfShard: boolean;
  /** Start time (epoch ms) of the latest GetRecords that found the shard at its tip; undefined once records arrive. */
  caughtUpSince: number | undefined;
  inFlight: boolean;
  /** Records read but not yet handed to the function (an open batching window). */
  gathered: number;
  loop: Promise<void> | undefined;
}

/**
 * Polls a Kinesis stream and invokes a handler like Lambda's event source mapping.
 *
 * @example
 * const esm = new LocalEventSourceMapping({
 *   kinesis: clients.kinesis,
 *   streamName: 'clicks',
 *   invoker: new ProcessHandlerInvoker({ handler: 'functions/click-counter/handler.ts#handler', env: aws.env() }),
 *   settings: { batchSize: 500, maximumRetryAttempts: 2 },
 *   onFailure: new S3OnFailureDestination({ client: clients.s3, bucket: 'esm-failures' }),
 * });
 * await esm.start();
 * await esm.waitUntilIdle({ timeoutMs: 30_000 });
 * await esm.stop();
 */
export class LocalEventSourceMapping {
  readonly settings: EventSourceMappingSettings;
  readonly uuid: string;
  readonly #o: LocalEventSourceMappingOptions;
  readonly #clock: EsmClock;
  readonly #listeners = new Set<(e: EsmEvent) => void>();
  readonly #shards = new Map<string, ShardState>();
  readonly #abort = new AbortController();
  #streamArn = '';
  #region = 'us-east-1';
  #account = '000000000000';
  #started = false;
  #stopped = false;
  /** Paused (Enabled=false): no invocation starts until resume; shards keep their positions. */
  #paused = false;
  #resumeGate: { readonly promise: Promise<void>; readonly open: () => void } | undefined;
  /** Invocations running now (pause waits for them). */
  #invoking = 0;
  #discovery: Promise<void> | undefined;
  #lastDiscoveryStart = 0;
  #discoveryNow: (() => void) | undefined;
  #counters = {
    invocations: 0,
    recordsDelivered: 0,
    retries: 0,
    bisects: 0,
    failuresSent: 0,
    recordsDiscarded: 0,
  };

  constructor(options: LocalEventSourceMappingOptions) {
    this.settings = resolveEsmSettings(options.settings);
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.uuid = options.uuid ?? randomUUID();
    if (options.onEvent) this.#listeners.add(options.onEvent);
    for (const [field, value, min] of [
      ['functionTimeoutMs', options.functionTimeoutMs, 1],
      ['pollIntervalMs', options.pollIntervalMs, 1],
      ['shardDiscoveryIntervalMs', options.shardDiscoveryIntervalMs, 1],
      ['retryDelayMs', options.retryDelayMs, 0],
      ['iteratorMaxAgeMs', options.iteratorMaxAgeMs, 0],
    ] as const) {
      if (value !== undefined && (!Number.isFinite(value) || value < min)) {
        throw new ConfigError(field, value, `must be a number >= ${min}`);
      }
    }
    if (!options.streamName)
      throw new ConfigError('streamName', options.streamName, 'must be a stream name');
  }

  /** The stream's ARN (known after {@link start}). */
  get streamArn(): string {
    return this.#streamArn;
  }

  /** The function ARN used in failure records and contexts. */
  get functionArn(): string {
    return (
      this.#o.functionArn ??
      `arn:aws:lambda:${this.#region}:${this.#account}:function:${this.#functionName}`
    );
  }

  get #functionName(): string {
    return this.#o.functionName ?? 'weir-local';
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: EsmEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves the stream, lists its shards and starts polling them. */
  async start(): Promise<void> {
    if (this.#started) throw new WeirError('LocalEventSourceMapping already started');
    this.#started = true;
    const summary = await this.#o.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: this.#o.streamName }),
    );
    this.#streamArn = summary.StreamDescriptionSummary?.StreamARN ?? '';
    const arn = this.#streamArn.split(':');
    this.#region = arn[3] || this.#region;
    this.#account = arn[4] || this.#account;
    await this.#discover(true);
    this.#discovery = this.#discoveryLoop();
  }

  /** Whether {@link pause} is in effect. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * As Lambda's `Enabled: false`: no invocation starts from now on, and this
   * resolves once none is running. Shards keep their checkpoints; a batch
   * gathered meanwhile waits, and {@link resume} delivers it first.
   */
  async pause(): Promise<void> {
    if (!this.#paused) {
      this.#paused = true;
      let open: () => void = () => undefined;
      const promise = new Promise<void>((r) => (open = r));
      this.#resumeGate = { promise, open };
    }
    // The first sleep lets a shard that was past its gate count its invocation.
    do await sleep(10);
    while (this.#invoking > 0);
  }

  /** As `Enabled: true`: invocations start again, each shard from after its checkpoint. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#resumeGate?.open();
    this.#resumeGate = undefined;
  }

  async #whilePaused(): Promise<void> {
    while (this.#paused && !this.#stopped) {
      const gate = this.#resumeGate;
      if (gate === undefined) return;
      await Promise.race([
        gate.promise,
        new Promise<void>((r) =>
          this.#abort.signal.addEventListener('abort', () => r(), { once: true }),
        ),
      ]);
    }
  }

  /** Stops polling; waits for in-flight batches to finish (their results still count). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    await this.#discovery;
    const loops: Promise<void>[] = [];
    for (const s of this.#shards.values()) if (s.loop) loops.push(s.loop);
    await Promise.all(loops);
  }

  /**
   * Resolves once the mapping is drained: every open shard has been read up to
   * its tip, every closed shard consumed, no child waits and nothing is in flight,
   * as seen by a shard listing made after this call.
   */
  async waitUntilIdle(options: { timeoutMs: number }): Promise<void> {
    const since = Date.now();
    const deadline = since + options.timeoutMs;
    this.#discoveryNow?.();
    while (!this.#isIdle(since)) {
      if (this.#stopped)
        throw new WeirError('LocalEventSourceMapping stopped while waiting for idle');
      if (Date.now() > deadline) {
        throw new WeirError(
          `LocalEventSourceMapping not idle after ${options.timeoutMs} ms: ${JSON.stringify(this.stats().shards)}`,
        );
      }
      await sleep(20);
    }
  }

  stats(): EsmStats {
    return {
      ...this.#counters,
      shards: [...this.#shards.values()].map((s) => ({
        shardId: s.shardId,
        parentShardIds: s.parents,
        status: s.status,
        checkpoint: s.checkpoint,
        inFlight: s.inFlight,
        caughtUp: s.caughtUpSince !== undefined,
      })),
    };
  }

  #isIdle(since: number): boolean {
    if (this.#lastDiscoveryStart < since) return false;
    for (const s of this.#shards.values()) {
      if (s.status === 'consumed') continue;
      if (s.status === 'waiting-for-parents') return false;
      if (
        s.inFlight ||
        s.gathered > 0 ||
        s.endOfShard ||
        s.caughtUpSince === undefined ||
        s.caughtUpSince < since
      )
        return false;
    }
    return true;
  }

  #emit(e: EsmEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // An observer must not break the mapping.
      }
    }
  }

  async #discoveryLoop(): Promise<void> {
    const interval = this.#o.shardDiscoveryIntervalMs ?? 1000;
    while (!this.#stopped) {
      const wake = new AbortController();
      this.#discoveryNow = () => wake.abort();
      await sleep(interval, AbortSignal.any([this.#abort.signal, wake.signal]));
      if (this.#stopped) return;
      try {
        await this.#discover(false);
      } catch (error) {
        this.#emit({ type: 'poll-error', shardId: '*', error });
      }
    }
  }

  async #discover(initial: boolean): Promise<void> {
    const started = Date.now();
    const shards = await listShards(this.#o.kinesis, { StreamName: this.#o.streamName });
    const listed = new Set(shards.map((s) => s.ShardId ?? ''));
    for (const shard of shards) {
      const id = shard.ShardId ?? '';
      if (this.#shards.has(id)) continue;
      // Parents no longer listed (trimmed) count as consumed.
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (p): p is string => p !== undefined && listed.has(p),
      );
      const s = initial ? this.#initialStart() : { startType: 'TRIM_HORIZON' as ShardIteratorType };
      const state: ShardState = {
        shardId: id,
        parents,
        status: 'waiting-for-parents',
        startType: s.startType,
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
      if (s.startTimestamp) state.startTimestamp = s.startTimestamp;
      this.#shards.set(id, state);
      // LATEST means "from now": pin the iterator while the mapping starts, not when parents end.
      if (initial && state.startType === 'LATEST') await this.#acquireIterator(state);
    }
    this.#lastDiscoveryStart = started;
    this.#startEligible();
  }

  #initialStart(): { startType: ShardIteratorType; startTimestamp?: Date } {
    const p = this.settings.startingPosition;
    if (p === 'AT_TIMESTAMP') {
      return {
        startType: 'AT_TIMESTAMP',
        startTimestamp: new Date((this.settings.startingPositionTimestamp ?? 0) * 1000),
      };
    }
    return { startType: p };
  }

  #startEligible(): void {
    if (this.#stopped) return;
    for (const s of this.#shards.values()) {
      if (s.status !== 'waiting-for-parents') continue;
      const ready = s.parents.every((p) => this.#shards.get(p)?.status === 'consumed');
      if (!ready) continue;
      s.status = 'reading';
      this.#emit({ type: 'shard-started', shardId: s.shardId, iteratorType: s.startType });
      s.loop = this.#runShard(s).catch((error: unknown) => {
        this.#emit({ type: 'poll-error', shardId: s.shardId, error });
      });
    }
  }

  async #acquireIterator(s: ShardState): Promise<void> {
    const base = { StreamName: this.#o.streamName, ShardId: s.shardId };
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
    const out = await this.#o.kinesis.send(cmd);
    s.iterator = out.ShardIterator;
    s.iteratorAt = Date.now();
    if (!s.iterator) s.endOfShard = true;
  }

  /** One GetRecords call; handles iterator age and expiry. */
  async #fetch(s: ShardState, limit: number): Promise<KinesisRecord[]> {
    const maxAge = this.#o.iteratorMaxAgeMs ?? 240_000;
    if (s.iterator === undefined && !s.endOfShard) await this.#acquireIterator(s);
    else if (s.iterator !== undefined && Date.now() - s.iteratorAt >= maxAge) {
      await this.#acquireIterator(s);
      this.#emit({ type: 'iterator-renewed', shardId: s.shardId, reason: 'age' });
    }
    if (s.endOfShard || s.iterator === undefined) return [];
    let out;
    const fetchStarted = Date.now();
    try {
      out = await this.#o.kinesis.send(
        new GetRecordsCommand({ ShardIterator: s.iterator, Limit: limit }),
      );
    } catch (err) {
      if ((err as { name?: string }).name === 'ExpiredIteratorException') {
        await this.#acquireIterator(s);
        this.#emit({ type: 'iterator-renewed', shardId: s.shardId, reason: 'expired' });
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
  async #gather(s: ShardState): Promise<StreamRecordInput[]> {
    const { batchSize, maximumBatchingWindowInSeconds: window } = this.settings;
    const deadline = Date.now() + window * 1000;
    const batch: StreamRecordInput[] = [];
    const pollMs = this.#o.pollIntervalMs ?? 1000;
    for (;;) {
      let got: KinesisRecord[];
      try {
        got = await this.#fetch(s, Math.min(10_000, batchSize - batch.length));
      } catch (error) {
        // Records already read must not be lost with the failed call: deliver what we have.
        if (batch.length === 0) throw error;
        this.#emit({ type: 'poll-error', shardId: s.shardId, error });
        return batch;
      }
      for (const r of got) batch.push(toInput(r));
      s.gathered = batch.length;
      if (batch.length >= batchSize || s.endOfShard || this.#stopped) return batch;
      const left = deadline - Date.now();
      if (left <= 0) return batch;
      // The window is open and the shard has no more right now: wait for more.
      if (got.length === 0) await sleep(Math.min(pollMs, left), this.#abort.signal);
    }
  }

  async #runShard(s: ShardState): Promise<void> {
    const pollMs = this.#o.pollIntervalMs ?? 1000;
    while (!this.#stopped) {
      await this.#whilePaused();
      let batch: StreamRecordInput[];
      try {
        batch = await this.#gather(s);
      } catch (error) {
        this.#emit({ type: 'poll-error', shardId: s.shardId, error });
        await sleep(pollMs, this.#abort.signal);
        continue;
      }
      s.gathered = 0;
      if (batch.length > 0) {
        s.caughtUpSince = undefined;
        s.inFlight = true;
        try {
          await this.#process(s, batch);
        } finally {
          s.inFlight = false;
        }
        continue;
      }
      if (s.endOfShard) {
        s.status = 'consumed';
        this.#emit({ type: 'shard-ended', shardId: s.shardId });
        // Children may now start; look for them right away.
        this.#startEligible();
        this.#discoveryNow?.();
        return;
      }
      await sleep(pollMs, this.#abort.signal);
    }
  }

  /**
   * Runs one gathered batch to completion. The decisions (checkpoint, resume,
   * retry, bisect, give up, expire) are the shared state machine's
   * (batch-state-machine.ts); this driver invokes, waits, moves the
   * checkpoint, reports and counts.
   */
  async #process(s: ShardState, records: readonly StreamRecordInput[]): Promise<void> {
    const retryDelay = this.#o.retryDelayMs ?? 100;
    const arrivalMs = (i: number): number =>
      (records[i] as StreamRecordInput).ApproximateArrivalTimestamp.getTime();
    let batch = startBatch(records.length);
    while (batch.pending.length > 0) {
      if (this.#stopped) return; // not checkpointed: a restart would see these records again
      const expiry = expireRecords(this.settings, batch, this.#clock.now(), arrivalMs);
      if (expiry !== undefined) {
        batch = await this.#apply(s, records, expiry);
        continue;
      }
      const head = batch.pending[0] as PendingRange;
      const invoked = records.slice(head.from, head.to);
      await this.#whilePaused();
      if (this.#stopped) return;
      this.#invoking += 1;
      const { requestId, outcome } = await this.#invoke(s, invoked, head.retries).finally(() => {
        this.#invoking -= 1;
      });
      const result =
        outcome.kind === 'success'
          ? judgeInvocation(
              this.settings,
              outcome.value,
              invoked.map((r) => r.SequenceNumber),
            )
          : ({ kind: 'function-error' } as const);
      const next = afterInvocation(this.settings, batch, { requestId, result });
      const end = { shardId: s.shardId, requestId, size: invoked.length };
      if (result.kind === 'success') {
        batch = await this.#apply(s, records, next);
        this.#emit({ type: 'batch-end', ...end, outcome: outcome.kind, verdict: result.kind });
        continue;
      }
      if (result.kind === 'partial') {
        this.#emit({ type: 'batch-end', ...end, outcome: outcome.kind, verdict: result.kind });
      } else {
        this.#emit({ type: 'batch-error', ...end, outcome });
      }
      batch = await this.#apply(s, records, next);
      if (next.action === EsmAction.RETRY || next.action === EsmAction.RESUME)
        await sleep(retryDelay, this.#abort.signal);
    }
  }

  /** One invocation of `records` (a retry number for observers); an invoker failure is a crash. */
  async #invoke(
    s: ShardState,
    records: readonly StreamRecordInput[],
    retry: number,
  ): Promise<{ requestId: string; outcome: InvokeOutcome }> {
    const requestId = randomUUID();
    this.#emit({
      type: 'batch-start',
      shardId: s.shardId,
      requestId,
      size: records.length,
      firstSequenceNumber: (records[0] as StreamRecordInput).SequenceNumber,
      lastSequenceNumber: (records.at(-1) as StreamRecordInput).SequenceNumber,
      retry,
    });
    const event = this.#event(s, records);
    this.#counters.invocations += 1;
    this.#counters.recordsDelivered += records.length;
    try {
      const outcome = await this.#o.invoker.invoke(event, {
        awsRequestId: requestId,
        functionName: this.#functionName,
        invokedFunctionArn: this.functionArn,
        timeoutMs: this.#o.functionTimeoutMs ?? 60_000,
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
  async #apply(
    s: ShardState,
    records: readonly StreamRecordInput[],
    t: Transition,
  ): Promise<BatchProgress> {
    if (t.checkpointTo !== undefined)
      s.checkpoint = (records[t.checkpointTo - 1] as StreamRecordInput).SequenceNumber;
    if (t.action === EsmAction.RETRY || t.action === EsmAction.RESUME) this.#counters.retries += 1;
    if (t.halves !== undefined) {
      const [left, right] = t.halves;
      this.#counters.bisects += 1;
      this.#emit({
        type: 'bisect',
        shardId: s.shardId,
        from: right.to - left.from,
        left: left.to - left.from,
        right: right.to - right.from,
      });
    }
    if (t.discard !== undefined) await this.#discard(s, records, t.discard);
    return t.next;
  }

  /** Reports records the state machine gave up on, then checkpoints past them. */
  async #discard(
    s: ShardState,
    polled: readonly StreamRecordInput[],
    discard: Discard,
  ): Promise<void> {
    const records = polled.slice(discard.from, discard.to);
    const { last } = discard;
    const record = kinesisFailureRecord({
      requestId: last?.requestId ?? randomUUID(),
      functionArn: this.functionArn,
      condition: discard.condition,
      approximateInvokeCount: discard.approximateInvokeCount,
      response:
        last === undefined ? undefined : { functionError: last.result.kind === 'function-error' },
      timestampMs: this.#clock.now(),
      shardId: s.shardId,
      streamArn: this.#streamArn,
      records,
    });
    this.#counters.recordsDiscarded += records.length;
    if (this.#o.onFailure) {
      // Lambda keeps trying to deliver the failure record; so do we, until stopped.
      for (let attempt = 0; ; attempt += 1) {
        try {
          await this.#o.onFailure.send({
            esmUuid: this.uuid,
            shardId: s.shardId,
            record,
            event: this.#event(s, records),
          });
          this.#counters.failuresSent += 1;
          break;
        } catch (error) {
          this.#emit({ type: 'poll-error', shardId: s.shardId, error });
          if (this.#stopped) throw error;
          await sleep(onFailureBackoffMs(attempt), this.#abort.signal);
        }
      }
    }
    s.checkpoint = (records.at(-1) as StreamRecordInput).SequenceNumber;
    this.#emit({
      type: 'discarded',
      shardId: s.shardId,
      condition: discard.condition,
      size: records.length,
      record,
    });
  }

  #event(s: ShardState, records: readonly StreamRecordInput[]): KinesisStreamEvent {
    return buildKinesisEvent(records, {
      shardId: s.shardId,
      streamArn: this.#streamArn,
      awsRegion: this.#region,
      invokeIdentityArn:
        this.#o.invokeIdentityArn ?? `arn:aws:iam::${this.#account}:role/weir-local-esm`,
    });
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
