/**
 * The template reader: a synthesized template (the demo stack's, or a
 * hand-written one) in, the description of local resources out, with no
 * endpoint touched.
 */
import { describe, expect, it } from 'vitest';
import {
  WeirError,
  resolveEsmSettings,
  describeTemplate,
  localPhysicalName,
  ratePeriodMs,
  type EventSourceMappingInput,
  type CfnTemplate,
} from '../../../lib/index.ts';
import { createTableInput } from '../../../lib/runtime/local/index.ts';
import { loadDemoTemplate } from '../../../cdk/synth.ts';

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
        tickIntervalMs: 5_000,
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

  it('GIVEN values an endpoint reported WHEN described with them THEN references to those resources resolve to them', () => {
    const t = base({});
    const withQueue: CfnTemplate = {
      Resources: {
        ...t.Resources,
        Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } },
        F: {
          ...t.Resources['F']!,
          Properties: {
            Handler: 'index.main',
            Environment: { Variables: { QUEUE: { Ref: 'Q' }, STREAM: { Ref: 'S' } } },
          },
        },
        M: {
          ...t.Resources['M']!,
          Properties: {
            ...t.Resources['M']!.Properties,
            DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Q', 'Arn'] } } },
          },
        },
      },
    };
    const planned = describeTemplate(withQueue);
    expect(planned.queues[0]).toMatchObject({
      name: 'WeirDemo-Q',
      url: 'https://sqs.us-east-1.amazonaws.com/000000000000/WeirDemo-Q',
      attributes: { VisibilityTimeout: '30' },
    });
    expect(planned.mappings[0]!.onFailure).toMatchObject({
      type: 'sqs',
      url: planned.queues[0]!.url,
    });

    const reported = describeTemplate(withQueue, {
      reported: {
        Q: { ref: 'http://127.0.0.1:9324/000000000000/WeirDemo-Q', arn: 'arn:emu:sqs:WeirDemo-Q' },
        S: { ref: 'WeirDemo-S', arn: 'arn:emu:kinesis:WeirDemo-S' },
      },
    });
    expect(reported.mappings[0]).toMatchObject({
      streamArn: 'arn:emu:kinesis:WeirDemo-S',
      onFailure: {
        type: 'sqs',
        name: 'WeirDemo-Q',
        arn: 'arn:emu:sqs:WeirDemo-Q',
        url: 'http://127.0.0.1:9324/000000000000/WeirDemo-Q',
      },
      environment: { QUEUE: 'http://127.0.0.1:9324/000000000000/WeirDemo-Q', STREAM: 'WeirDemo-S' },
    });
    // The reader is pure: the first description is untouched by the second.
    expect(planned.mappings[0]!.streamArn).toBe(
      'arn:aws:kinesis:us-east-1:000000000000:stream/WeirDemo-S',
    );
  });

  it('GIVEN a provisioned table with an INCLUDE index WHEN described THEN its schema gives the CreateTable input as synthesized', () => {
    const t: CfnTemplate = {
      Resources: {
        T: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'g', AttributeType: 'N' },
            ],
            ProvisionedThroughput: { ReadCapacityUnits: 7, WriteCapacityUnits: 3 },
            GlobalSecondaryIndexes: [
              {
                IndexName: 'byG',
                KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
                Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['x'] },
              },
            ],
          },
        },
      },
    };
    const [table] = describeTemplate(t, { stackName: 'S1' }).tables;
    expect(table).toMatchObject({
      name: 'S1-T',
      partitionKey: 'pk',
      sortKey: undefined,
      globalSecondaryIndexes: ['byG'],
    });
    expect(createTableInput(table!)).toEqual({
      TableName: 'S1-T',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'N' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 7, WriteCapacityUnits: 3 },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byG',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['x'] },
          ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
        },
      ],
    });
  });

  it('GIVEN a key schema element without a key type WHEN described THEN the error names the element', () => {
    const t: CfnTemplate = {
      Resources: {
        T: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [{ AttributeName: 'pk' }] } },
      },
    };
    expect(() => describeTemplate(t)).toThrow(/T\.KeySchema\[0\]/);
  });

  it('GIVEN long logical ids WHEN named THEN bucket names stay S3-valid', () => {
    const name = localPhysicalName('WeirDemo', 'A'.repeat(80), 'AWS::S3::Bucket');
    expect(name).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
  });
});
