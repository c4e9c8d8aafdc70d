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
import { ConfigError, WeirError, describeError } from '../errors.ts';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { decodeOffset, type ShardId } from '../model/position.ts';
import type { OperatorProgress } from '../model/progress.ts';
import { emittedResult, lateRecordsPerWindow } from '../model/records.ts';
import type { BatchCounts, DeadLetter, LateRecord, WindowResult } from '../model/records.ts';
import type { Clock } from '../ports/clock.ts';
import type { DeadLetterOutput } from '../ports/dead-letter-output.ts';
import type { ShardDirectory, ShardInfo } from '../ports/shard-directory.ts';
import type { Sink } from '../ports/sink.ts';
import type { StateStore } from '../ports/state-store.ts';
import { shardBatchesFromEvent, type ShardBatch } from './lambda/event-records.ts';
import { AccessDeniedError, isAuthorizationError, type RefusedCall } from './authorization.ts';
import { deadLettersByReason, type RuntimeTelemetry } from './telemetry/runtime-telemetry.ts';

/** A structured log line sink (JSON to stdout in Lambda). */
export type RuntimeLog = (entry: Readonly<Record<string, unknown>>) => void;

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

/** The stream's shards next to the operator's progress, as one tick step reads them. */
interface ShardView {
  readonly dir: ShardDirectory;
  readonly shards: readonly ShardInfo[];
  readonly progress: OperatorProgress;
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

/** Best-effort steps (shard registration, directory checks) that failed; `refused` for lack of permission. */
interface StepFailures {
  readonly refused: RefusedCall[];
  failed: number;
}

const noFailures = (): StepFailures => ({ refused: [], failed: 0 });

/** Runs one operator definition against its ports. Stateless between calls. */
export class OperatorRuntime<IN, ACC, OUT> {
  readonly operator: WindowOperator<IN, ACC, OUT>;
  private readonly name: string;
  private readonly log: RuntimeLog;
  /** Open shards registered once by this instance (then by every tick). */
  private shardsRegistered = false;

