/**
 * The checkpoint function of a WeirOperator: its schedule, concurrency,
 * environment and grants, the bucket's checkpoint lifecycle, and the
 * validation of checkpoint interval and retention against the stream's
 * retention and the tombstone TTL.
 */
import { Duration } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { WeirOperator } from '../../cdk/constructs/weir-operator.ts';
import { ConfigError } from '../../lib/errors.ts';
import {
  grantsOfRole,
  roleOfFunction,
  weirFunctions,
  withoutHashes,
} from '../helpers/iam-policy.ts';
import { ENTRY, PIPELINE, synthOperator, testStack } from './support.ts';

describe('WeirOperator checkpoints', () => {
  it('GIVEN defaults WHEN synthesized THEN a checkpoint function (export checkpointer, reserved concurrency 1, no async retries) runs every minute', () => {
    const { template, json, operator } = synthOperator();
    const id = weirFunctions(json).checkpointer;
    template.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Handler: 'index.checkpointer',
        ReservedConcurrentExecutions: 1,
        Timeout: 300,
        Environment: {
          Variables: Match.objectLike({
            WEIR_CHECKPOINT_INTERVAL_MS: '3600000',
            WEIR_CHECKPOINT_RETAIN: '24',
            WEIR_TOMBSTONE_TTL_SECONDS: '604800',
            WEIR_STREAM_ARN: Match.anyValue(),
            WEIR_CHECKPOINT_PREFIX: 'weir',
          }),
        },
      }),
      Metadata: Match.objectLike({ 'weir:checkpointer': true }),
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    expect(operator.checkpointSchedule).toEqual({
      intervalMs: 3_600_000,
      retain: 24,
      tombstoneTtlSeconds: 604_800,
      streamRetentionHours: 24,
    });
    template.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: 24 });
  });

  it('GIVEN defaults WHEN synthesized THEN the checkpoint role holds exactly Query and Scan on the state table, objects and a prefix-conditioned listing under the checkpoint prefix, and its log group', () => {
    const { json } = synthOperator();
    const role = roleOfFunction(json, weirFunctions(json).checkpointer);
    const grants = grantsOfRole(json, role).map((g) =>
      withoutHashes(`${g.action} ${g.resource}${g.s3Prefix ? ` prefix=${g.s3Prefix.join()}` : ''}`),
    );
    expect(grants.sort()).toEqual(
      [
        'logs:CreateLogStream <OpCheckpointLogGroup.Arn>',
        'logs:PutLogEvents <OpCheckpointLogGroup.Arn>',
        'dynamodb:Query <OpStateTable.Arn>',
        'dynamodb:Scan <OpStateTable.Arn>',
        's3:DeleteObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
        's3:GetObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
        's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
        's3:ListBucket <OpCheckpointBucket.Arn> prefix=weir/click-counter/checkpoints/*',
      ].sort(),
    );
  });

  it('GIVEN interval, retention and TTL props WHEN synthesized THEN the environment and the stream carry them', () => {
    const { template } = synthOperator({
      checkpointInterval: Duration.minutes(15),
      checkpointRetain: 8,
      tombstoneTtl: Duration.days(2),
      streamRetention: Duration.hours(48),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.checkpointer',
      Environment: {
        Variables: Match.objectLike({
          WEIR_CHECKPOINT_INTERVAL_MS: '900000',
          WEIR_CHECKPOINT_RETAIN: '8',
          WEIR_TOMBSTONE_TTL_SECONDS: '172800',
          WEIR_STREAM_RETENTION_HOURS: '48',
        }),
      },
    });
    // Every function purges (batches and ticks), so every one gets the tombstone TTL.
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      {
        Environment: {
          Variables: Match.objectLike({ WEIR_TOMBSTONE_TTL_SECONDS: '172800' }),
        },
      },
      3,
    );
    template.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: 48 });
  });

  it('GIVEN a checkpoint interval longer than half the stream retention WHEN constructed THEN a ConfigError names both values', () => {
    expect(() =>
      synthOperator({
        checkpointInterval: Duration.hours(13),
        streamRetention: Duration.hours(24),
      }),
    ).toThrow(
      /checkpointInterval is too long for the stream retention of 1 day.*2 x checkpointInterval = 26 hours.*given "13 hours"/,
    );
  });

  it('GIVEN an existing stream and a declared retention WHEN the interval does not fit THEN a ConfigError; WHEN it fits THEN no stream is created', () => {
    const make = (interval: Duration) => {
      const stack = testStack();
      const stream = new kinesis.Stream(stack, 'Input', { retentionPeriod: Duration.hours(72) });
      return new WeirOperator(stack, 'Op', {
        pipeline: PIPELINE,
        entry: ENTRY,
        stream,
        streamRetention: Duration.hours(72),
        checkpointInterval: interval,
      });
    };
    expect(() => make(Duration.hours(37))).toThrow(ConfigError);
    expect(make(Duration.hours(36)).checkpointSchedule.intervalMs).toBe(36 * 3_600_000);
  });

  it('GIVEN a tombstone TTL shorter than the oldest retained checkpoint WHEN constructed THEN a ConfigError names both values', () => {
    expect(() =>
      synthOperator({
        checkpointInterval: Duration.hours(1),
        checkpointRetain: 48,
        tombstoneTtl: Duration.days(1),
      }),
    ).toThrow(
      /tombstoneTtl is shorter .*checkpointRetain 48 x checkpointInterval 1 hour.*49 hours/,
    );
  });

  it('GIVEN many retained checkpoints and no tombstone TTL WHEN synthesized THEN the TTL is computed to outlive the oldest one', () => {
    const { operator } = synthOperator({
      checkpointInterval: Duration.hours(6),
      checkpointRetain: 40,
    });
    expect(operator.checkpointSchedule.tombstoneTtlSeconds).toBe(41 * 6 * 3600);
  });

  it.each([
    [{ checkpointInterval: Duration.seconds(30) }, 'checkpointInterval'],
    [{ checkpointRetain: 0 }, 'checkpointRetain'],
    [{ streamRetention: Duration.minutes(90) }, 'streamRetention'],
    [{ checkpointTimeout: Duration.seconds(30) }, 'checkpointTimeout'],
    [{ checkpointHandler: 'not an export' }, 'checkpointHandler'],
  ] as const)('GIVEN %j WHEN constructed THEN a ConfigError names %s', (props, field) => {
    let error: unknown;
    try {
      synthOperator(props);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});
