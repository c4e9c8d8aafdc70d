/**
 * The checkpoint function's entry point: a Lambda of its own, invoked by an
 * EventBridge schedule once a minute with reserved concurrency 1, that runs
 * one scheduled checkpointer call ({@link runScheduledCheckpoint}): continue
 * a pending checkpoint from its stored cursors, or take a new one when
 * `checkpointInterval` has passed, then apply retention. The taking stops
 * requesting scan pages ahead of the invocation's timeout and saves its
 * cursors in `in-progress.json`; the next invocation continues it.
 *
 * @example
 * // functions/click-counter/handler.ts
 * export const checkpointer = createLambdaCheckpointer(clickCounter, checkpointerConfigFromEnv(process.env)).checkpointer;
 */
import { createAwsClients, type AwsClients } from '../../adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../../adapters/dynamodb/dynamodb-state-store.ts';
import { S3CheckpointStore } from '../../adapters/s3/s3-checkpoint-store.ts';
import { CheckpointTaker } from '../../core/checkpoint/take-checkpoint.ts';
import type { WindowedOperatorDefinition } from '../../core/pipeline.ts';
import { SessionWindows } from '../../core/window.ts';
import { ConfigError } from '../../errors.ts';
import { checkpointIdTime } from '../../model/checkpoint-id.ts';
import { systemClock, type Clock } from '../../ports/clock.ts';
import type { CheckpointStore } from '../../ports/checkpoint-store.ts';
import {
  resolveCheckpointSchedule,
  type CheckpointSchedule,
} from '../checkpoint/checkpoint-settings.ts';
import {
  runScheduledCheckpoint,
  type ScheduledCheckpointReport,
} from '../checkpoint/scheduled-checkpoint.ts';
import type { RuntimeLog } from '../operator-runtime.ts';
import { EmfMetricsWriter } from '../telemetry/emf-writer.ts';
import { WeirEnv } from '../weir-env.ts';
import { lambdaConfigFromEnv, positiveIntFromEnv, type LambdaRuntimeConfig } from './config.ts';
import type { TickerContext } from './tick-loop.ts';

/** Everything the checkpoint function needs. */
export interface CheckpointerConfig extends LambdaRuntimeConfig {
  /** The checkpoint bucket (`WEIR_CHECKPOINT_BUCKET`). */
  readonly checkpointBucket: string;
  /** Key prefix (`WEIR_CHECKPOINT_PREFIX`). @default 'weir' */
  readonly checkpointPrefix: string;
  /** The source stream's ARN (`WEIR_STREAM_ARN`), recorded in every manifest. */
  readonly streamArn: string;
  /** Interval and retention (`WEIR_CHECKPOINT_INTERVAL_MS`, `WEIR_CHECKPOINT_RETAIN`, `WEIR_STREAM_RETENTION_HOURS`), validated. */
  readonly schedule: CheckpointSchedule;
}

/**
 * Reads {@link CheckpointerConfig} from an environment (the construct sets
 * every variable), with an error naming a missing or malformed one.
 */
export function checkpointerConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): CheckpointerConfig {
  const base = lambdaConfigFromEnv(env);
  const checkpointBucket = env[WeirEnv.CHECKPOINT_BUCKET];
  if (!checkpointBucket)
    throw new ConfigError(
      WeirEnv.CHECKPOINT_BUCKET,
      checkpointBucket,
      'must name the checkpoint bucket',
    );
  const streamArn = env[WeirEnv.STREAM_ARN];
  if (!streamArn)
    throw new ConfigError(WeirEnv.STREAM_ARN, streamArn, 'must be the source stream ARN');
  const intervalMs = positiveIntFromEnv(env, WeirEnv.CHECKPOINT_INTERVAL_MS);
  const retain = positiveIntFromEnv(env, WeirEnv.CHECKPOINT_RETAIN);
  const streamRetentionHours = positiveIntFromEnv(env, WeirEnv.STREAM_RETENTION_HOURS);
  const schedule = resolveCheckpointSchedule({
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    ...(retain !== undefined ? { retain } : {}),
    ...(streamRetentionHours !== undefined ? { streamRetentionHours } : {}),
    ...(base.tombstoneTtlSeconds !== undefined
      ? { tombstoneTtlSeconds: base.tombstoneTtlSeconds }
      : {}),
  });
  return {
    ...base,
    checkpointBucket,
    checkpointPrefix: env[WeirEnv.CHECKPOINT_PREFIX] ?? 'weir',
    streamArn,
    schedule,
  };
}

/** Options of {@link createLambdaCheckpointer}. */
export interface LambdaCheckpointerOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default JSON lines to console.log (CloudWatch Logs in Lambda) */
  readonly log?: RuntimeLog;
  /** Segments of the parallel scan. @default 4 */
  readonly totalSegments?: number;
  /** Where the EMF metric lines go (`CheckpointsCompleted`, `CheckpointAgeMs`). @default stdout (CloudWatch Logs in Lambda) */
  readonly metricsOutput?: (line: string) => void;
  /** Time kept in hand before the function's timeout: a part write and the in-progress save. @default min(30 s, a third of the remaining time) */
  readonly reserveMs?: number;
}

