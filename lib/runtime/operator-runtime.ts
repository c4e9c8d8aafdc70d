/**
 * The operator runtime: what a Lambda handler does with one Kinesis batch,
 * and what the scheduled ticker does, around the engine core.
 *
 * One batch (one shard, delivered at least once):
 *
 *   event ─► source records (base64, KPL de-aggregation; broken aggregate ─► dead letter)
 *         ─► core batch algorithm (guards skip what state already holds)
 *              └─ late records, dead letters ─► side outputs   (BEFORE progress commits)
 *         ─► fired results ─► result sink (idempotent by version) ─► outbox acknowledged
 *
 *   failure before progress committed  ─► batchItemFailures = lowest record above the
 *                                          committed position; the retry is idempotent
 *   failure after (sink down)          ─► results stay in the outbox; the ticker re-drives
 *
 * The ticker: close consumed parent shards, advance idle watermarks, fire due
 * windows, re-drive the outbox, purge expired windows.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createWindowOperator, type WindowOperator } from '../core/operator.ts';
import { ConfigError, FencedError, WeirError, describeError } from '../errors.ts';
import type { RedriveRange } from '../core/guard.ts';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { decodeOffset, type ShardId } from '../model/position.ts';
import { emittedResult, lateRecordsPerWindow } from '../model/records.ts';
import type { BatchCounts, DeadLetter, LateRecord, WindowResult } from '../model/records.ts';
import type { WindowRetraction } from '../model/retraction.ts';
import type { Clock } from '../ports/clock.ts';
import type { DeadLetterOutput } from '../ports/dead-letter-output.ts';
import type { ShardDirectory } from '../ports/shard-directory.ts';
import type { Sink } from '../ports/sink.ts';
import type { StateStore, StoredProgress } from '../ports/state-store.ts';
import { shardBatchesFromEvent, type ShardBatch } from './lambda/event-records.ts';
import { AccessDeniedError } from './authorization.ts';
import { recordFailingRange } from './failing-range.ts';
import { ShardSteps, noFailures, type RuntimeLog, type StepFailures } from './shard-steps.ts';
export type { RuntimeLog } from './shard-steps.ts';
import { deadLettersByReason, type RuntimeTelemetry } from './telemetry/runtime-telemetry.ts';

/** Everything an operator runtime is wired to. */
export interface OperatorRuntimeOptions<IN, ACC, OUT> {
  readonly definition: WindowedOperatorDefinition<IN, ACC, OUT>;
  readonly store: StateStore;
  readonly clock: Clock;
  /** Where fired window results go. */
  readonly results: Sink<WindowResult>;
  /** Where late records go, by side-output tag; a tag without a sink fails at construction. */
  readonly lateOutputs: Readonly<Record<string, Sink<LateRecord>>>;
  readonly deadLetter: DeadLetterOutput;
  /**
   * Shards of the source stream: registration of open shards (cold start and
   * ticks) and the ticker's resharding step. @default none (a shard counts
   * from its first batch; closed shards go inactive by idleness only)
   */
  readonly shards?: ShardDirectory;
  /** @default JSON lines to console.log */
  readonly log?: RuntimeLog;
  /** Receives every batch and tick report (metrics). @default none */
  readonly telemetry?: RuntimeTelemetry;
}

/** Totals of one handled event, logged and returned for tests. */
export interface BatchReport {
  readonly shardId: ShardId;
  readonly counts: BatchCounts;
  readonly kplDeadLettered: number;
  readonly results: number;
  readonly watermark: number;
  /** AWS calls refused for lack of permission before this batch (shard registration); logged at ERROR. */
  readonly accessDenied: number;
  /** Shard registrations before this batch that failed (refused or not); the batch went on. */
  readonly shardRegistrationFailures: number;
  /** Dead letters of this batch (KPL ones included) by reason (`DeadLetterReason`, `invalid-base64`, `kpl-aggregate-broken`). */
  readonly deadLettersByReason: Readonly<Record<string, number>>;
}

/** What one tick did. */
export interface TickReport {
  readonly watermark: number;
  readonly closedShards: readonly ShardId[];
  readonly fired: number;
  readonly redriven: number;
  /** AWS calls refused for lack of permission (end-of-shard and backlog checks); the tick then fails. */
  readonly accessDenied: number;
  /** End-of-shard and backlog checks that failed (refused or not); the tick went on. */
  readonly shardDirectoryFailures: number;
}

/** Runs one operator definition against its ports. Stateless between calls. */
export class OperatorRuntime<IN, ACC, OUT> {
  readonly operator: WindowOperator<IN, ACC, OUT>;
  private readonly name: string;
  private readonly log: RuntimeLog;
  private readonly shardSteps: ShardSteps;

