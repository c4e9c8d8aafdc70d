import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { WeirError } from '../../../lib/errors.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingInput,
} from '../../../lib/runtime/esm-settings.ts';
import {
  describeTemplate,
  loadDemoTemplate,
  localPhysicalName,
  provisionFromTemplate,
  ratePeriodMs,
  type CfnTemplate,
  type ProvisionClients,
} from '../../../lib/runtime/local/provision.ts';

const ENTRY = 'test/cdk/fixtures/click-counter-handler.ts';

describe('loadDemoTemplate + describeTemplate', () => {
  it('GIVEN the demo stack WHEN synthesized without bundling THEN it describes stream, table, bucket, queue and mapping', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const local = describeTemplate(template);

    expect(local.streams).toEqual([
      expect.objectContaining({
        name: 'weir-clicks',
        shardCount: 4,
        arn: 'arn:aws:kinesis:us-east-1:000000000000:stream/weir-clicks',
      }),
    ]);
    expect(local.tables).toHaveLength(2);
    const table = local.tables.find((t) => t.logicalId.startsWith('ClickCounterStateTable'))!;
    expect(table).toMatchObject({
      partitionKey: 'pk',
      sortKey: 'sk',
      globalSecondaryIndexes: ['due', 'expiry', 'outbox'],
      ttlAttribute: 'expiresAt',
    });
    const results = local.tables.find((t) => t.logicalId.startsWith('ClickCounterResultsTable'))!;
    expect(results).toMatchObject({
      partitionKey: 'pk',
      sortKey: 'sk',
      globalSecondaryIndexes: [],
      ttlAttribute: undefined,
    });
    expect(table.name).toBe(`WeirDemo-${table.logicalId}`);
    expect(local.buckets).toHaveLength(1);
    expect(local.buckets[0]!.name).toMatch(/^weirdemo-clickcountercheckpointbucket[0-9a-f]{8}$/);
    expect(local.queues).toHaveLength(1);

    const [mapping] = local.mappings;
    expect(mapping).toMatchObject({
      handlerEntry: ENTRY,
      handlerExport: 'handler',
      operatorName: 'click-counter',
      streamName: 'weir-clicks',
      streamLogicalId: local.streams[0]!.logicalId,
      onFailure: { type: 'sqs', name: local.queues[0]!.name, arn: local.queues[0]!.arn },
    });
    expect(mapping!.environment).toMatchObject({
      WEIR_OPERATOR: 'click-counter',
      WEIR_STATE_TABLE: table.name,
      WEIR_CHECKPOINT_BUCKET: local.buckets[0]!.name,
      WEIR_CHECKPOINT_PREFIX: 'weir',
      WEIR_RESULTS_TABLE: results.name,
      WEIR_OUTPUT_BUCKET: local.buckets[0]!.name,
      WEIR_STREAM_NAME: 'weir-clicks',
    });

    expect(local.tickers).toEqual([
      {
        ruleLogicalId: expect.stringMatching(/^ClickCounterTickerSchedule/) as unknown,
        functionLogicalId: expect.stringMatching(/^ClickCounterTickerFunction/) as unknown,
        handlerEntry: ENTRY,
        handlerExport: 'ticker',
        operatorName: 'click-counter',
        scheduleExpression: 'rate(1 minute)',
        periodMs: 60_000,
        environment: mapping!.environment,
      },
    ]);
  });

  it('GIVEN rate and cron expressions WHEN parsed THEN rates give a period and crons none', () => {
    expect(ratePeriodMs('rate(1 minute)')).toBe(60_000);
    expect(ratePeriodMs('rate(5 minutes)')).toBe(300_000);
    expect(ratePeriodMs('rate(2 hours)')).toBe(7_200_000);
    expect(ratePeriodMs('rate(1 day)')).toBe(86_400_000);
    expect(ratePeriodMs('cron(0 12 * * ? *)')).toBeUndefined();
  });

  const cases: Array<[string, EventSourceMappingInput]> = [
    ['defaults', {}],
    [
      'every field changed',
      {
        batchSize: 1234,
        maximumBatchingWindowInSeconds: 7,
        startingPosition: 'LATEST',
        bisectBatchOnFunctionError: false,
        maximumRetryAttempts: 0,
        maximumRecordAgeInSeconds: 600,
        reportBatchItemFailures: false,
      },
    ],
    [
      'retry until expiry, AT_TIMESTAMP',
      {
        maximumRetryAttempts: -1,
        startingPosition: 'AT_TIMESTAMP',
        startingPositionTimestamp: 1_700_000_000,
      },
    ],
    [
      'limits',
      {
        batchSize: 10_000,
        maximumBatchingWindowInSeconds: 300,
        maximumRetryAttempts: 10_000,
        maximumRecordAgeInSeconds: 604_800,
      },
    ],
  ];
  it.each(cases)(
    'GIVEN ESM settings (%s) WHEN put into the stack THEN the same settings come back from the template',
    async (_name, input) => {
      const template = await loadDemoTemplate({ handlerEntry: ENTRY, eventSourceMapping: input });
      expect(describeTemplate(template).mappings[0]!.settings).toEqual(resolveEsmSettings(input));
    },
  );

  it.each(['s3', 'sns'] as const)(
    'GIVEN onFailure %s WHEN described THEN the destination type and name come back',
    async (type) => {
      const local = describeTemplate(
        await loadDemoTemplate({ handlerEntry: ENTRY, onFailure: type }),
      );
      const onFailure = local.mappings[0]!.onFailure!;
      expect(onFailure.type).toBe(type);
      if (type === 's3') {
        expect(local.buckets.map((b) => b.name)).toContain(onFailure.name);
        expect(onFailure.arn).toBe(`arn:aws:s3:::${onFailure.name}`);
      } else {
        expect(local.topics.map((t) => t.name)).toEqual([onFailure.name]);
      }
      expect(local.queues).toEqual([]);
    },
  );

  it('GIVEN another stack name and region WHEN described THEN names and ARNs follow them', async () => {
    const local = describeTemplate(
      await loadDemoTemplate({
        handlerEntry: ENTRY,
        stackName: 'WeirCi7',
        streamName: 'clicks-ci-7',
      }),
      {
        stackName: 'WeirCi7',
        region: 'eu-west-1',
        accountId: '123456789012',
      },
    );
    expect(local.streams[0]!.arn).toBe('arn:aws:kinesis:eu-west-1:123456789012:stream/clicks-ci-7');
    expect(local.tables[0]!.name.startsWith('WeirCi7-')).toBe(true);
  });
});

