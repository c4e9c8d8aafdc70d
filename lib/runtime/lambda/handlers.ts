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
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
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
import type { LambdaRuntimeConfig } from './config.ts';
import { tickRepeatedly, tickScheduleOf, type TickerContext } from './tick-loop.ts';

/** The Lambda entry points of one operator. */
export interface LambdaHandlers<IN = unknown, ACC = unknown, OUT = unknown> {
  /** Kinesis ESM handler (ReportBatchItemFailures). */
  readonly handler: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;
  /**
   * EventBridge-scheduled ticker. Invoked by Lambda with the construct's
   * schedule as its event (a `TickSchedule`), it ticks every
   * `tickIntervalMs` until the next scheduled invocation is due; called
   * without a context (the local runtime, tests), it ticks once.
   */
  readonly ticker: (event?: unknown, context?: TickerContext) => Promise<TickReport>;
  /** The runtime, for tests and tools. */
  readonly runtime: OperatorRuntime<IN, ACC, OUT>;
  readonly clients: AwsClients;
}

/** Wires an operator to DynamoDB state and results, S3 late data and dead letters. */
/** Options of {@link createLambdaHandlers}. */
export interface LambdaHandlerOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default JSON lines to console.log (CloudWatch Logs in Lambda) */
  readonly log?: RuntimeLog;
}

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
  const runtime = new OperatorRuntime({
    definition,
    clock,
    ...(options.log ? { log: options.log } : {}),
    store: new DynamoDbStateStore({
      client: clients.dynamodb,
      tableName: config.stateTable,
      clock,
      ...(config.tombstoneTtlSeconds !== undefined
        ? { tombstoneTtlSeconds: config.tombstoneTtlSeconds }
        : {}),
    }),
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
    handler: async (event) => {
      const { batchItemFailures } = await runtime.handle(event);
      return { batchItemFailures };
    },
    ticker: (event?: unknown, context?: TickerContext) =>
      tickRepeatedly(() => runtime.tick(), { schedule: tickScheduleOf(event), context, clock }),
    runtime,
    clients,
  };
}
