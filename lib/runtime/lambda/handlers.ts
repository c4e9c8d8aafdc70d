/**
 * Builds the two Lambda entry points of an operator from its pipeline and
 * configuration: the Kinesis batch handler and the scheduled ticker. The
 * functions/ files stay thin:
 *
 * @example
 * // functions/click-counter/handler.ts
 * const handlers = createLambdaHandlers(clickCounter, lambdaConfigFromEnv(process.env));
 * export const handler = handlers.handler;
 * export const ticker = handlers.ticker;
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createAwsClients, type AwsClients } from '../../adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../../adapters/dynamodb/dynamodb-state-store.ts';
import { DynamoDbResultSink } from '../../adapters/dynamodb/dynamodb-result-sink.ts';
import { S3Sink, lateRecordS3Format } from '../../adapters/s3/s3-sink.ts';
import { S3DeadLetterOutput } from '../../adapters/s3/s3-dead-letter.ts';
import { KinesisShardDirectory } from '../../adapters/kinesis/kinesis-shard-directory.ts';
import type { WindowedOperatorDefinition } from '../../core/pipeline.ts';
import { ConfigError } from '../../errors.ts';
import { systemClock, type Clock } from '../../ports/clock.ts';
import { OperatorRuntime, type RuntimeLog, type TickReport } from '../operator-runtime.ts';
import { EmfMetricsWriter } from '../telemetry/emf-writer.ts';
import { InvocationFigures } from '../telemetry/invocation-figures.ts';
import { operatorLogger, runtimeLogOf } from '../telemetry/lambda-log.ts';
import type { RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import { countStateWrites } from '../telemetry/state-write-counter.ts';
import type { LambdaRuntimeConfig } from './config.ts';
import { tickRepeatedly, tickScheduleOf, type TickerContext } from './tick-loop.ts';

/** The Lambda entry points of one operator. */
export interface LambdaHandlers<IN = unknown, ACC = unknown, OUT = unknown> {
  /**
   * Kinesis ESM handler (ReportBatchItemFailures). Logs through Powertools
   * `Logger` (request id and cold start from `context`) and writes the
   * invocation's metrics as one flush of EMF lines at its end.
   */
  readonly handler: (
    event: KinesisStreamEvent,
    context?: Context,
  ) => Promise<KinesisStreamBatchResponse>;
  /**
   * EventBridge-scheduled ticker. Invoked by Lambda with the construct's
   * schedule as its event (a `TickSchedule`), it ticks every
   * `tickIntervalMs` until the next scheduled invocation is due; called
   * without a context (the local runtime, tests), it ticks once. Its
   * metrics (summed over the ticks) are flushed once, at the end.
   */
  readonly ticker: (event?: unknown, context?: TickerContext) => Promise<TickReport>;
  /** The runtime, for tests and tools. */
  readonly runtime: OperatorRuntime<IN, ACC, OUT>;
  readonly clients: AwsClients;
}

/** Options of {@link createLambdaHandlers}. */
export interface LambdaHandlerOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default JSON lines through Powertools `Logger` to stdout (CloudWatch Logs in Lambda) */
  readonly log?: RuntimeLog;
  /**
   * Where the EMF metric lines go (one flush per invocation), e.g. an
   * `EmfCollector`'s `collect` locally. @default stdout (CloudWatch Logs in Lambda)
   */
  readonly metricsOutput?: (line: string) => void;
}

/**
 * Wires an operator to DynamoDB state and results, S3 late data and dead
 * letters, Kinesis shard discovery and EMF metrics, and returns its two Lambda entry
 * points. Call it once per cold start, outside the handler; environment
 * parsing stays in `lambdaConfigFromEnv`.
 *
 * @param definition the pipeline, ending in `.aggregate(...)`.
 * @param config tables, buckets and endpoints (from {@link LambdaRuntimeConfig}).
 * @param options clock, log and metrics output; defaults suit Lambda.
 * @throws {@link ConfigError} when `config.operator` names another pipeline.
 *
 * @example
 * import { pipeline, json, tumbling, minutes, count, createLambdaHandlers, lambdaConfigFromEnv, checkpointerEntry } from 'weir';
 *
 * const clicks = pipeline('clicks')
 *   .decode(json<{ page: string; ts: number }>())
 *   .keyBy((c) => c.page)
 *   .eventTime((c) => c.ts, { maxOutOfOrderness: 5_000 })
 *   .window(tumbling(minutes(1)))
 *   .aggregate(count());
 *
 * // functions/clicks/handler.ts: the Kinesis ESM calls `handler`, EventBridge calls `ticker`
 * // and, on its own schedule, the checkpoint function's `checkpointer` (`checkpointerEntry`).
 * export const { handler, ticker } = createLambdaHandlers(clicks, lambdaConfigFromEnv(process.env));
 * export const checkpointer = checkpointerEntry(clicks, process.env);
 */