describe('describeTemplate on hand-written templates', () => {
  const base = (
    esm: Record<string, unknown>,
    fnMetadata: Record<string, unknown> = { 'weir:entry': 'functions/x/handler.ts' },
  ): CfnTemplate => ({
    Resources: {
      S: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 2 } },
      F: {
        Type: 'AWS::Lambda::Function',
        Metadata: fnMetadata,
        Properties: { Handler: 'index.main' },
      },
      M: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'F' },
          EventSourceArn: { 'Fn::GetAtt': ['S', 'Arn'] },
          ...esm,
        },
      },
    },
  });

  it('GIVEN a mapping without optional properties WHEN described THEN AWS defaults apply (not weir defaults)', () => {
    const local = describeTemplate(base({}));
    expect(local.streams[0]).toMatchObject({ name: 'WeirDemo-S', shardCount: 2 });
    expect(local.mappings[0]).toMatchObject({
      handlerExport: 'main',
      operatorName: undefined,
      streamName: 'WeirDemo-S',
      onFailure: undefined,
    });
    expect(local.mappings[0]!.settings).toEqual({
      batchSize: 100,
      maximumBatchingWindowInSeconds: 0,
      startingPosition: 'LATEST',
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
      reportBatchItemFailures: false,
      parallelizationFactor: 1,
    });
  });

  it('GIVEN parallelization factor 4 in a template WHEN described THEN the shared validation rejects it', () => {
    expect(() => describeTemplate(base({ ParallelizationFactor: 4 }))).toThrow(
      /parallelizationFactor must be 1.*\(given 4\)/,
    );
  });

  it('GIVEN a tumbling window WHEN described THEN it is rejected as not reproduced locally', () => {
    expect(() => describeTemplate(base({ TumblingWindowInSeconds: 60 }))).toThrow(
      /M.TumblingWindowInSeconds is not reproduced by weir's local ESM/,
    );
  });

  it('GIVEN a function without weir:entry WHEN described THEN the error names the function and the fix', () => {
    expect(() => describeTemplate(base({}, {}))).toThrow(WeirError);
    expect(() => describeTemplate(base({}, {}))).toThrow(/Function F .* no 'weir:entry' metadata/);
  });

  it('GIVEN an imported stream ARN WHEN described THEN the stream name comes from the ARN', () => {
    const t = base({ EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/external' });
    expect(describeTemplate(t).mappings[0]).toMatchObject({
      streamName: 'external',
      streamLogicalId: undefined,
    });
  });

  it('GIVEN an unresolvable environment token WHEN described THEN the error names where it is', () => {
    const t = base({});
    const withEnv: CfnTemplate = {
      Resources: {
        ...t.Resources,
        F: {
          ...t.Resources['F']!,
          Properties: { Environment: { Variables: { X: { 'Fn::ImportValue': 'y' } } } },
        },
      },
    };
    expect(() => describeTemplate(withEnv)).toThrow(/Cannot resolve F.Environment.Variables.X/);
  });

  it('GIVEN long logical ids WHEN named THEN bucket names stay S3-valid', () => {
    const name = localPhysicalName('WeirDemo', 'A'.repeat(80), 'AWS::S3::Bucket');
    expect(name).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
  });
});

/** A hand-written fake of the four SDK clients: records calls, answers like an emulator. */
class FakeAws {
  readonly calls: string[] = [];
  readonly inputs: { op: string; input: Record<string, unknown> }[] = [];
  private readonly streams = new Set<string>();
  private readonly tables = new Set<string>();
  private readonly buckets = new Set<string>();
  private readonly queues = new Set<string>();
  constructor(private readonly ttlSupported = true) {}

