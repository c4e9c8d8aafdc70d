/**
 * The replay half of the e2e section (bench/e2e.ts): a checkpoint of the
 * operator's empty state taken before the live drain, and after it a
 * restore of that checkpoint with a replay of the whole stream, built as
 * `weir restore --no-pause` builds it (lib/cli/restore.ts: the state store and
 * S3 checkpoint store of `openOperatorCheckpoints`, an in-process
 * OperatorRuntime from `createLambdaHandlers`, `kinesisReplaySource`,
 * `restoreOperator`; nothing to pause, the local mapping is stopped by then).
 *
 * The replay's results must equal the live run's: both are ticked until the
 * watermark has passed every window (idle shards advance it after the
 * pipeline's idle timeout), then every window result of the live run must be
 * re-fired under the restore's generation with the same value, and no other
 * window may fire. Not a module of figures on its own: the e2e section reports them.
 */
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import type { AwsClients } from '../lib/adapters/aws-clients.ts';
import { endpointsFromEnv } from '../lib/adapters/aws-clients.ts';
import { CheckpointTaker } from '../lib/core/checkpoint/take-checkpoint.ts';
import type { WindowResult } from '../lib/model/records.ts';
import { systemClock } from '../lib/ports/clock.ts';
import { openOperatorCheckpoints } from '../lib/runtime/checkpoint/operator-checkpoints.ts';
import { credentialsFromEnv, lambdaConfigFromEnv } from '../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../lib/runtime/lambda/handlers.ts';
import { readWindowResults } from '../lib/runtime/local/read-outputs.ts';
import { tickUntil } from '../lib/runtime/local/ticker-loop.ts';
import {
  kinesisReplaySource,
  restoreOperator,
  type RestoreSummary,
} from '../lib/runtime/restore/index.ts';
import { WeirEnv } from '../lib/runtime/weir-env.ts';
import { clickCounter } from '../functions/click-counter/pipeline.ts';
import { DynamoDbRecordingProxy } from '../lib/testing/index.ts';
import type { ReplaySource, ReplayTarget } from '../lib/runtime/restore/index.ts';
import type { TickReport } from '../lib/runtime/operator-runtime.ts';
import { cpuDelta, cpuSample } from './cpu.ts';

/** What the replay measured. */
export interface ReplayFigures {
  readonly summary: RestoreSummary;
  /** Window results of the live run (settled: the watermark past every window). */
  readonly liveResults: number;
}

/** Options of the replay (the restore's own options; defaults as `weir restore`'s). */
export interface ReplayBenchOptions {
  /** Shards replayed at once. @default 4 */
  readonly concurrency?: number;
  /** Kinesis records per runtime call. @default 10000 */
  readonly chunkRecords?: number;
  /**
   * Print where the replay's time goes on stderr: every GetRecords page and
   * runtime call with its duration, the DynamoDB writes and failed
   * conditions (through a counting proxy), CPU seconds per process. @default false
   */
  readonly profile?: boolean;
}

/** A checkpoint taken for the replay, and the replay of it. */
export interface ReplayBench {
  /** Restores the checkpoint, replays the whole stream, checks the results against the live ones. */
  replay(o?: ReplayBenchOptions): Promise<ReplayFigures>;
  /** Destroys the clients (call once, after the replays). */
  close(): void;
}

/** The operator's stack as the e2e section provisioned it. */
export interface ReplayStack {
  readonly clients: AwsClients;
  /** The embedded AWS's variables and the batch function's environment, merged. */
  readonly env: Readonly<Record<string, string>>;
  readonly streamName: string;
  /**
   * An event time at or after the end of every window of the workload. Both
   * runs are ticked until the operator watermark reaches it (idle shards
   * advance it after the pipeline's idle timeout), so that every window has
   * fired on both sides whatever the processing-time pace of each run.
   */
  readonly settledWatermark: number;
}

/**
 * Takes a checkpoint of the operator's state now (before any record: every
 * shard's position is null, so the replay reads every shard from
 * TRIM_HORIZON) and returns the function that restores it and replays.
 */
