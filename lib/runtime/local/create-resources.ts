/**
 * Resource creation: the SDK calls that make a {@link LocalResources}
 * description real on the embedded AWS or LocalStack (whatever endpoints the
 * clients point at). Idempotent: a resource that already exists is reused.
 * SNS topics are described, not created (the embedded tier has no SNS, and
 * the local ESM records on-failure records itself).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
  type ProvisionedThroughput,
  type ScalarAttributeType,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { WeirError, errorName } from '../../errors.ts';
import { sleep } from '../../util/index.ts';
import type { ReportedPhysical } from './cfn-names.ts';
import type {
  LocalBucket,
  LocalKeyElement,
  LocalQueue,
  LocalResources,
  LocalStream,
  LocalTable,
  LocalThroughput,
} from './local-resources.ts';

/** The SDK clients resource creation needs; `AwsClients` (createAwsClients, LocalAws.clients()) fits. */
export interface ProvisionClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

/** Options of {@link createLocalResources} and {@link createLocalTables}. */
export interface CreateResourcesOptions {
  /** How long to wait for a stream or table to become ACTIVE. @default 30000 */
  readonly activeTimeoutMs?: number;
  /**
   * Describe the template's SQS queues without creating them, as SNS topics
   * are: for endpoints without SQS (the embedded AWS). @default false
   */
  readonly skipQueues?: boolean;
}

/** The resources as the endpoints made them: emulator ARNs, queue URLs, whether TTL was accepted. */
export interface CreatedResources {
  readonly streams: readonly LocalStream[];
  readonly tables: readonly LocalTable[];
  readonly buckets: readonly LocalBucket[];
  readonly queues: readonly LocalQueue[];
}

/**
 * Creates the described streams, tables, buckets and queues and returns them
 * as the endpoints report them. Idempotent.
 *
 * @example
 * const planned = describeTemplate(template);
 * const created = await createLocalResources(planned, aws.clients());
 */
export async function createLocalResources(
  planned: LocalResources,
  clients: ProvisionClients,
  options: CreateResourcesOptions = {},
): Promise<CreatedResources> {
  const timeoutMs = options.activeTimeoutMs ?? 30_000;
  const streams = await Promise.all(
    planned.streams.map((s) => createStream(clients.kinesis, s, timeoutMs)),
  );
  const tables = await createLocalTables(planned.tables, clients.dynamodb, options);
  await Promise.all(planned.buckets.map((b) => createBucket(clients.s3, b)));
  const queues = options.skipQueues
    ? []
    : await Promise.all(planned.queues.map((q) => createQueue(clients.sqs, q)));
  return { streams, tables, buckets: planned.buckets, queues };
}

/**
 * Creates tables exactly as described (keys, attribute types, billing, GSIs,
 * TTL). Idempotent.
 *
 * @example
 * const tables = await createLocalTables(describeTemplate(template).tables, clients.dynamodb);
 */
export async function createLocalTables(
  tables: readonly LocalTable[],
  dynamodb: DynamoDBClient,
  options: CreateResourcesOptions = {},
): Promise<LocalTable[]> {
  const timeoutMs = options.activeTimeoutMs ?? 30_000;
  return Promise.all(tables.map((t) => createTable(dynamodb, t, timeoutMs)));
}

/**
 * What the endpoints reported for created streams and queues, by logical id,
 * for {@link describeTemplate}'s `reported` option: references to them then
 * resolve to the emulator's ARNs and queue URLs.
 */
export function reportedPhysical(created: CreatedResources): Record<string, ReportedPhysical> {
  const out: Record<string, ReportedPhysical> = {};
  for (const s of created.streams) out[s.logicalId] = { ref: s.name, arn: s.arn };
  for (const q of created.queues) out[q.logicalId] = { ref: q.url, arn: q.arn };
  return out;
}

