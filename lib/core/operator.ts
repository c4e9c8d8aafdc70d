/**
 * The window operator: one batch of one shard through the batch algorithm,
 * against the StateStore port. Each step is a room of its own:
 *
 *   read progress ─► per record, in position order (record-cursor.ts):
 *        │             guard.ts            skip if at or below the committed position
 *        │             record-pipeline.ts  decode ─► filter/map ─► key ─► event time (or a dead letter)
 *        │             judged-view.ts      the watermark the record is judged against
 *        │             window.ts (the assigner) + aligned-windows.ts / session-windows.ts:
 *        │                                 its windows, late or not, ONE delta per (key, window)
 *        ▼
 *   judged-view.ts     record the view judged against (when a retry must see it)
 *   state-writer.ts    conditional writes, guarded by the items' absorbed positions
 *                      (sessions: merging-window-set.ts, one atomic group per key)
 *   side outputs       late records and dead letters, before progress moves
 *   commit.ts          shard progress, then the operator watermark (monotonic)
 *   trigger.ts         fire or not: a value
 *   firing.ts          fire due windows (into the outbox), then purge expired ones
 *   batch.ts           the accounting: every record in state, late, dead, filtered or skipped
 *
 * A crash anywhere is safe: a retry skips committed records, the per-item
 * guard drops records an item already absorbed, and firing is conditional.
 * See docs/semantics.md for the why and docs/architecture.md for the map.
 */
import { ConfigError } from '../errors.ts';
import type { JsonValue } from '../model/json.ts';
import { shardId as shardIdOf, type ShardId } from '../model/position.ts';
import type { OperatorProgress, ShardProgress } from '../model/progress.ts';
import type {
  BatchOutcome,
  DeadLetter,
  DecodedRecord,
  LateRecord,
  SourceRecord,
  TickOutcome,
  WindowResult,
} from '../model/records.ts';
import type { Clock } from '../ports/clock.ts';
import type { StateStore } from '../ports/state-store.ts';
import { TumblingBatchWindows, SlidingBatchWindows } from './aligned-windows.ts';
import { Batch } from './batch.ts';
import type { BatchWindows, WindowsContext } from './batch-windows.ts';
import { ProgressCommit } from './commit.ts';
import { WindowFiring } from './firing.ts';
import { BatchGuard, type RedriveRange } from './guard.ts';
import { LatenessView } from './judged-view.ts';
import { OperatorStore } from './operator-store.ts';
import type { WindowedOperatorDefinition } from './pipeline.ts';
import { RecordCursor } from './record-cursor.ts';
import { RecordPipeline } from './record-pipeline.ts';
import { SessionBatchWindows } from './session-windows.ts';
import { onBatchEnd, onTick } from './trigger.ts';
import { watermarkCandidate } from './watermark.ts';

/**
 * Default of {@link WindowOperatorDeps.pageSize}: Lambda's largest Kinesis
 * batch, so the windows one batch closes are normally fired (and purged) in
 * one round. With 1,000, a 10,000-record batch that closes 1,700 windows took
 * two listing rounds plus an empty one for each of firing and purging (on
 * DynamoDB, a due-index query per bucket and a BatchGetItem per round).
 */
export const DEFAULT_PAGE_SIZE = 10_000;

/** What the operator needs from outside. */
export interface WindowOperatorDeps {
  readonly store: StateStore;
  readonly clock: Clock;
  /**
   * Windows listed per store query when firing, purging and listing pending
   * results; more are taken in further rounds. An integer 1..100,000.
   * @default 10_000 ({@link DEFAULT_PAGE_SIZE})
   */
  readonly pageSize?: number;
}

/** Per-batch options. */
export interface BatchOptions {
  /** This batch ends a closed shard (resharding): the shard then stops holding back the watermark. @default false */
  readonly shardEnded?: boolean;
  /**
   * Called with the batch's late and dead-letter records after the state
   * writes and BEFORE the shard's progress moves past them, so a runtime can
   * deliver them durably (idempotently, by position) without a crash window
   * in which they could be lost. @default none (read them from the outcome)
   */
  readonly sideOutputs?: (
    late: readonly LateRecord[],
    deadLetters: readonly DeadLetter[],
  ) => Promise<void>;
  /**
   * The batch is (part of) a range the event source mapping gave up on, read
   * back by a redrive (guard.ts): it is its own source in the items' absorbed
   * maps and has a progress record of its own (always closed: it never holds
   * the watermark back), and its records are judged late against the
   * published operator watermark alone. @default none (a live batch)
   */
  readonly redrive?: RedriveRange;
}