export async function checkpointForReplay(s: ReplayStack): Promise<ReplayBench> {
  const env = s.env;
  const credentials = credentialsFromEnv(env);
  const streamArn = (
    await s.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: s.streamName }))
  ).StreamDescriptionSummary?.StreamARN;
  const bucket = env[WeirEnv.CHECKPOINT_BUCKET] ?? env[WeirEnv.OUTPUT_BUCKET];
  const stateTable = env[WeirEnv.STATE_TABLE];
  if (streamArn === undefined || bucket === undefined || stateTable === undefined)
    throw new Error('the bench stack lacks a stream ARN, a checkpoint bucket or a state table');
  const op = openOperatorCheckpoints({
    operator: clickCounter.name,
    region: env['AWS_REGION'] ?? 'us-east-1',
    endpoints: endpointsFromEnv(env),
    ...(credentials ? { credentials } : {}),
    checkpointBucket: bucket,
    checkpointPrefix: env[WeirEnv.CHECKPOINT_PREFIX] ?? 'weir',
    stateTable,
    stream: streamArn,
  });
  const state = op.state;
  if (state === undefined) throw new Error('no state store');
  const close = (): void => op.clients.destroy();
  const run = await new CheckpointTaker({
    state,
    checkpoints: op.checkpoints,
    clock: systemClock,
    operator: clickCounter.name,
    streamArn,
  }).take();
  if (run.status !== 'complete') {
    close();
    throw new Error('the checkpoint did not complete');
  }
  const checkpoint = run.manifest.id;

  // The live run's results, read before the first replay: every replay is compared with them.
  let liveResults: Map<string, WindowResult> | undefined;
  const replay = async (o: ReplayBenchOptions = {}): Promise<ReplayFigures> => {
    const proxy = o.profile
      ? await DynamoDbRecordingProxy.start({ target: endpointsFromEnv(env).dynamodb ?? '' })
      : undefined;
    const handlers = (extra: Record<string, string> = {}) =>
      createLambdaHandlers(
        clickCounter,
        { ...lambdaConfigFromEnv({ ...env, ...extra }), operator: clickCounter.name },
        { log: () => undefined, metricsOutput: () => undefined },
      );
    const resultsTable = lambdaConfigFromEnv(env).resultsTable;
    const live = handlers();
    const replayed = handlers(proxy ? { AWS_ENDPOINT_URL_DYNAMODB: proxy.url } : {});
    const profile = o.profile ? new ReplayProfile() : undefined;
    try {
      // The restore ends with a tick: the live run gets one too, so both fire what is due.
      if (liveResults === undefined) {
        await settle(() => live.runtime.tick(), s.settledWatermark, 'live run');
        liveResults = byWindow(await readWindowResults(s.clients.dynamodb, resultsTable));
      }
      const before = liveResults;
      const summary = await restoreOperator({
        operator: clickCounter.name,
        state,
        checkpoints: op.checkpoints,
        checkpoint,
        mapping: undefined, // the local mapping is stopped
        resumeHint: 'nothing was paused',
        rerun: (id) => `restore ${id}`,
        source: (arn) => {
          const source = kinesisReplaySource({ client: op.clients.kinesis, streamArn: arn });
          return profile ? profile.source(source) : source;
        },
        target: profile ? profile.target(replayed.runtime) : replayed.runtime,
        ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
        ...(o.chunkRecords === undefined ? {} : { chunkRecords: o.chunkRecords }),
      });
      if (profile && proxy) profile.end(proxy.writes(), summary.replay.records);
      await settle(() => replayed.runtime.tick(), s.settledWatermark, 'replay');
      const after = byWindow(await readWindowResults(s.clients.dynamodb, resultsTable));
      checkSameResults(before, after, summary.generation);
      return { summary, liveResults: before.size };
    } finally {
      live.clients.destroy();
      replayed.clients.destroy();
      await proxy?.close();
    }
  };
  return { replay, close };
}

