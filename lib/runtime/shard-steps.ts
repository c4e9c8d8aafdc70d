/**
 * The operator runtime's steps that ask the shard directory (the stream's
 * shards next to the operator's progress): registering open shards, closing
 * shards read to their end, and keeping shards with a backlog from going
 * idle. Each is best effort: a failed call is logged (ERROR and counted as
 * refused when it lacked permission) and the tick goes on.
 */
import { describeError } from '../errors.ts';
import { decodeOffset, type ShardId } from '../model/position.ts';
import type { Clock } from '../ports/clock.ts';
import type { ShardDirectory, ShardInfo } from '../ports/shard-directory.ts';
import type { StateStore, StoredProgress } from '../ports/state-store.ts';
import { isAuthorizationError, type RefusedCall } from './authorization.ts';

/** A structured log line sink (JSON to stdout in Lambda). */
export type RuntimeLog = (entry: Readonly<Record<string, unknown>>) => void;

/** Best-effort steps (shard registration, directory checks) that failed; `refused` for lack of permission. */
export interface StepFailures {
  readonly refused: RefusedCall[];
  failed: number;
}

/** No failure yet. */
export const noFailures = (): StepFailures => ({ refused: [], failed: 0 });

/** The stream's shards next to the operator's progress, as one tick step reads them. */
export interface ShardView {
  readonly dir: ShardDirectory;
  readonly shards: readonly ShardInfo[];
  readonly progress: StoredProgress;
}

/** What the shard steps need of the runtime. */
export interface ShardStepsOptions {
  readonly name: string;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly shards: ShardDirectory | undefined;
  /** The pipeline's idle timeout (no backlog check without one). */
  readonly idleTimeout: number | undefined;
  readonly log: RuntimeLog;
  /** Closes a shard in the operator (its progress and the watermark). */
  readonly closeShard: (shardId: ShardId) => Promise<unknown>;
}

/** The shard-directory steps of one runtime instance. */
export class ShardSteps {
  /** Open shards registered once by this instance (then by every tick). */
  registered = false;

  constructor(private readonly o: ShardStepsOptions) {}

  /**
   * Registers every open shard of the stream that has no progress item yet
   * (committed and watermark unknown, last activity now), so that it holds
   * the operator watermark back like any active shard until it delivers a
   * batch or goes idle: what a Flink source split does before its first
   * record. Without a shard directory a shard counts from its first batch.
   */
  async registerShards(): Promise<ShardId[]> {
    const view = await this.view();
    return view === undefined ? [] : this.register(view);
  }

  /** The stream's shards and the operator's progress, read together; `undefined` without a shard directory. */
  async view(): Promise<ShardView | undefined> {
    const dir = this.o.shards;
    if (!dir) return undefined;
    const [shards, progress] = await Promise.all([
      dir.listShards(),
      this.o.store.readProgress(this.o.name),
    ]);
    return { dir, shards, progress };
  }

  /** Registers the open shards of `view` that have no progress yet; returns them. */
  async register({ shards, progress }: ShardView): Promise<ShardId[]> {
    const known = new Set(progress.shards.map((p) => p.shardId));
    const now = this.o.clock.now();
    const registered: ShardId[] = [];
    for (const s of shards) {
      if (s.closed || known.has(s.shardId)) continue;
      // Conditional: never moves progress a batch wrote in the meantime backwards.
      if (
        await this.o.store.writeShardProgress(
          this.o.name,
          {
            shardId: s.shardId,
            committed: null,
            watermark: null,
            lastActivity: now,
            closed: false,
          },
          progress.generation,
        )
      )
        registered.push(s.shardId);
    }
    this.registered = true;
    if (registered.length > 0)
      this.o.log({
        level: 'INFO',
        msg: 'shards registered',
        operator: this.o.name,
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
  async tryRegisterShards(): Promise<StepFailures> {
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
    this.o.log({
      level: denied ? 'ERROR' : 'WARN',
      msg: `${step} failed${denied ? ': access denied' : ''}`,
      operator: this.o.name,
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
  async refreshBackloggedShards(failures: StepFailures): Promise<void> {
    const dir = this.o.shards;
    const idle = this.o.idleTimeout;
    if (!dir || idle === undefined) return;
    const now = this.o.clock.now();
    const progress = await this.o.store.readProgress(this.o.name);
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
        await this.o.store.writeShardProgress(
          this.o.name,
          { ...p, lastActivity: now },
          progress.generation,
        );
    }
  }

  /** Closes (in the operator) every closed shard of `view` the directory says is read to its end. */
  async closeConsumedShards(
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
        await this.o.closeShard(s.shardId);
        closed.push(s.shardId);
      }
    }
    return closed;
  }
}