/** The CreateTable input of a described table. */
export function createTableInput(table: LocalTable): CreateTableCommandInput {
  const s = table.schema;
  return {
    TableName: table.name,
    AttributeDefinitions: s.attributeDefinitions.map((a) => ({
      AttributeName: a.attributeName,
      AttributeType: a.attributeType as ScalarAttributeType,
    })),
    KeySchema: keySchema(s.keySchema),
    BillingMode: s.billingMode,
    ...(s.provisionedThroughput
      ? { ProvisionedThroughput: throughput(s.provisionedThroughput) }
      : {}),
    ...(s.globalSecondaryIndexes.length > 0
      ? {
          GlobalSecondaryIndexes: s.globalSecondaryIndexes.map((g) => ({
            IndexName: g.indexName,
            KeySchema: keySchema(g.keySchema),
            Projection: {
              ProjectionType: g.projectionType as 'ALL' | 'KEYS_ONLY' | 'INCLUDE',
              ...(g.nonKeyAttributes ? { NonKeyAttributes: [...g.nonKeyAttributes] } : {}),
            },
            ...(g.provisionedThroughput
              ? { ProvisionedThroughput: throughput(g.provisionedThroughput) }
              : {}),
          })),
        }
      : {}),
  };
}

function keySchema(elements: readonly LocalKeyElement[]): KeySchemaElement[] {
  return elements.map((k) => ({ AttributeName: k.attributeName, KeyType: k.keyType }));
}

function throughput(t: LocalThroughput): ProvisionedThroughput {
  return { ReadCapacityUnits: t.readCapacityUnits, WriteCapacityUnits: t.writeCapacityUnits };
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new WeirError(`${what} did not become ACTIVE within ${timeoutMs} ms.`);
    await sleep(100);
  }
}

async function createStream(
  kinesis: KinesisClient,
  s: LocalStream,
  timeoutMs: number,
): Promise<LocalStream> {
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: s.name, ShardCount: s.shardCount }));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') {
      throw new WeirError(`Could not create stream ${s.name} (${s.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
  let arn = s.arn;
  await waitUntil(`Stream ${s.name}`, timeoutMs, async () => {
    const d = await kinesis.send(new DescribeStreamCommand({ StreamName: s.name, Limit: 1 }));
    arn = d.StreamDescription?.StreamARN ?? arn;
    return d.StreamDescription?.StreamStatus === 'ACTIVE';
  });
  return { ...s, arn };
}

async function createTable(
  dynamodb: DynamoDBClient,
  t: LocalTable,
  timeoutMs: number,
): Promise<LocalTable> {
  try {
    await dynamodb.send(new CreateTableCommand(createTableInput(t)));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') {
      throw new WeirError(`Could not create table ${t.name} (${t.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
  let arn = t.arn;
  await waitUntil(`Table ${t.name}`, timeoutMs, async () => {
    const d = await dynamodb.send(new DescribeTableCommand({ TableName: t.name }));
    arn = d.Table?.TableArn ?? arn;
    return d.Table?.TableStatus === 'ACTIVE';
  });
  if (t.ttlAttribute === undefined) return { ...t, arn };
  return { ...t, arn, ttlApplied: await applyTtl(dynamodb, t.name, t.ttlAttribute) };
}

/** TTL only deletes expired items eventually; nothing weir does depends on it, so an emulator without the API is tolerated. */
async function applyTtl(
  dynamodb: DynamoDBClient,
  tableName: string,
  attributeName: string,
): Promise<boolean> {
  try {
    const current = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const d = current.TimeToLiveDescription;
    if (
      d?.AttributeName === attributeName &&
      (d.TimeToLiveStatus === 'ENABLED' || d.TimeToLiveStatus === 'ENABLING')
    )
      return true;
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    );
    return true;
  } catch {
    return false;
  }
}

async function createBucket(s3: S3Client, b: LocalBucket): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: b.name }));
  } catch (e) {
    const name = errorName(e);
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
      throw new WeirError(`Could not create bucket ${b.name} (${b.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
}

async function createQueue(sqs: SQSClient, q: LocalQueue): Promise<LocalQueue> {
  let url: string | undefined;
  try {
    url = (
      await sqs.send(new CreateQueueCommand({ QueueName: q.name, Attributes: { ...q.attributes } }))
    ).QueueUrl;
  } catch (e) {
    // An existing queue with other attributes: reuse it as it is.
    if (errorName(e) !== 'QueueAlreadyExists' && errorName(e) !== 'QueueNameExists') {
      throw new WeirError(`Could not create queue ${q.name} (${q.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: q.name }))).QueueUrl;
  }
  if (url === undefined)
    throw new WeirError(
      `Queue ${q.name} (${q.logicalId}) was created but the endpoint returned no QueueUrl.`,
    );
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { ...q, url, arn: attrs.Attributes?.['QueueArn'] ?? q.arn };
}