  constructor(private readonly options: OperatorRuntimeOptions<IN, ACC, OUT>) {
    this.name = options.definition.name;
    this.operator = createWindowOperator(options.definition, {
      store: options.store,
      clock: options.clock,
    });
    this.log = options.log ?? ((e) => console.log(JSON.stringify(e)));
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
        const registration = this.shardsRegistered ? noFailures() : await this.tryRegisterShards();
        reports.push(await this.handleShardBatch(batch, registration));
      } catch (err) {
        this.options.telemetry?.batchFailed(batch.shardId, err);
        const resumeAt = await this.lowestUnapplied(batch);
        this.log({
          level: 'ERROR',
          msg: 'batch failed',
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

  private async handleShardBatch(
    batch: ShardBatch,
    registration: StepFailures,
  ): Promise<BatchReport> {
    // Broken aggregates never reach the core: deliver them first (deterministic keys make a retry harmless).
    if (batch.deadLetters.length > 0) await this.options.deadLetter.send(batch.deadLetters);
    const outcome = await this.operator.processBatch(batch.shardId, batch.records, {
      sideOutputs: async (late, dead) => {
        await Promise.all([this.sendLate(late), this.sendDead(dead)]);
      },
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
      msg: 'batch',
      operator: this.name,
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
    const view = await this.shardView();
    if (view !== undefined) await this.register(view);
    const failures = noFailures();
    const closedShards = view === undefined ? [] : await this.closeConsumedShards(view, failures);
    await this.refreshBackloggedShards(failures);
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
   * (committed and watermark unknown, last activity now), so that it holds
   * the operator watermark back like any active shard until it delivers a
   * batch or goes idle: what a Flink source split does before its first
   * record. Without a shard directory a shard counts from its first batch.
   */
  async registerShards(): Promise<ShardId[]> {
    const view = await this.shardView();
    return view === undefined ? [] : this.register(view);
  }

  /** The stream's shards and the operator's progress, read together; `undefined` without a shard directory. */
  private async shardView(): Promise<ShardView | undefined> {
    const dir = this.options.shards;
    if (!dir) return undefined;
    const [shards, progress] = await Promise.all([
      dir.listShards(),
      this.options.store.readProgress(this.name),
    ]);
    return { dir, shards, progress };
  }

  private async register({ shards, progress }: ShardView): Promise<ShardId[]> {
    const known = new Set(progress.shards.map((p) => p.shardId));
    const now = this.options.clock.now();
    const registered: ShardId[] = [];
    for (const s of shards) {
      if (s.closed || known.has(s.shardId)) continue;
      // Conditional: never moves progress a batch wrote in the meantime backwards.
      if (
        await this.options.store.writeShardProgress(this.name, {
          shardId: s.shardId,
          committed: null,
          watermark: null,
          lastActivity: now,
          closed: false,
        })
      )
        registered.push(s.shardId);
    }
    this.shardsRegistered = true;
    if (registered.length > 0)
      this.log({
        level: 'INFO',
        msg: 'shards registered',
        operator: this.name,
        shards: registered,
      });
    return registered;
  }

  /**
   * Registration before a batch must not stop the stream: if the shard
   * directory fails (throttled, or a deployment without `kinesis:ListShards`),
   * the batch goes on with the shards already known, and the next batch (and
   * every tick) tries again. A passing fault is a warning; a refused call is a
   * missing grant: logged at ERROR and returned, to be counted in the report.
   */
  private async tryRegisterShards(): Promise<StepFailures> {
    try {
      await this.registerShards();
      return noFailures();
    } catch (err) {
      return { refused: this.stepFailed('shard registration', undefined, err), failed: 1 };
    }
  }

  /** Logs a failed best-effort step: ERROR (and returned) when the call was refused, WARN otherwise. */
  private stepFailed(step: string, shardId: string | undefined, err: unknown): RefusedCall[] {
    const denied = isAuthorizationError(err);
    this.log({
      level: denied ? 'ERROR' : 'WARN',
      msg: `${step} failed${denied ? ': access denied' : ''}`,
      operator: this.name,
      ...(shardId !== undefined ? { shardId } : {}),
      error: describeError(err),
    });
    return denied
      ? [{ step, ...(shardId !== undefined ? { shardId } : {}), error: describeError(err) }]
      : [];
  }

  /**
   * Idleness means "no records", not "no batch lately": a shard whose last
   * batch is older than half the idle timeout but which still has records
   * after its committed position (Lambda retrying a failing batch, or slow to
   * start after a crash) gets its last activity refreshed, so it keeps
   * holding the watermark back and its records are not judged late.
   */
  private async refreshBackloggedShards(failures: StepFailures): Promise<void> {
    const dir = this.options.shards;
    const idle = this.options.definition.time.idleTimeout;
    if (!dir || idle === undefined) return;
    const now = this.options.clock.now();
    const progress = await this.options.store.readProgress(this.name);
    for (const p of progress.shards) {
      if (p.closed || now - p.lastActivity < idle / 2) continue;
      const committed = p.committed ? decodeOffset(p.committed).sequenceNumber : null;
      let backlogged: boolean;
      try {
        backlogged = await dir.hasRecordsAfter(p.shardId, committed);
      } catch (err) {
        // One shard the directory cannot answer for (trimmed position, throttling) must not stop the tick.
        failures.refused.push(...this.stepFailed('backlog check', p.shardId, err));
        failures.failed += 1;
        continue;
      }
      if (backlogged)
        await this.options.store.writeShardProgress(this.name, { ...p, lastActivity: now });
    }
  }

  private async closeConsumedShards(
    { dir, shards, progress }: ShardView,
    failures: StepFailures,
  ): Promise<ShardId[]> {
    const closed: ShardId[] = [];
    for (const s of shards) {
      if (!s.closed) continue;
      const p = progress.shards.find((x) => x.shardId === s.shardId);
      if (p?.closed) continue;
      const committed = p?.committed ? decodeOffset(p.committed).sequenceNumber : null;
      let consumed: boolean;
      try {
        consumed = await dir.isConsumed(s.shardId, committed);
      } catch (err) {
        failures.refused.push(...this.stepFailed('end-of-shard check', s.shardId, err));
        failures.failed += 1;
        continue;
      }
      if (consumed) {
        await this.operator.closeShard(s.shardId);
        closed.push(s.shardId);
      }
    }
    return closed;
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

  /** The first record of the batch above the shard's committed position, or undefined if all are applied. */
  private async lowestUnapplied(batch: ShardBatch): Promise<string | undefined> {
    const first = batch.sequenceNumbers[0];
    try {
      const progress = await this.options.store.readProgress(this.name);
      const committed = progress.shards.find((s) => s.shardId === batch.shardId)?.committed;
      if (!committed) return first;
      const c = decodeOffset(committed);
      const cSeq = BigInt(c.sequenceNumber);
      // A sequence number equal to the committed one may still hold unapplied sub-records: resume there.
      const lowest = batch.sequenceNumbers.find(
        (s) =>
          BigInt(s) > cSeq || (BigInt(s) === cSeq && hasLaterSub(batch, s, c.subSequenceNumber)),
      );
      return lowest;
    } catch {
      return first; // cannot tell: retry the whole batch, the guards make it idempotent
    }
  }
}

function hasLaterSub(batch: ShardBatch, seq: string, committedSub: number): boolean {
  return batch.records.some(
    (r) => r.position.sequenceNumber === seq && r.position.subSequenceNumber > committedSub,
  );
}