/** The checkpoint function of one operator, and its parts for tools and tests. */
export interface LambdaCheckpointer {
  /** The scheduled entry point: one {@link runScheduledCheckpoint} call. */
  readonly checkpointer: (
    event?: unknown,
    context?: TickerContext,
  ) => Promise<ScheduledCheckpointReport>;
  /** Take one now, whatever the schedule says (`weir checkpoint`), within the context's time when given. */
  readonly checkpointNow: (context?: TickerContext) => Promise<ScheduledCheckpointReport>;
  readonly taker: CheckpointTaker;
  readonly checkpoints: CheckpointStore;
  readonly clients: AwsClients;
}

/** Wires the checkpointer to the DynamoDB state table and the S3 checkpoint bucket. */
export function createLambdaCheckpointer<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  config: CheckpointerConfig,
  options: LambdaCheckpointerOptions = {},
): LambdaCheckpointer {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  if (config.operator !== undefined && config.operator !== definition.name) {
    throw new ConfigError(
      WeirEnv.OPERATOR,
      config.operator,
      `must equal the pipeline's name "${definition.name}" (the state of one operator must not be read by another)`,
    );
  }
  const clients = createAwsClients({
    region: config.region,
    endpoints: config.endpoints,
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
  const checkpoints = new S3CheckpointStore({
    client: clients.s3,
    bucket: config.checkpointBucket,
    prefix: config.checkpointPrefix,
  });
  const taker = new CheckpointTaker({
    state: new DynamoDbStateStore({
      client: clients.dynamodb,
      tableName: config.stateTable,
      clock,
    }),
    checkpoints,
    clock,
    operator: definition.name,
    streamArn: config.streamArn,
    mergingWindows: definition.assigner instanceof SessionWindows,
    ...(options.totalSegments !== undefined ? { totalSegments: options.totalSegments } : {}),
  });
  const metrics = new EmfMetricsWriter({
    operator: definition.name,
    now: () => clock.now(),
    ...(options.metricsOutput ? { output: options.metricsOutput } : {}),
  });
  const run = async (force: boolean, context: TickerContext | undefined) => {
    const remaining = context?.getRemainingTimeInMillis();
    const reserve =
      remaining === undefined ? 0 : (options.reserveMs ?? Math.min(30_000, remaining / 3));
    const report = await runScheduledCheckpoint({
      taker,
      checkpoints,
      operator: definition.name,
      clock,
      intervalMs: config.schedule.intervalMs,
      retain: config.schedule.retain,
      force,
      ...(remaining !== undefined ? { deadline: clock.now() + remaining - reserve } : {}),
    });
    log(checkpointLogEntry(definition.name, report));
    metrics.write({ values: checkpointFigures(report, clock.now()), deadLettersByReason: {} });
    return report;
  };
  return {
    checkpointer: (_event?: unknown, context?: TickerContext) => run(false, context),
    checkpointNow: (context?: TickerContext) => run(true, context),
    taker,
    checkpoints,
    clients,
  };
}

/** The metrics of one call: a completed checkpoint, and the age of the newest complete one. */
export function checkpointFigures(
  r: ScheduledCheckpointReport,
  now: number,
): Partial<Record<'CheckpointsCompleted' | 'CheckpointAgeMs', number>> {
  const completed = r.run?.status === 'complete' && r.id !== undefined;
  const newestAt = completed ? checkpointIdTime(r.id) : r.previousAt;
  return {
    CheckpointsCompleted: completed ? 1 : 0,
    ...(newestAt !== undefined ? { CheckpointAgeMs: Math.max(0, now - newestAt) } : {}),
  };
}

/** One log line per call: what was done, and how far. */
function checkpointLogEntry(
  operator: string,
  r: ScheduledCheckpointReport,
): Record<string, unknown> {
  const run = r.run;
  return {
    event: 'checkpoint',
    operator,
    action: r.action,
    ...(r.id !== undefined ? { id: r.id } : {}),
    ...(run !== undefined
      ? {
          status: run.status,
          pages: run.stats.pages,
          items: run.stats.items,
          parts: run.stats.parts,
          elapsedMs: run.stats.elapsedMs,
        }
      : {}),
    ...(r.retention !== undefined
      ? { kept: r.retention.kept.length, deleted: r.retention.deleted.length }
      : {}),
  };
}

/**
 * The checkpoint function's export, configured on its first call rather
 * than at import: the operator function and the ticker load the same bundle
 * and must not need the checkpointer's variables.
 *
 * @example
 * export const checkpointer = checkpointerEntry(clickCounter, process.env);
 */
export function checkpointerEntry<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  env: Readonly<Record<string, string | undefined>>,
  options: LambdaCheckpointerOptions = {},
): LambdaCheckpointer['checkpointer'] {
  let built: LambdaCheckpointer | undefined;
  return (event, context) => {
    built ??= createLambdaCheckpointer(definition, checkpointerConfigFromEnv(env), options);
    return built.checkpointer(event, context);
  };
}
