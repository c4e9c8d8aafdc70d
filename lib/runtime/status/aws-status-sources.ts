/**
 * The status sources on AWS (or the embedded AWS, or LocalStack: the
 * clients decide): the DynamoDB state table and the Kinesis stream.
 */
import type { AwsClients } from '../../adapters/aws-clients.ts';
import { DynamoDbStateStore } from '../../adapters/dynamodb/dynamodb-state-store.ts';
import { DynamoDbWindowCounter } from '../../adapters/dynamodb/dynamodb-window-counter.ts';
import { KinesisShardDirectory } from '../../adapters/kinesis/kinesis-shard-directory.ts';
import { KinesisShardLagReader } from '../../adapters/kinesis/kinesis-shard-lag.ts';
import { systemClock, type Clock } from '../../ports/clock.ts';
import type { StatusSources } from './gather-status.ts';

/** Options of {@link awsStatusSources}. */
export interface AwsStatusSourcesOptions {
  /** The operator's state table (`WEIR_STATE_TABLE`, output `StateTableName`). */
  readonly table: string;
  /** The source stream, name or ARN (`WEIR_STREAM_NAME`, output `StreamName` / `StreamArn`). */
  readonly stream: string;
  /** GetRecords calls per shard and look. @default 3 */
  readonly maxReadsPerShard?: number;
  /** `Limit` of each GetRecords. @default 1000 */
  readonly recordsPerRead?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

/**
 * Wires the status sources to DynamoDB and Kinesis.
 *
 * @example
 * const sources = awsStatusSources(createAwsClients({ endpoints: endpointsFromEnv(process.env) }), { table, stream });
 */
export function awsStatusSources(
  clients: Pick<AwsClients, 'dynamodb' | 'kinesis'>,
  options: AwsStatusSourcesOptions,
): StatusSources {
  const byArn = options.stream.startsWith('arn:');
  return {
    progress: new DynamoDbStateStore({ client: clients.dynamodb, tableName: options.table }),
    windows: new DynamoDbWindowCounter({ client: clients.dynamodb, tableName: options.table }),
    shards: new KinesisShardDirectory({
      client: clients.kinesis,
      ...(byArn ? { streamArn: options.stream } : { streamName: options.stream }),
    }),
    lag: new KinesisShardLagReader({
      client: clients.kinesis,
      stream: options.stream,
      ...(options.maxReadsPerShard !== undefined ? { maxReads: options.maxReadsPerShard } : {}),
      ...(options.recordsPerRead !== undefined ? { recordsPerRead: options.recordsPerRead } : {}),
    }),
    clock: options.clock ?? systemClock,
  };
}
