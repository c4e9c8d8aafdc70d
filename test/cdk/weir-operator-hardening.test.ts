/**
 * Data hardening of WeirOperator: versioned buckets with lifecycle, TLS only,
 * no public access, encryption; deletion protection unless DESTROY; an
 * encrypted failure topic and queue; one ticker at a time; a Node.js 22+
 * runtime; bundling that does not depend on the working directory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { WeirOperator } from '../../cdk/constructs/weir-operator.ts';
import { ConfigError } from '../../lib/errors.ts';
import { ENTRY, PIPELINE, synthOperator, testStack } from './support.ts';

describe('WeirOperator hardening', () => {
  describe('buckets', () => {
    it('GIVEN defaults WHEN synthesized THEN the bucket is versioned, expires dead letters and late data after 30 days, versions of deleted checkpoints after 1 (never current checkpoints), old versions after 7, and aborts incomplete uploads', () => {
      const { template } = synthOperator();
      template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'DeadLetters',
              Prefix: 'weir/click-counter/dead-letter/',
              ExpirationInDays: 30,
              Status: 'Enabled',
            },
            {
              Id: 'LateData',
              Prefix: 'weir/click-counter/late/',
              ExpirationInDays: 30,
              Status: 'Enabled',
            },
            {
              Id: 'Checkpoints',
              Prefix: 'weir/click-counter/checkpoints/',
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
              Status: 'Enabled',
            },
            {
              Id: 'Housekeeping',
              NoncurrentVersionExpiration: { NoncurrentDays: 7 },
              ExpiredObjectDeleteMarker: true,
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
              Status: 'Enabled',
            },
          ],
        },
      });
    });

    it('GIVEN retention props WHEN synthesized THEN the lifecycle follows them', () => {
      const { template } = synthOperator({
        checkpointPrefix: 'ckpt',
        deadLetterRetention: Duration.days(90),
        lateDataRetention: Duration.days(365),
        noncurrentVersionRetention: Duration.days(3),
      });
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Prefix: 'ckpt/click-counter/dead-letter/', ExpirationInDays: 90 }),
            Match.objectLike({ Prefix: 'ckpt/click-counter/late/', ExpirationInDays: 365 }),
            Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 3 } }),
          ]),
        },
      });
    });

    it.each([
      [
        'deadLetterRetention',
        Duration.hours(36),
        /deadLetterRetention must be a whole number of days, 1..36500 \(given "1 day 12 hours"\)/,
      ],
      ['lateDataRetention', Duration.days(0), /lateDataRetention must be a whole number of days/],
      [
        'onFailureRetention',
        Duration.days(15),
        /onFailureRetention must be a whole number of days, 1..14/,
      ],
    ])('GIVEN a bad %s WHEN constructed THEN a ConfigError echoes it', (field, value, message) => {
      expect(() => synthOperator({ [field]: value })).toThrow(ConfigError);
      expect(() => synthOperator({ [field]: value })).toThrow(message);
    });

    it('GIVEN onFailure s3 WHEN synthesized THEN the failure bucket is private, TLS-only, encrypted, versioned and expires records after 14 days', () => {
      const { template } = synthOperator({ onFailure: 's3' });
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
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Id: 'OnFailureRecords', ExpirationInDays: 14 }),
          ]),
        },
      });
      // Both buckets deny plain HTTP.
      template.resourcePropertiesCountIs(
        'AWS::S3::BucketPolicy',
        {
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        },
        2,
      );
    });

    it('GIVEN a server access logs bucket WHEN synthesized THEN the bucket logs to it under the operator name', () => {
      const stack = testStack();
      const logs = new s3.Bucket(stack, 'AccessLogs');
      new WeirOperator(stack, 'Op', {
        pipeline: PIPELINE,
        entry: ENTRY,
        serverAccessLogsBucket: logs,
      });
      Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
        LoggingConfiguration: {
          DestinationBucketName: { Ref: Match.stringLikeRegexp('^AccessLogs') },
          LogFilePrefix: 'click-counter/',
        },
      });
    });
  });

  describe('tables, topic, queue', () => {
    it('GIVEN the default removal policy WHEN synthesized THEN both tables have deletion protection', () => {
      synthOperator().template.resourcePropertiesCountIs(
        'AWS::DynamoDB::Table',
        { DeletionProtectionEnabled: true },
        2,
      );
    });

    it('GIVEN RemovalPolicy.DESTROY WHEN synthesized THEN deletion protection is off so the stack can delete them', () => {
      synthOperator({ removalPolicy: RemovalPolicy.DESTROY }).template.resourcePropertiesCountIs(
        'AWS::DynamoDB::Table',
        { DeletionProtectionEnabled: false },
        2,
      );
    });

    it('GIVEN onFailure sns WHEN synthesized THEN the topic is encrypted with the AWS-managed SNS key and TLS-only', () => {
      const { template } = synthOperator({ onFailure: 'sns' });
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':kms:eu-west-1:111111111111:alias/aws/sns'],
          ],
        },
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
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

    it('GIVEN onFailure sqs WHEN synthesized THEN the queue is SSE-SQS encrypted and keeps records onFailureRetention', () => {
      synthOperator({ onFailureRetention: Duration.days(4) }).template.hasResourceProperties(
        'AWS::SQS::Queue',
        { SqsManagedSseEnabled: true, MessageRetentionPeriod: 4 * 86_400 },
      );
    });

    it('GIVEN a stream the construct creates WHEN synthesized THEN it is encrypted with the AWS-managed Kinesis key', () => {
      synthOperator().template.hasResourceProperties('AWS::Kinesis::Stream', {
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      });
    });
  });

  describe('functions', () => {
    it('GIVEN defaults WHEN synthesized THEN the ticker has reserved concurrency 1 and no async retries', () => {
      const { template } = synthOperator();
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.ticker',
        ReservedConcurrentExecutions: 1,
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.handler',
        ReservedConcurrentExecutions: Match.absent(),
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 60,
      });
    });

    it('GIVEN runtime NODEJS_22_X WHEN synthesized THEN all three functions use it', () => {
      synthOperator({ runtime: lambda.Runtime.NODEJS_22_X }).template.resourcePropertiesCountIs(
        'AWS::Lambda::Function',
        { Runtime: 'nodejs22.x' },
        3,
      );
    });

    it.each([lambda.Runtime.NODEJS_20_X, lambda.Runtime.PYTHON_3_13])(
      'GIVEN runtime %s WHEN constructed THEN a ConfigError asks for Node.js 22 or newer',
      (runtime) => {
        expect(() => synthOperator({ runtime })).toThrow(
          new RegExp(
            `runtime must be a Node.js runtime, nodejs22.x or newer \\(given "${runtime.name}"\\)`,
          ),
        );
      },
    );
  });

  describe('project root and lock file', () => {
    const cwd = process.cwd();
    afterEach(() => process.chdir(cwd));

    it('GIVEN cdk synth from another working directory WHEN synthesized THEN the lock file and project root are found from the entry', () => {
      process.chdir(os.tmpdir());
      const { operator } = synthOperator();
      expect(operator.projectRoot).toBe(path.resolve(path.dirname(ENTRY), '..', '..', '..'));
      expect(operator.entryPath).toBe('test/cdk/fixtures/click-counter-handler.ts');
    });

    it('GIVEN a project of its own (lock file, projectRoot) outside the working directory WHEN synthesized THEN weir:entry is relative to it and bundling is rooted there', () => {
      const project = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-project-'));
      try {
        fs.mkdirSync(path.join(project, 'functions', 'op'), { recursive: true });
        fs.writeFileSync(path.join(project, 'package-lock.json'), '{"lockfileVersion":3}');
        fs.writeFileSync(
          path.join(project, 'functions', 'op', 'handler.ts'),
          'export const handler = () => {};\n',
        );
        const { operator, template } = synthOperator({
          entry: 'functions/op/handler.ts',
          projectRoot: project,
        });
        expect(operator.projectRoot).toBe(project);
        expect(operator.entryPath).toBe('functions/op/handler.ts');
        template.hasResource('AWS::Lambda::Function', {
          Metadata: Match.objectLike({ 'weir:entry': 'functions/op/handler.ts' }),
        });
      } finally {
        fs.rmSync(project, { recursive: true, force: true });
      }
    });

    it('GIVEN an entry outside projectRoot WHEN constructed THEN a ConfigError names both', () => {
      const project = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-project-'));
      try {
        fs.writeFileSync(path.join(project, 'package-lock.json'), '{}');
        expect(() => synthOperator({ projectRoot: project })).toThrow(
          new RegExp(`entry must be inside projectRoot ${project}`),
        );
      } finally {
        fs.rmSync(project, { recursive: true, force: true });
      }
    });

    it('GIVEN no lock file above the entry WHEN constructed THEN a ConfigError asks for depsLockFilePath', () => {
      const project = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-nolock-'));
      try {
        const entry = path.join(project, 'handler.ts');
        fs.writeFileSync(entry, 'export const handler = () => {};\n');
        expect(() => synthOperator({ entry })).toThrow(
          /depsLockFilePath must name the project's lock file/,
        );
      } finally {
        fs.rmSync(project, { recursive: true, force: true });
      }
    });
  });
});
