/**
 * A Flink-style operator test harness: feed records (positions built for
 * you, with realistic 56-digit Kinesis sequence numbers), move processing
 * time by hand, and collect results, late output and dead letters. Time is
 * always supplied by the test, never read from the system clock.
 */
import { InMemoryStateStore } from '../adapters/memory/in-memory-state-store.ts';
import { createWindowOperator } from '../core/operator.ts';
import type { BatchOptions, WindowOperator } from '../core/operator.ts';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { position, shardId, type ShardId } from '../model/position.ts';
import type {
  BatchCounts,
  BatchOutcome,
  DeadLetter,
  LateRecord,
  SourceRecord,
  WindowResult,
} from '../model/records.ts';
import { ManualClock } from '../ports/clock.ts';
import type { StateStore } from '../ports/state-store.ts';

/** Sequence number of a shard's first record in the harness (56 digits, like real Kinesis ones). */
export const FIRST_SEQUENCE_NUMBER = 49590338271490256608559692538361571095921575989136588898n;

/** `shardId-000000000003` for 3. */
export function harnessShardId(index: number): ShardId {
  return shardId(`shardId-${String(index).padStart(12, '0')}`);
}

/** Options of {@link WindowOperatorHarness}. */
export interface HarnessOptions {
  /** Processing time at the start (epoch ms). @default 1_700_000_000_000 */
  readonly startTime?: number;
  /** State store. @default a new InMemoryStateStore */
  readonly store?: StateStore;
  /** Partition key of built records. @default 'pk' */
  readonly partitionKey?: string;
}

const encoder = new TextEncoder();

/**
 * Drives one window operator by hand.
 *
 * @example
 * const h = new WindowOperatorHarness(definition);
 * await h.send(0, [{ page: '/a', ts: 1_000 }, { page: '/a', ts: 61_000 }]);
 * await h.advanceProcessingTime(minutes(2));
 * expect(h.results.map((r) => r.value)).toEqual([1]);
 */
export class WindowOperatorHarness<IN, ACC, OUT> {
  readonly operator: WindowOperator<IN, ACC, OUT>;
  readonly clock: ManualClock;
  readonly store: StateStore;
  readonly results: WindowResult<OUT>[] = [];
  readonly late: LateRecord[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** Sum of every batch's counts. */
  readonly counts: { -readonly [K in keyof BatchCounts]: number } = {
    received: 0,
    skippedCommitted: 0,
    filtered: 0,
    deadLettered: 0,
    late: 0,
    inState: 0,
    partiallyLate: 0,
    alreadyApplied: 0,
  };
  watermark = -Infinity;
  private readonly nextSeq = new Map<string, bigint>();
  private readonly partitionKey: string;

  constructor(definition: WindowedOperatorDefinition<IN, ACC, OUT>, options: HarnessOptions = {}) {
    this.clock = new ManualClock(options.startTime ?? 1_700_000_000_000);
    this.store = options.store ?? new InMemoryStateStore();
    this.partitionKey = options.partitionKey ?? 'pk';
    this.operator = createWindowOperator(definition, { store: this.store, clock: this.clock });
  }

  private shard(shard: number | string): ShardId {
    return typeof shard === 'number' ? harnessShardId(shard) : shardId(shard);
  }

  /** Builds records with the next positions of a shard; nothing is delivered yet. */
  rawRecords(shard: number | string, data: readonly (Uint8Array | string)[]): SourceRecord[] {
    const id = this.shard(shard);
    let seq =
      this.nextSeq.get(id) ??
      FIRST_SEQUENCE_NUMBER + BigInt(typeof shard === 'number' ? shard : 0) * 10n ** 40n;
    const out: SourceRecord[] = [];
    for (const d of data) {
      seq += 1_000_000_000_000n + BigInt(out.length % 7);
      out.push({
        position: position(id, seq.toString()),
        data: typeof d === 'string' ? encoder.encode(d) : d,
        partitionKey: this.partitionKey,
        approximateArrivalTimestamp: this.clock.now(),
      });
    }
    this.nextSeq.set(id, seq);
    return out;
  }

  /** Builds JSON records of events with the next positions of a shard. */
  records(shard: number | string, events: readonly unknown[]): SourceRecord[] {
    return this.rawRecords(
      shard,
      events.map((e) => JSON.stringify(e)),
    );
  }

  /** Delivers a batch (possibly again: a retry) and collects its outputs. */
  async deliver(
    shard: number | string,
    records: readonly SourceRecord[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    const outcome = await this.operator.processBatch(this.shard(shard), records, options);
    this.results.push(...outcome.results);
    this.late.push(...outcome.late);
    this.deadLetters.push(...outcome.deadLetters);
    for (const k of Object.keys(this.counts) as (keyof BatchCounts)[])
      this.counts[k] += outcome.counts[k];
    this.watermark = outcome.watermark;
    return outcome;
  }

  /** Builds and delivers one batch of JSON events. */
  send(
    shard: number | string,
    events: readonly unknown[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    return this.deliver(shard, this.records(shard, events), options);
  }

  /** Runs a processing-time tick (the scheduled ticker) at the current time. */
  async tick(): Promise<readonly WindowResult<OUT>[]> {
    const outcome = await this.operator.tick();
    this.results.push(...outcome.results);
    this.watermark = outcome.watermark;
    return outcome.results;
  }

  /** Moves processing time forward, then ticks. */
  async advanceProcessingTime(ms: number): Promise<readonly WindowResult<OUT>[]> {
    this.clock.advance(ms);
    return this.tick();
  }

  /** Marks a shard closed and consumed, then ticks. */
  async closeShard(shard: number | string): Promise<readonly WindowResult<OUT>[]> {
    const outcome = await this.operator.closeShard(this.shard(shard));
    this.results.push(...outcome.results);
    this.watermark = outcome.watermark;
    return outcome.results;
  }

  /**
   * The final result of every window: the highest version per (key, window),
   * without session windows that a later result superseded.
   */
  finalResults(): WindowResult<OUT>[] {
    const latest = new Map<string, WindowResult<OUT>>();
    const superseded = new Set<string>();
    for (const r of this.results) {
      const id = `${r.key}|${r.window.start}|${r.window.end}`;
      const have = latest.get(id);
      if (have === undefined || r.version > have.version) latest.set(id, r);
      for (const s of r.supersedes ?? []) superseded.add(`${r.key}|${s.start}|${s.end}`);
    }
    return [...latest.entries()]
      .filter(([id]) => !superseded.has(id))
      .map(([, r]) => r)
      .sort(
        (a, b) =>
          a.window.end - b.window.end ||
          (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
          a.window.start - b.window.start,
      );
  }
}
