import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { WeirOperator, type WeirOperatorProps } from '../../cdk/constructs/weir-operator.ts';
import { ConfigError } from '../../lib/errors.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(HERE, 'fixtures', 'click-counter-handler.ts');
/** The construct reads the pipeline's name and idle timeout only. */
const PIPELINE = { name: 'click-counter', time: {} };

/** A stack whose NodejsFunction skips esbuild: synth stays fast and needs no bundler. */
function testStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function synth(props: Partial<WeirOperatorProps> = {}): {
  template: Template;
  operator: WeirOperator;
  stack: Stack;
} {
  const stack = testStack();
  const operator = new WeirOperator(stack, 'Op', {
    pipeline: PIPELINE,
    entry: ENTRY,
    ...props,
  });
  return { template: Template.fromStack(stack), operator, stack };
}

describe('WeirOperator', () => {
  describe('event source mapping', () => {
    it('GIVEN defaults WHEN synthesized THEN the ESM carries weir defaults from resolveEsmSettings', () => {
      const { template } = synth();
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 0,
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        // Retry until the records expire (docs/recovery.md, "Skipped batches and redrive").
        MaximumRetryAttempts: -1,
        MaximumRecordAgeInSeconds: Match.absent(),
        ParallelizationFactor: 1,
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OpFailureQueue'), 'Arn'] },
          },
        },
      });
    });

    it('GIVEN custom settings WHEN synthesized THEN each one reaches the template', () => {
      const { template } = synth({
        eventSourceMapping: {
          batchSize: 500,
          maximumBatchingWindowInSeconds: 5,
          startingPosition: 'LATEST',
          bisectBatchOnFunctionError: false,
          maximumRetryAttempts: 7,
          maximumRecordAgeInSeconds: 3600,
          reportBatchItemFailures: false,
        },
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: 5,
        StartingPosition: 'LATEST',
        BisectBatchOnFunctionError: false,
        FunctionResponseTypes: Match.absent(),
        MaximumRetryAttempts: 7,
        MaximumRecordAgeInSeconds: 3600,
      });
    });

    it('GIVEN AT_TIMESTAMP WHEN synthesized THEN the timestamp is set', () => {
      const { template } = synth({
        eventSourceMapping: {
          startingPosition: 'AT_TIMESTAMP',
          startingPositionTimestamp: 1_700_000_000,
        },
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        StartingPosition: 'AT_TIMESTAMP',
        StartingPositionTimestamp: 1_700_000_000,
      });
    });

    it('GIVEN retries until expiry (-1) WHEN synthesized THEN MaximumRetryAttempts is -1', () => {
      const { template } = synth({ eventSourceMapping: { maximumRetryAttempts: -1 } });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        MaximumRetryAttempts: -1,
      });
    });

    it('GIVEN onFailure s3 WHEN synthesized THEN the destination is a private bucket', () => {
      const { template, operator } = synth({ onFailure: 's3' });
      expect(operator.failureBucket).toBeDefined();
      expect(operator.failureQueue).toBeUndefined();
      template.resourceCountIs('AWS::SQS::Queue', 0);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OpFailureBucket'), 'Arn'] },
          },
        },
      });
    });

    it('GIVEN onFailure sns WHEN synthesized THEN the destination is a topic', () => {
      const { template } = synth({ onFailure: 'sns' });
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        DestinationConfig: {
          OnFailure: { Destination: { Ref: Match.stringLikeRegexp('^OpFailureTopic') } },
        },
      });
    });

    it('GIVEN an existing stream WHEN synthesized THEN no stream is created and the ESM reads it', () => {
      const stack = testStack();
      const stream = new kinesis.Stream(stack, 'Input', { shardCount: 2 });
      new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY, stream });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Kinesis::Stream', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Input'), 'Arn'] },
      });
    });

    it('GIVEN no stream WHEN synthesized THEN a provisioned stream of shardCount shards is created', () => {
      const { template } = synth({ shardCount: 3 });
      template.hasResourceProperties('AWS::Kinesis::Stream', {
        ShardCount: 3,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
      });
    });
  });

  describe('state table', () => {
    it('GIVEN an operator WHEN synthesized THEN the table has pk/sk, on-demand billing, TTL expiresAt and the sparse due, expiry and outbox GSIs', () => {
      const { template } = synth();
      const gsi = (name: string, hash: string, range: string): Record<string, unknown> => ({
        IndexName: name,
        KeySchema: [
          { AttributeName: hash, KeyType: 'HASH' },
          { AttributeName: range, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      });
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'dueBucket', AttributeType: 'S' },
          { AttributeName: 'dueAt', AttributeType: 'S' },
          { AttributeName: 'expiryBucket', AttributeType: 'S' },
          { AttributeName: 'cleanupAt', AttributeType: 'S' },
          { AttributeName: 'outboxBucket', AttributeType: 'S' },
          { AttributeName: 'outboxAt', AttributeType: 'S' },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [
          gsi('due', 'dueBucket', 'dueAt'),
          gsi('expiry', 'expiryBucket', 'cleanupAt'),
          gsi('outbox', 'outboxBucket', 'outboxAt'),
        ],
      });
    });

    it('GIVEN an operator WHEN synthesized THEN a results table with pk/sk strings and on-demand billing is passed as WEIR_RESULTS_TABLE', () => {
      const { template, operator } = synth();
      template.resourceCountIs('AWS::DynamoDB::Table', 2);
      const results = template.findResources('AWS::DynamoDB::Table', {
        Properties: { GlobalSecondaryIndexes: Match.absent(), BillingMode: 'PAY_PER_REQUEST' },
      });
      const ids = Object.keys(results);
      expect(ids).toHaveLength(1);
      expect(ids[0]).toMatch(/^OpResultsTable/);
      expect(results[ids[0]!]!['Properties']).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
      });
      expect(operator.resultsTable).toBeDefined();
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        Environment: { Variables: Match.objectLike({ WEIR_RESULTS_TABLE: { Ref: ids[0] } }) },
      });
    });

    it('GIVEN default removal policy WHEN synthesized THEN state is retained on stack deletion', () => {
      const { template } = synth();
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
      template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    });
  });

  describe('checkpoint bucket', () => {
    it('GIVEN an operator WHEN synthesized THEN the bucket is encrypted, blocks public access and enforces SSL', () => {
      const { template } = synth();
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    });
  });

  describe('function', () => {
    it('GIVEN an operator WHEN synthesized THEN it runs nodejs24.x on arm64 with the weir environment', () => {
      const { template } = synth({ checkpointPrefix: 'ckpt/v1' });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: {
            WEIR_OPERATOR: 'click-counter',
            WEIR_STATE_TABLE: { Ref: Match.stringLikeRegexp('^OpStateTable') },
            WEIR_CHECKPOINT_BUCKET: { Ref: Match.stringLikeRegexp('^OpCheckpointBucket') },
            WEIR_CHECKPOINT_PREFIX: 'ckpt/v1',
            WEIR_RESULTS_TABLE: { Ref: Match.stringLikeRegexp('^OpResultsTable') },
            WEIR_OUTPUT_BUCKET: { Ref: Match.stringLikeRegexp('^OpCheckpointBucket') },
            WEIR_STREAM_NAME: { Ref: Match.stringLikeRegexp('^OpStream') },
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    });

    it('GIVEN an entry WHEN synthesized THEN its project-relative path is recorded as weir:entry metadata', () => {
      const { template, operator } = synth();
      expect(operator.entryPath).toBe('test/cdk/fixtures/click-counter-handler.ts');
      template.hasResource('AWS::Lambda::Function', {
        Metadata: Match.objectLike({
          'weir:entry': 'test/cdk/fixtures/click-counter-handler.ts',
          'weir:operator': 'click-counter',
        }),
      });
    });

    it('GIVEN grantReadState WHEN a role is granted THEN it gets read-only DynamoDB actions on the table', () => {
      const stack = testStack();
      const operator = new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY });
      const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
      operator.grantReadState(role);
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: Match.arrayWith(['dynamodb:Query', 'dynamodb:GetItem']),
              Effect: 'Allow',
            }),
          ]),
        },
      });
    });

    it('GIVEN metricIteratorAge WHEN read THEN it is the function IteratorAge maximum', () => {
      const { operator } = synth();
      const metric = operator.metricIteratorAge();
      expect(metric.metricName).toBe('IteratorAge');
      expect(metric.namespace).toBe('AWS/Lambda');
      expect(metric.statistic).toBe('Maximum');
      expect(metric.period.toSeconds()).toBe(60);
      expect(operator.metricOnFailureBacklog()?.metricName).toBe(
        'ApproximateNumberOfMessagesVisible',
      );
    });
  });

  describe('ticker', () => {
    it('GIVEN defaults WHEN synthesized THEN a ticker function (same entry, export ticker) runs every minute from EventBridge', () => {
      const { template, operator } = synth();
      template.resourceCountIs('AWS::Lambda::Function', 3);
      template.hasResource('AWS::Lambda::Function', {
        Properties: Match.objectLike({ Handler: 'index.ticker', Runtime: 'nodejs24.x' }),
        Metadata: Match.objectLike({
          'weir:entry': 'test/cdk/fixtures/click-counter-handler.ts',
          'weir:ticker': true,
        }),
      });
      const tickerId = Object.keys(
        template.findResources('AWS::Lambda::Function', {
          Properties: { Handler: 'index.ticker' },
        }),
      )[0]!;
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [tickerId, 'Arn'] } })],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [tickerId, 'Arn'] },
      });
      expect(operator.tickerFunction).toBeDefined();
    });

    it('GIVEN tickerSchedule and tickerHandler WHEN synthesized THEN the rule and handler follow them', () => {
      const { template } = synth({
        tickerSchedule: events.Schedule.rate(Duration.minutes(5)),
        tickerHandler: 'tick',
      });
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(5 minutes)',
      });
      template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.tick' });
    });

    it('GIVEN a tickerHandler that is not an identifier WHEN constructed THEN a ConfigError names the field', () => {
      expect(() => synth({ tickerHandler: 'index.ticker' })).toThrow(
        /tickerHandler must be the name of an exported function/,
      );
    });
  });

  describe('validation', () => {
    it('GIVEN parallelizationFactor 2 WHEN constructed THEN a ConfigError names the field and echoes the value', () => {
      expect(() => synth({ eventSourceMapping: { parallelizationFactor: 2 } })).toThrow(
        ConfigError,
      );
      expect(() => synth({ eventSourceMapping: { parallelizationFactor: 2 } })).toThrow(
        /parallelizationFactor must be 1.*\(given 2\)/,
      );
    });

    it('GIVEN batchSize 20000 WHEN constructed THEN the message echoes the input', () => {
      expect(() => synth({ eventSourceMapping: { batchSize: 20_000 } })).toThrow(
        'batchSize must be an integer 1..10000 (given 20000)',
      );
    });

    it.each([
      [
        'operatorName',
        { operatorName: 'Click_Counter' },
        /operatorName .* \(given "Click_Counter"\)/,
      ],
      [
        'operatorName',
        { operatorName: 'other' },
        /operatorName must equal the pipeline's name "click-counter" .*\(given "other"\)/,
      ],
      ['operatorName', { operatorName: '' }, /operatorName/],
      [
        'checkpointPrefix',
        { checkpointPrefix: '/weir/' },
        /checkpointPrefix .* \(given "\/weir\/"\)/,
      ],
      [
        'memorySize',
        { memorySize: 64 },
        /memorySize must be an integer 128..10240 \(MiB\) \(given 64\)/,
      ],
      [
        'timeout',
        { timeout: Duration.minutes(20) },
        /timeout must be 1 s..15 minutes \(given "1200 s"\)/,
      ],
      [
        'environment',
        { environment: { WEIR_OPERATOR: 'x' } },
        /environment.WEIR_OPERATOR is set by WeirOperator/,
      ],
      [
        'onFailure',
        { onFailure: 'kafka' as never },
        /onFailure must be one of sqs, sns, s3 \(given "kafka"\)/,
      ],
      ['shardCount', { shardCount: 0 }, /shardCount must be an integer 1..10000 \(given 0\)/],
    ])(
      'GIVEN a bad %s WHEN constructed THEN ConfigError says what is allowed',
      (_field, props, message) => {
        expect(() => synth(props as Partial<WeirOperatorProps>)).toThrow(message);
      },
    );

    it('GIVEN stream and shardCount together WHEN constructed THEN it is rejected', () => {
      const stack = testStack();
      const stream = new kinesis.Stream(stack, 'Input', { shardCount: 2 });
      expect(
        () =>
          new WeirOperator(stack, 'Op', {
            pipeline: { name: 'x', time: {} },
            entry: ENTRY,
            stream,
            shardCount: 2,
          }),
      ).toThrow(/shardCount cannot be set together with stream/);
    });
  });
});
