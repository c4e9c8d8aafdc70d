/**
 * The producer's requests: PutRecords calls in flight (bounded), the retry of
 * failed entries and transient request failures, and the tallies behind
 * {@link PutRecordsResult}. The timeline is in producer.ts.
 */
import {
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamTarget } from '../adapters/kinesis/list-shards.ts';
import { networkErrorCode, sleepBeforeRetry, type RetryPolicy } from '../adapters/retry.ts';
import { errorName } from '../errors.ts';
import { position, shardId as toShardId, type Position, type ShardId } from '../model/position.ts';
import type { Entry, TokenBucket } from './producer-entries.ts';
import {
  ProducerFailure,
  type FailedEntry,
  type KinesisPutRecordsClient,
  type ProducerProgress,
  type PutRecordsResult,
} from './producer-types.ts';

/** Why the producer stops; the first one recorded wins. */
export interface ProducerStop {
  readonly reason: ProducerFailure;
  readonly message: string;
  readonly cause?: unknown;
}

/** What {@link PutRecordsSender} needs, validated by putRecords. */
export interface SenderSettings {
  readonly policy: RetryPolicy;
  readonly concurrency: number;
  readonly keepPositions: boolean;
  readonly target: KinesisStreamTarget;
  readonly bucket: TokenBucket | undefined;
  readonly signal: AbortSignal | undefined;
  readonly total: number | undefined;
  readonly onProgress: ((progress: ProducerProgress) => void) | undefined;
}

/**
 * Sends batches of entries, at most `concurrency` requests at once, and keeps
 * the tallies. A batch that cannot be stored never rejects: its entries go to
 * `failed` and the first reason to `failure`, which stops the input.
 */