  constructor(private readonly options: OperatorRuntimeOptions<IN, ACC, OUT>) {
    this.name = options.definition.name;
    this.operator = createWindowOperator(options.definition, {
      store: options.store,
      clock: options.clock,
    });
    this.log = options.log ?? ((e) => console.log(JSON.stringify(e)));
    const operator = this.operator;
    this.shardSteps = new ShardSteps({
      name: this.name,
      store: options.store,
      clock: options.clock,
      shards: options.shards,
      idleTimeout: options.definition.time.idleTimeout,
      log: this.log,
      closeShard: (shardId) => operator.closeShard(shardId),
    });
    const tag = options.definition.lateDataTag;
    if (!options.lateOutputs[tag]) {
      throw new ConfigError(
        'lateOutputs',
        Object.keys(options.lateOutputs),
        `must have a sink for side output "${tag}", where operator ${this.name} routes late data ` +
          `(pass lateOutputs: { '${tag}': sink })`,
      );
    }
  }

  /**
   * Handles one Lambda Kinesis event. Never throws for a processing failure:
   * it returns `batchItemFailures` naming the lowest record that is not
   * durably applied, so Lambda retries from there (ReportBatchItemFailures).
   */
  async handle(
    event: KinesisStreamEvent,
  ): Promise<KinesisStreamBatchResponse & { reports: BatchReport[] }> {
    const batches = shardBatchesFromEvent(event.Records, this.name, this.options.clock.now());
    const reports: BatchReport[] = [];
    for (const batch of batches) {
      try {
        // Once per cold start: every open shard holds the watermark back before this batch can move it.
        const registration = this.shardSteps.registered
          ? noFailures()
          : await this.shardSteps.tryRegisterShards();
        reports.push(await this.handleShardBatch(batch, registration));
      } catch (err) {
        this.options.telemetry?.batchFailed(batch.shardId, err);
        // A batch fenced by a restore is retried like any failed batch: the retry
        // reads the new generation and the restored positions judge its records.
        const fenced = err instanceof FencedError;
        const resumeAt = await this.lowestUnapplied(batch, !fenced);
        this.log({
          level: fenced ? 'WARN' : 'ERROR',
          msg: fenced ? 'batch fenced by a restore' : 'batch failed',
          operator: this.name,
          shardId: batch.shardId,
          resumeAt,
          error: describeError(err),
        });
        if (resumeAt === undefined) continue; // everything was applied before the failure
        return { batchItemFailures: [{ itemIdentifier: resumeAt }], reports };
      }
    }
    return { batchItemFailures: [], reports };
  }

  /**
   * Applies records of a range the event source mapping gave up on, read
   * back from the stream (`weir redrive`, lib/runtime/redrive/), through the
   * same path as {@link handle}: KPL de-aggregation and dead letters, the
   * batch algorithm, side outputs before progress, firing. The range is its
   * own source (`redrive`, core/guard.ts), so records a live batch skipped
   * are applied below the shard's high-water mark, exactly once. Throws on a
   * failure: a rerun resumes from the range's own progress.
   */
  async handleRedrive(event: KinesisStreamEvent, redrive: RedriveRange): Promise<BatchReport[]> {
    const batches = shardBatchesFromEvent(event.Records, this.name, this.options.clock.now());
    const reports: BatchReport[] = [];
    for (const batch of batches)
      reports.push(await this.handleShardBatch(batch, noFailures(), redrive));
    return reports;
  }

  private async handleShardBatch(
    batch: ShardBatch,
    registration: StepFailures,
    redrive?: RedriveRange,
  ): Promise<BatchReport> {
    // Broken aggregates never reach the core: deliver them first (deterministic keys make a retry harmless).
    if (batch.deadLetters.length > 0) await this.options.deadLetter.send(batch.deadLetters);
    const outcome = await this.operator.processBatch(batch.shardId, batch.records, {
      sideOutputs: async (late, dead) => {
        await Promise.all([this.sendLate(late), this.sendDead(dead)]);
      },
      ...(redrive === undefined ? {} : { redrive }),
    });
    await this.emit(outcome.results);
    const report: BatchReport = {
      shardId: batch.shardId,
      counts: outcome.counts,
      kplDeadLettered: batch.deadLetters.length,
      results: outcome.results.length,
      watermark: outcome.watermark,
      accessDenied: registration.refused.length,
      shardRegistrationFailures: registration.failed,
      deadLettersByReason: deadLettersByReason([...batch.deadLetters, ...outcome.deadLetters]),
    };
    this.log({
      level: 'INFO',
      msg: redrive === undefined ? 'batch' : 'redrive batch',
      operator: this.name,
      ...(redrive === undefined ? {} : { source: redrive.source }),
      ...report,
      stateWrites: outcome.stateWrites,
    });
    this.options.telemetry?.batch(report);
    return report;
  }