  clients(): ProvisionClients {
    const send = (command: {
      constructor: { name: string };
      input: Record<string, unknown>;
    }): Promise<unknown> =>
      this.handle(command.constructor.name.replace(/Command$/, ''), command.input);
    const client = { send };
    return {
      kinesis: client as unknown as KinesisClient,
      dynamodb: client as unknown as DynamoDBClient,
      s3: client as unknown as S3Client,
      sqs: client as unknown as SQSClient,
    };
  }

  private handle(op: string, input: Record<string, unknown>): Promise<unknown> {
    this.calls.push(op);
    this.inputs.push({ op, input });
    const fail = (name: string): Promise<never> =>
      Promise.reject(Object.assign(new Error(name), { name }));
    switch (op) {
      case 'CreateStream':
        if (this.streams.has(input['StreamName'] as string)) return fail('ResourceInUseException');
        this.streams.add(input['StreamName'] as string);
        return Promise.resolve({});
      case 'DescribeStream':
        return Promise.resolve({
          StreamDescription: {
            StreamStatus: 'ACTIVE',
            StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${String(input['StreamName'])}`,
          },
        });
      case 'CreateTable':
        if (this.tables.has(input['TableName'] as string)) return fail('ResourceInUseException');
        this.tables.add(input['TableName'] as string);
        return Promise.resolve({});
      case 'DescribeTable':
        return Promise.resolve({
          Table: {
            TableStatus: 'ACTIVE',
            TableArn: `arn:fake:table/${String(input['TableName'])}`,
          },
        });
      case 'DescribeTimeToLive':
        return this.ttlSupported
          ? Promise.resolve({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } })
          : fail('UnknownOperationException');
      case 'UpdateTimeToLive':
        return Promise.resolve({});
      case 'CreateBucket':
        if (this.buckets.has(input['Bucket'] as string)) return fail('BucketAlreadyOwnedByYou');
        this.buckets.add(input['Bucket'] as string);
        return Promise.resolve({});
      case 'CreateQueue':
        this.queues.add(input['QueueName'] as string);
        return Promise.resolve({
          QueueUrl: `http://127.0.0.1:9324/000000000000/${String(input['QueueName'])}`,
        });
      case 'GetQueueAttributes':
        return Promise.resolve({
          Attributes: {
            QueueArn: `arn:aws:sqs:us-east-1:000000000000:${String(input['QueueUrl']).split('/').pop()}`,
          },
        });
      default:
        return fail(`Unexpected${op}`);
    }
  }
}

describe('provisionFromTemplate', () => {
  it('GIVEN the demo template WHEN provisioned twice THEN resources are created once and reused, and emulator values win', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const aws = new FakeAws();
    const first = await provisionFromTemplate(template, aws.clients());
    const second = await provisionFromTemplate(template, aws.clients());

    expect(second).toEqual(first);
    expect(aws.calls.filter((c) => c === 'CreateStream')).toHaveLength(2);
    expect(first.streams[0]!.arn).toBe('arn:aws:kinesis:us-east-1:000000000000:stream/weir-clicks');
    expect(first.mappings[0]!.streamArn).toBe(
      'arn:aws:kinesis:us-east-1:000000000000:stream/weir-clicks',
    );
    expect(first.queues[0]!.url).toBe(
      `http://127.0.0.1:9324/000000000000/${first.queues[0]!.name}`,
    );
    expect(first.mappings[0]!.onFailure!.arn).toBe(first.queues[0]!.arn);
    expect(first.queues[0]!.arn).toMatch(/^arn:aws:sqs:us-east-1:000000000000:WeirDemo-/);
    expect(first.tables[0]!.ttlApplied).toBe(true);
    expect(first.tickers).toHaveLength(1);
  });

  it('GIVEN the demo template WHEN provisioned THEN the state table is created with the due, expiry and outbox GSIs (KEYS_ONLY) and the results table too', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const aws = new FakeAws();
    await provisionFromTemplate(template, aws.clients());
    const creates = aws.inputs.filter((c) => c.op === 'CreateTable').map((c) => c.input);
    expect(creates).toHaveLength(2);
    const state = creates.find((c) => String(c['TableName']).includes('StateTable'))!;
    expect(state['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(state['GlobalSecondaryIndexes']).toEqual([
      {
        IndexName: 'due',
        KeySchema: [
          { AttributeName: 'dueBucket', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
      {
        IndexName: 'expiry',
        KeySchema: [
          { AttributeName: 'expiryBucket', KeyType: 'HASH' },
          { AttributeName: 'cleanupAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
      {
        IndexName: 'outbox',
        KeySchema: [
          { AttributeName: 'outboxBucket', KeyType: 'HASH' },
          { AttributeName: 'outboxAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    const results = creates.find((c) => String(c['TableName']).includes('ResultsTable'))!;
    expect(results['GlobalSecondaryIndexes']).toBeUndefined();
    expect(results['KeySchema']).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
  });

  it('GIVEN an emulator without the TTL API WHEN provisioned THEN the table is still created and ttlApplied is false', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const result = await provisionFromTemplate(template, new FakeAws(false).clients());
    expect(result.tables[0]!.ttlApplied).toBe(false);
  });
});
