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
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { listShards } from '../../../adapters/kinesis/list-shards.ts';
import { ConfigError, WeirError } from '../../../errors.ts';
import type { ShardId } from '../../../model/position.ts';
import { sleep } from '../../../util/sleep.ts';
import { resolveEsmSettings, type EventSourceMappingSettings } from '../../esm-settings.ts';
import { driveBatch, type BatchDriverContext, type EsmCounters } from './batch-driver.ts';
import { buildKinesisEvent, type StreamRecordInput } from './kinesis-event.ts';
import {
  systemClock,
  type EsmClock,
  type EsmEvent,
  type EsmStats,
  type LocalEventSourceMappingOptions,
} from './local-esm-types.ts';
import {
  acquireIterator,
  gatherBatch,
  newShardState,
  type ShardReadContext,
  type ShardStart,
  type ShardState,
} from './shard-reader.ts';

export {
  systemClock,
  type EsmClock,
  type EsmEvent,
  type EsmStats,
  type LocalEventSourceMappingOptions,
  type ShardStats,
} from './local-esm-types.ts';

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
  readonly #shards = new Map<ShardId, ShardState>();
  readonly #read: ShardReadContext;
  readonly #drive: BatchDriverContext;
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
  readonly #counters: EsmCounters = {
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
    const host = {
      settings: this.settings,
      signal: this.#abort.signal,
      stopped: () => this.#stopped,
      emit: (e: EsmEvent) => this.#emit(e),
    };
    this.#read = {
      ...host,
      kinesis: options.kinesis,
      streamName: options.streamName,
      iteratorMaxAgeMs: options.iteratorMaxAgeMs ?? 240_000,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
    };
    this.#drive = {
      ...host,
      invoker: options.invoker,
      onFailure: options.onFailure,
      clock: this.#clock,
      uuid: this.uuid,
      functionName: this.#functionName,
      functionTimeoutMs: options.functionTimeoutMs ?? 60_000,
      retryDelayMs: options.retryDelayMs ?? 100,
      counters: this.#counters,
      functionArn: () => this.functionArn,
      streamArn: () => this.#streamArn,
      event: (shard, records) => this.#event(shard, records),
      whilePaused: () => this.#whilePaused(),
      invoking: (delta) => {
        this.#invoking += delta;
      },
    };
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
      if (this.#shards.has(id as ShardId)) continue;
      // Parents no longer listed (trimmed) count as consumed.
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (p): p is string => p !== undefined && listed.has(p),
      );
      const start: ShardStart = initial ? this.#initialStart() : { startType: 'TRIM_HORIZON' };
      const state = newShardState(id, parents, start);
      this.#shards.set(state.shardId, state);
      // LATEST means "from now": pin the iterator while the mapping starts, not when parents end.
      if (initial && state.startType === 'LATEST') await acquireIterator(this.#read, state);
    }
    this.#lastDiscoveryStart = started;
    this.#startEligible();
  }

  #initialStart(): ShardStart {
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

  async #runShard(s: ShardState): Promise<void> {
    const pollMs = this.#o.pollIntervalMs ?? 1000;
    while (!this.#stopped) {
      await this.#whilePaused();
      let batch: StreamRecordInput[];
      try {
        batch = await gatherBatch(this.#read, s);
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
          await driveBatch(this.#drive, s, batch);
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