  /**
   * The scheduled tick: marks closed, consumed shards inactive, advances the
   * watermark by processing time (idleness), fires due windows and emits them.
   * Throws {@link AccessDeniedError} after doing all of that when a shard
   * check was refused for lack of permission, so the invocation fails.
   */
  async tick(): Promise<TickReport> {
    // One ListShards and one progress read serve registration and the end-of-shard check.
    const steps = this.shardSteps;
    const view = await steps.view();
    if (view !== undefined) await steps.register(view);
    const failures = noFailures();
    const closedShards = view === undefined ? [] : await steps.closeConsumedShards(view, failures);
    await steps.refreshBackloggedShards(failures);
    const { refused } = failures;
    const outcome = await this.operator.tick();
    await this.emit(outcome.results);
    const redriven = await this.redriveOutbox();
    const report: TickReport = {
      watermark: outcome.watermark,
      closedShards,
      fired: outcome.results.length,
      redriven,
      accessDenied: refused.length,
      shardDirectoryFailures: failures.failed,
    };
    this.log({ level: 'INFO', msg: 'tick', operator: this.name, ...report });
    this.options.telemetry?.tick(report);
    if (refused.length > 0) throw new AccessDeniedError(this.name, refused);
    return report;
  }

  /**
   * Registers every open shard of the stream that has no progress item yet
   * (see {@link ShardSteps.registerShards}).
   */
  registerShards(): Promise<ShardId[]> {
    return this.shardSteps.registerShards();
  }

  /**
   * Re-drives results that were fired in state but never acknowledged as
   * emitted (a crash or a sink failure between the two). Idempotent: the
   * result sink never regresses and dedupes by version. Returns how many
   * results it emitted.
   */
  async redriveOutbox(maxRounds = 100): Promise<number> {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const pending = await this.operator.pendingResults(500);
      if (pending.length === 0) break;
      await this.emit(pending);
      total += pending.length;
    }
    return total;
  }

  /**
   * Writes a restore's retractions (windows whose earlier results the
   * replay did not fire again; lib/runtime/restore/retract.ts) to the
   * result sink. Throws the sink's `SinkError`; writing them again is safe.
   */
  async retract(retractions: readonly WindowRetraction[]): Promise<void> {
    if (retractions.length > 0) await this.options.results.write(retractions);
  }

  /** Writes results to the sink (as JSON, stamped with the emission time), then clears their outbox entries. */
  private async emit(results: readonly WindowResult<unknown>[]): Promise<void> {
    if (results.length === 0) return;
    const now = this.options.clock.now();
    await this.options.results.write(results.map((r) => emittedResult(r, now)));
    await this.operator.acknowledge(results);
  }

  /** Late records to the sink of their side output, one item per (record, window). */
  private async sendLate(late: readonly LateRecord[]): Promise<void> {
    if (late.length === 0) return;
    const byTag = new Map<string, LateRecord[]>();
    for (const l of lateRecordsPerWindow(late)) {
      const list = byTag.get(l.output) ?? [];
      list.push(l);
      byTag.set(l.output, list);
    }
    for (const [tag, items] of byTag) {
      const sink = this.options.lateOutputs[tag];
      if (!sink)
        throw new WeirError(`operator ${this.name}: no sink for late-data output "${tag}"`);
      await sink.write(items);
    }
  }

  private async sendDead(deadLetters: readonly DeadLetter[]): Promise<void> {
    if (deadLetters.length > 0) await this.options.deadLetter.send(deadLetters);
  }

  /**
   * The first record of the batch above the shard's committed position, or
   * undefined if all are applied. With `record`, the unapplied records are
   * recorded as a failing range in the shard's progress (failing-range.ts).
   */
  private async lowestUnapplied(batch: ShardBatch, record: boolean): Promise<string | undefined> {
    const first = batch.sequenceNumbers[0];
    const last = batch.sequenceNumbers[batch.sequenceNumbers.length - 1];
    let progress: StoredProgress;
    try {
      progress = await this.options.store.readProgress(this.name);
    } catch {
      return first; // cannot tell: retry the whole batch, the guards make it idempotent
    }
    const committed = progress.shards.find((s) => s.shardId === batch.shardId)?.committed;
    let lowest = first;
    if (committed) {
      const c = decodeOffset(committed);
      const cSeq = BigInt(c.sequenceNumber);
      // A sequence number equal to the committed one may still hold unapplied sub-records: resume there.
      lowest = batch.sequenceNumbers.find(
        (s) =>
          BigInt(s) > cSeq || (BigInt(s) === cSeq && hasLaterSub(batch, s, c.subSequenceNumber)),
      );
    }
    if (record && lowest !== undefined && last !== undefined) {
      const range = { start: lowest, end: last };
      await recordFailingRange(
        this.options.store,
        this.name,
        batch.shardId,
        range,
        progress,
        this.options.clock.now(),
      ).catch((err: unknown) => {
        this.log({
          level: 'WARN',
          msg: 'failing range not recorded',
          operator: this.name,
          shardId: batch.shardId,
          range,
          error: describeError(err),
        });
      });
    }
    return lowest;
  }
}

function hasLaterSub(batch: ShardBatch, seq: string, committedSub: number): boolean {
  return batch.records.some(
    (r) => r.position.sequenceNumber === seq && r.position.subSequenceNumber > committedSub,
  );
}