export class PutRecordsSender {
  readonly positions: Position[] = [];
  readonly perShard: Record<string, number> = {};
  sent = 0;
  kinesisRecords = 0;
  requests = 0;
  retriedEntries = 0;
  retriedRequests = 0;
  bytes = 0;
  readonly failed: FailedEntry[] = [];
  failure: ProducerStop | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly kinesis: KinesisPutRecordsClient,
    private readonly s: SenderSettings,
  ) {}

  /** The result so far. */
  snapshot(): PutRecordsResult {
    return {
      records: this.sent,
      kinesisRecords: this.kinesisRecords,
      requests: this.requests,
      retriedEntries: this.retriedEntries,
      retriedRequests: this.retriedRequests,
      bytes: this.bytes,
      positions: this.s.keepPositions ? this.positions : [],
      perShard: { ...this.perShard },
    };
  }

  /**
   * Starts sending `batch` once fewer than `concurrency` requests are in
   * flight. sendBatch never rejects (failures are recorded), so nothing here
   * can float; the catch is a last guard against a bug.
   */
  async launch(batch: readonly Entry[]): Promise<void> {
    while (this.#inFlight.size >= this.s.concurrency) await Promise.race(this.#inFlight);
    const p: Promise<void> = this.#sendBatch(batch)
      .catch((err: unknown) => {
        this.failure ??= {
          reason: ProducerFailure.FATAL,
          message: `producer bug: ${String(err)}`,
          cause: err,
        };
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Waits for every request in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
  }

  #progress(): void {
    this.s.onProgress?.({
      sent: this.sent,
      total: this.s.total,
      retriedEntries: this.retriedEntries,
      retriedRequests: this.retriedRequests,
      requests: this.requests,
    });
  }

  /** Sends one batch until every entry is stored or attempts run out. */
  async #sendBatch(batch: readonly Entry[]): Promise<void> {
    const { policy, bucket, signal } = this.s;
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      if (bucket) await bucket.take(pending.reduce((n, e) => n + e.indices.length, 0));
      this.requests++;
      let out: PutRecordsCommandOutput;
      try {
        out = await this.kinesis.send(this.#command(pending));
      } catch (err) {
        if (this.#requestFailed(err, pending, attempt)) return;
        this.retriedRequests++;
        await sleepBeforeRetry(policy, attempt - 1, signal);
        continue;
      }
      const retry = this.#recordResults(out, pending, attempt);
      if (retry === undefined) return;
      this.retriedEntries += retry.length;
      pending = retry;
      await sleepBeforeRetry(policy, attempt - 1, signal);
    }
  }

  #command(pending: readonly Entry[]): PutRecordsCommand {
    return new PutRecordsCommand({
      ...this.s.target,
      Records: pending.map((e): PutRecordsRequestEntry => ({
        Data: e.data,
        PartitionKey: e.partitionKey,
        ...(e.explicitHashKey !== undefined ? { ExplicitHashKey: e.explicitHashKey } : {}),
      })),
    });
  }

  /** A whole request failed: true when the producer gives up on it (recorded), false to retry. */
  #requestFailed(err: unknown, pending: readonly Entry[], attempt: number): boolean {
    const name = networkErrorCode(err) ?? errorName(err);
    const message = err instanceof Error ? err.message : String(err);
    const transient = this.s.policy.isRetryable(err);
    if (transient && attempt < this.s.policy.maxAttempts) return false;
    this.#fail(pending, name, message, attempt);
    this.failure ??= transient
      ? {
          reason: ProducerFailure.EXHAUSTED,
          message: `PutRecords still failing after ${attempt} attempts (${name}: ${message})`,
          cause: err,
        }
      : {
          reason: ProducerFailure.FATAL,
          message: `PutRecords failed: ${name}: ${message}`,
          cause: err,
        };
    return true;
  }

  /**
   * Tallies a response. Returns the entries to send again, or undefined when
   * the batch is done (all stored, or given up on and recorded).
   */
  #recordResults(
    out: PutRecordsCommandOutput,
    pending: readonly Entry[],
    attempt: number,
  ): Entry[] | undefined {
    const results = out.Records ?? [];
    if (results.length !== pending.length) {
      this.failure ??= {
        reason: ProducerFailure.FATAL,
        message: `PutRecords answered ${results.length} results for ${pending.length} records`,
      };
      this.#fail(pending, 'MalformedResponse', 'result count mismatch', attempt);
      return undefined;
    }
    const retry: Entry[] = [];
    const codes: { code: string; message: string }[] = [];
    results.forEach((r, i) => {
      const e = pending[i] as Entry;
      if (r.ErrorCode !== undefined || r.SequenceNumber === undefined || r.ShardId === undefined) {
        retry.push(e);
        codes.push({ code: r.ErrorCode ?? 'MissingSequenceNumber', message: r.ErrorMessage ?? '' });
        return;
      }
      this.#stored(e, toShardId(r.ShardId), r.SequenceNumber);
    });
    this.#progress();
    if (retry.length === 0) return undefined;
    if (attempt >= this.s.policy.maxAttempts) {
      retry.forEach((e, i) => {
        const c = codes[i] as { code: string; message: string };
        this.#fail([e], c.code, c.message, attempt);
      });
      this.failure ??= {
        reason: ProducerFailure.EXHAUSTED,
        message: `${retry.length} record(s) still failing after ${attempt} attempts`,
      };
      return undefined;
    }
    return retry;
  }

  #stored(e: Entry, shardId: ShardId, sequenceNumber: string): void {
    this.kinesisRecords++;
    this.bytes += e.size;
    this.perShard[shardId] = (this.perShard[shardId] ?? 0) + e.indices.length;
    this.sent += e.indices.length;
    if (this.s.keepPositions) {
      e.indices.forEach((index, sub) => {
        this.positions[index] = position(shardId, sequenceNumber, e.aggregated ? sub : 0);
      });
    }
  }

  #fail(
    entries: readonly Entry[],
    errorCode: string,
    errorMessage: string,
    attempts: number,
  ): void {
    for (const e of entries) {
      for (const index of e.indices) this.failed.push({ index, errorCode, errorMessage, attempts });
    }
  }
}