export function createLambdaHandlers<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  config: LambdaRuntimeConfig,
  options: LambdaHandlerOptions = {},
): LambdaHandlers<IN, ACC, OUT> {
  const clock = options.clock ?? systemClock;
  if (config.operator !== undefined && config.operator !== definition.name) {
    throw new ConfigError(
      'WEIR_OPERATOR',
      config.operator,
      `must equal the pipeline's name "${definition.name}" (the state of one operator must not be read by another)`,
    );
  }
  const clients = createAwsClients({
    region: config.region,
    endpoints: config.endpoints,
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
  const logger = options.log ? undefined : operatorLogger(definition.name);
  const state = countStateWrites(
    new DynamoDbStateStore({
      client: clients.dynamodb,
      tableName: config.stateTable,
      clock,
      ...(config.tombstoneTtlSeconds !== undefined
        ? { tombstoneTtlSeconds: config.tombstoneTtlSeconds }
        : {}),
    }),
  );
  const now = () => clock.now();
  const handlerFigures = new InvocationFigures('handler', now);
  const tickerFigures = new InvocationFigures('ticker', now);
  // Batch reports count for the handler, tick reports for the ticker (one function instance runs one of them).
  const telemetry: RuntimeTelemetry = {
    batch: (r) => handlerFigures.batch(r),
    batchFailed: (s, e) => handlerFigures.batchFailed(s, e),
    tick: (r) => tickerFigures.tick(r),
  };
  const metrics = new EmfMetricsWriter({
    operator: definition.name,
    now,
    ...(options.metricsOutput ? { output: options.metricsOutput } : {}),
  });
  const invocation = <T>(
    figures: InvocationFigures,
    context: Context | undefined,
    keys: Readonly<Record<string, string>>,
    run: () => Promise<T>,
  ): Promise<T> => runInvocation({ logger, state, metrics }, figures, context, keys, run);
  const runtime = new OperatorRuntime({
    definition,
    clock,
    log: options.log ?? runtimeLogOf(logger ?? operatorLogger(definition.name)),
    telemetry,
    store: state.store,
    results: new DynamoDbResultSink({ client: clients.dynamodb, tableName: config.resultsTable }),
    lateOutputs: {
      [definition.lateDataTag]: new S3Sink({
        client: clients.s3,
        bucket: config.outputBucket,
        prefix: config.outputPrefix,
        format: lateRecordS3Format,
      }),
    },
    deadLetter: new S3DeadLetterOutput({
      client: clients.s3,
      bucket: config.outputBucket,
      prefix: config.outputPrefix,
    }),
    ...(config.streamName
      ? {
          shards: new KinesisShardDirectory({
            client: clients.kinesis,
            streamName: config.streamName,
          }),
        }
      : {}),
  });
  return {
    handler: (event, context) =>
      invocation(handlerFigures, context, { shardId: shardOf(event) }, async () => {
        const { batchItemFailures } = await runtime.handle(event);
        return { batchItemFailures };
      }),
    ticker: (event?: unknown, context?: TickerContext) =>
      invocation(tickerFigures, lambdaContextOf(context), {}, () =>
        tickRepeatedly(() => runtime.tick(), { schedule: tickScheduleOf(event), context, clock }),
      ),
    runtime,
    clients,
  };
}

/** What every invocation of one function instance shares: its logger, counted state store and metrics writer. */
interface InvocationScope {
  readonly logger: ReturnType<typeof operatorLogger> | undefined;
  readonly state: ReturnType<typeof countStateWrites>;
  readonly metrics: EmfMetricsWriter;
}

/** Runs one invocation: context on the log lines, then one metrics flush, whatever happened. */
async function runInvocation<T>(
  { logger, state, metrics }: InvocationScope,
  figures: InvocationFigures,
  context: Context | undefined,
  keys: Readonly<Record<string, string>>,
  run: () => Promise<T>,
): Promise<T> {
  if (context !== undefined) logger?.addContext(context);
  logger?.appendKeys(keys);
  state.take(); // state writes between invocations are not this invocation's
  try {
    return await run();
  } catch (err) {
    figures.failed(err);
    throw err;
  } finally {
    const { writes, conflicts } = state.take();
    figures.stateWrites(writes, conflicts);
    metrics.write(figures.take());
    logger?.resetKeys();
  }
}

/** The shard of an ESM event (one shard per event), from its first record's `eventID` (`shardId-…:seq`). */
function shardOf(event: KinesisStreamEvent): string {
  const id = event.Records[0]?.eventID ?? '';
  const colon = id.indexOf(':');
  return colon > 0 ? id.slice(0, colon) : 'unknown';
}

/** The ticker's context as Lambda's, when it is one (it carries a request id). */
function lambdaContextOf(context: TickerContext | undefined): Context | undefined {
  return context !== undefined && 'awsRequestId' in context ? (context as Context) : undefined;
}