/**
 * Creates a window operator for a pipeline definition.
 *
 * @example
 * const operator = createWindowOperator(views, { store: new InMemoryStateStore(), clock: systemClock });
 * const outcome = await operator.processBatch(shardId('shardId-000000000000'), records);
 * for (const r of outcome.results) console.log(r.key, r.window, r.value, r.version);
 */
export function createWindowOperator<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  deps: WindowOperatorDeps,
): WindowOperator<IN, ACC, OUT> {
  return new WindowOperator(definition, deps);
}

/** Runs one {@link WindowedOperatorDefinition} against a state store. Stateless itself: all state is in the store. */
export class WindowOperator<IN, ACC, OUT> {
  readonly definition: WindowedOperatorDefinition<IN, ACC, OUT>;
  private readonly store: OperatorStore;
  private readonly clock: Clock;
  private readonly page: number;
  private readonly pipeline: RecordPipeline<IN>;
  private readonly commit: ProgressCommit;
  private readonly firing: WindowFiring<IN, ACC, OUT>;

  constructor(definition: WindowedOperatorDefinition<IN, ACC, OUT>, deps: WindowOperatorDeps) {
    const page = deps.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(page) || page < 1 || page > 100_000) {
      throw new ConfigError(
        'pageSize',
        page,
        'must be an integer 1..100000 (windows per store query)',
      );
    }
    this.definition = definition;
    this.store = new OperatorStore(deps.store, definition.name);
    this.clock = deps.clock;
    this.page = page;
    this.pipeline = new RecordPipeline(definition);
    this.commit = new ProgressCommit(this.store, definition.time, deps.clock);
    this.firing = new WindowFiring(this.store, definition.aggregate, deps.clock, page);
  }

  /** Processes one batch of raw records of one shard, in position order. */
  processBatch(
    shardId: ShardId,
    records: readonly SourceRecord[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    return this.run(shardId, records, true, options);
  }

  /** Like {@link processBatch} for records whose events are already decoded (the decoder is skipped). */
  processDecodedBatch(
    shardId: ShardId,
    records: readonly DecodedRecord<unknown>[],
    options: BatchOptions = {},
  ): Promise<BatchOutcome<OUT>> {
    return this.run(shardId, records, false, options);
  }

  /**
   * Processing-time tick (the scheduled ticker): re-evaluates idleness,
   * advances the watermark, fires due windows and purges expired ones.
   */
  async tick(): Promise<TickOutcome<OUT>> {
    const now = this.clock.now();
    const progress = await this.store.readProgress();
    const store = this.store.at(progress.generation);
    const candidate = watermarkCandidate(progress.shards, now, this.definition.time);
    const w = await this.commit.at(store).advance(progress.watermark, candidate);
    return { results: await this.firing.at(store).run(onTick(w)), watermark: w };
  }

  /**
   * Results fired in state but not yet acknowledged as emitted (the outbox),
   * at most `limit`. A runtime re-drives them to its sinks (idempotent by
   * version) and then calls {@link acknowledge}.
   */
  async pendingResults(limit = this.page): Promise<WindowResult<JsonValue>[]> {
    const progress = await this.store.readProgress();
    return this.firing.at(this.store.at(progress.generation)).pendingResults(limit);
  }

  /**
   * Acknowledges that results reached the sinks: clears their outbox entries
   * unless a newer firing replaced them. Returns how many were cleared.
   */
  async acknowledge(
    results: readonly Pick<WindowResult<unknown>, 'key' | 'window' | 'generation' | 'version'>[],
  ): Promise<number> {
    if (results.length === 0) return 0;
    const progress = await this.store.readProgress();
    return this.firing.at(this.store.at(progress.generation)).acknowledge(results);
  }

  /** Marks a shard closed and fully consumed (it stops holding back the watermark), then ticks. */
  async closeShard(shardId: ShardId): Promise<TickOutcome<OUT>> {
    await this.commit.closeShard(shardId);
    return this.tick();
  }

  private async run(
    shardId: ShardId,
    records: readonly (SourceRecord | DecodedRecord<unknown>)[],
    raw: boolean,
    options: BatchOptions,
  ): Promise<BatchOutcome<OUT>> {
    const def = this.definition;
    const now = this.clock.now();
    const progress = await this.store.readProgress();
    // Every call of the attempt is fenced by the generation it read (a restore raises it).
    const store = this.store.at(progress.generation);
    const range = options.redrive;
    const source = range === undefined ? shardId : shardIdOf(range.source);
    const shard =
      range === undefined
        ? progress.shards.find((p) => p.shardId === shardId)
        : await this.redriveProgress(store, progress, source, now);
    const sessions = def.assigner.kind === 'session';
    // A raw batch's decoded events are not kept: they die young instead of
    // surviving (and being copied by) the garbage collections of the batch.
    // Sessions plan from every event of a key, so they keep them.
    const context = { operator: def.name, lateOutput: def.lateDataTag, now };
    const batch = new Batch<IN>(shardId, records, raw, !raw || sessions, context);
    const guard = new BatchGuard(shardId, records, shard?.committed ?? null, range, shard?.failing);
    // Sessions judge every attempt of a range against exactly the view its first attempt recorded.
    const mode = sessions ? 'exact' : 'floor';
    const view =
      range === undefined
        ? new LatenessView(progress, shardId, shard, now, def.time, guard, batch.n, mode)
        : // A redriven range: no other shard and no shard watermark of its own count, only the published one.
          new LatenessView(
            { watermark: progress.watermark, shards: [] },
            source,
            shard,
            now,
            { ...def.time, maxOutOfOrderness: Infinity },
            guard,
            batch.n,
            mode,
          );
    const windows = this.windowsOf(batch, guard, store);
    windows.addAll(new RecordCursor(batch, guard, this.pipeline, view));

    await windows.reclaimLate();
    const judged = await view.record(store, guard, batch.n, batch.late.length > 0, now);
    const stateWrites = await windows.write();
    if (options.sideOutputs !== undefined && (batch.late.length > 0 || batch.dead.length > 0)) {
      await options.sideOutputs(batch.late, batch.dead);
    }
    const n = batch.n;
    const committed = await this.commit.at(store).commitBatch({
      shardId: source,
      progress,
      shard,
      lastOffset: n > 0 ? guard.encAt(n - 1) : null,
      shardWatermark: view.shardWatermark(),
      judged,
      shardEnded: (options.shardEnded ?? false) || range !== undefined,
      // A live batch's records above the committed position are now applied: no longer failing.
      settles:
        range === undefined && guard.firstLive < n
          ? {
              start: (records[guard.firstLive] as SourceRecord).position.sequenceNumber,
              end: (records[n - 1] as SourceRecord).position.sequenceNumber,
            }
          : undefined,
      now,
    });
    const decision = onBatchEnd({
      ...committed,
      retry: guard.firstLive > 0,
      lowestWrittenEnd: windows.lowestEnd(),
    });
    const results = await this.firing.at(store).run(decision);
    return {
      results,
      late: batch.late,
      deadLetters: batch.dead,
      counts: batch.counts(),
      watermark: committed.watermark,
      stateWrites,
    };
  }

  /**
   * A redriven range's progress record, written closed before its first
   * state write (so that it never counts as an active shard), or the one a
   * previous run of the same redrive left.
   */
  private async redriveProgress(
    store: OperatorStore,
    progress: OperatorProgress,
    source: ShardId,
    now: number,
  ): Promise<ShardProgress> {
    const stored = progress.shards.find((p) => p.shardId === source);
    if (stored?.closed) return stored;
    const mine: ShardProgress = {
      shardId: source,
      committed: stored?.committed ?? null,
      watermark: null,
      lastActivity: now,
      closed: true,
    };
    await store.writeShardProgress(mine);
    return mine;
  }

  /** This batch's windows, of the definition's kind. */
  private windowsOf(batch: Batch<IN>, guard: BatchGuard, store: OperatorStore): BatchWindows<IN> {
    const def = this.definition;
    const ctx: WindowsContext<IN, ACC> = {
      batch,
      guard,
      store,
      pipeline: this.pipeline,
      aggregate: def.aggregate,
      allowedLateness: def.allowedLateness,
    };
    const assigner = def.assigner;
    switch (assigner.kind) {
      case 'tumbling':
        return new TumblingBatchWindows(ctx, assigner);
      case 'sliding':
        return new SlidingBatchWindows(ctx, assigner);
      case 'session':
        return new SessionBatchWindows(ctx, assigner);
    }
  }
}