/** Ticks until the watermark reaches `watermark` and nothing more fires. */
async function settle(
  tick: () => Promise<TickReport>,
  watermark: number,
  what: string,
): Promise<void> {
  const last = await tickUntil(tick, (r) => r.watermark >= watermark && r.fired === 0, {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  if (last === undefined || last.watermark < watermark)
    throw new Error(`the ${what}'s watermark stayed at ${last?.watermark} below ${watermark}`);
}

const byWindow = (results: readonly WindowResult[]): Map<string, WindowResult> =>
  new Map(results.map((r) => [`${r.key}@${r.window.start}`, r]));

/** Throws unless `after` holds the windows of `before`, with their values, all fired under `generation`. */
function checkSameResults(
  before: ReadonlyMap<string, WindowResult>,
  after: ReadonlyMap<string, WindowResult>,
  generation: number,
): void {
  const problems: string[] = [];
  for (const [k, r] of after) {
    const live = before.get(k);
    if (live === undefined)
      problems.push(`${k}: fired by the replay only (${JSON.stringify(r.value)})`);
    else if (JSON.stringify(live.value) !== JSON.stringify(r.value))
      problems.push(`${k}: live ${JSON.stringify(live.value)}, replay ${JSON.stringify(r.value)}`);
    if ((r.generation ?? 0) !== generation)
      problems.push(`${k}: not re-fired by the replay (generation ${r.generation ?? 0})`);
  }
  for (const k of before.keys()) if (!after.has(k)) problems.push(`${k}: lost by the replay`);
  if (problems.length > 0)
    throw new Error(
      `the replay's results differ from the live run's in ${problems.length} windows: ${problems.slice(0, 5).join('; ')}`,
    );
}

/** The replay's time line on stderr (`profile`): pages read, runtime calls, writes, CPU. */
class ReplayProfile {
  readonly #t0 = performance.now();
  readonly #cpu = cpuSample();
  #readMs = 0;
  #handleMs = 0;

  #at(): string {
    return ((performance.now() - this.#t0) / 1000).toFixed(2);
  }

  source(inner: ReplaySource): ReplaySource {
    return {
      streamArn: inner.streamArn,
      shards: () => inner.shards(),
      checkRetained: (shard, seq) => inner.checkRetained(shard, seq),
      read: (shardId, start) => this.#pages(shardId, inner.read(shardId, start)),
    };
  }

  async *#pages<T extends readonly unknown[]>(shardId: string, pages: AsyncIterable<T>) {
    const it = pages[Symbol.asyncIterator]();
    for (;;) {
      const started = performance.now();
      const next = await it.next();
      const ms = performance.now() - started;
      this.#readMs += ms;
      if (next.done === true) return;
      console.error(
        `${this.#at()} read   ${shardId} ${next.value.length} records ${ms.toFixed(0)} ms`,
      );
      yield next.value;
    }
  }

  target<T extends ReplayTarget & { tick(): Promise<TickReport> }>(
    inner: T,
  ): ReplayTarget & { tick(): Promise<TickReport> } {
    return {
      handle: async (event) => {
        const started = performance.now();
        const out = await inner.handle(event);
        const ms = performance.now() - started;
        this.#handleMs += ms;
        const shard = event.Records[0]?.eventID.split(':')[0] ?? '';
        console.error(
          `${this.#at()} handle ${shard} ${event.Records.length} records ${ms.toFixed(0)} ms`,
        );
        return out;
      },
      tick: () => inner.tick(),
    };
  }

  end(writes: ReturnType<DynamoDbRecordingProxy['writes']>, records: number): void {
    const failed = writes.filter((w) => w.outcome === 'condition-failed').length;
    console.error(
      `replay profile: ${this.#at()} s; summed over shards: reading ${(this.#readMs / 1000).toFixed(1)} s, ` +
        `runtime calls ${(this.#handleMs / 1000).toFixed(1)} s; ${writes.length} DynamoDB writes ` +
        `(${(writes.length / records).toFixed(3)} per record), ${failed} failed conditions; ` +
        `CPU: ${cpuDelta(this.#cpu, cpuSample())}`,
    );
  }
}
