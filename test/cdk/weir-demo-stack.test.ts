import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { WeirDemoStack, type WeirDemoStackProps } from '../../cdk/stacks/weir-demo-stack.ts';

const ENTRY = 'test/cdk/fixtures/click-counter-handler.ts';

function synth(props: WeirDemoStackProps = {}): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(new WeirDemoStack(app, 'WeirDemo', { handlerEntry: ENTRY, ...props }));
}

describe('WeirDemoStack', () => {
  it('GIVEN defaults WHEN synthesized THEN a 4-shard stream named weir-clicks feeds one click-counter operator', () => {
    const template = synth();
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.hasResourceProperties('AWS::Kinesis::Stream', { Name: 'weir-clicks', ShardCount: 4 });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEIR_OPERATOR: 'click-counter' }) },
    });
  });

  it('GIVEN a stream name WHEN synthesized THEN the stream uses it', () => {
    synth({ streamName: 'weir-clicks-ci-42' }).hasResourceProperties('AWS::Kinesis::Stream', {
      Name: 'weir-clicks-ci-42',
    });
  });

  it('GIVEN the demo WHEN synthesized THEN stream, tables, bucket, functions and failure queue are stack outputs', () => {
    const outputs = synth().findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'CheckpointBucketName',
        'FailureQueueUrl',
        'FunctionName',
        'ResultsTableName',
        'StateTableName',
        'StreamArn',
        'StreamName',
        'TickerFunctionName',
      ].sort(),
    );
  });

  it('GIVEN the demo WHEN synthesized THEN its resources are deleted with the stack', () => {
    synth().hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('GIVEN the click counter (idleTimeout 10 s) WHEN synthesized THEN the ticker ticks every 5 s within each one-minute invocation', () => {
    synth().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ tickIntervalMs: 5000, tickerPeriodMs: 60_000 }),
        }),
      ],
    });
  });

  it('GIVEN the demo WHEN synthesized THEN its stream is encrypted with the AWS-managed key', () => {
    synth().hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  it('GIVEN a bad stream name WHEN constructed THEN the error echoes it', () => {
    expect(() => synth({ streamName: 'weir clicks' })).toThrow(
      'streamName must be 1..128 characters of letters, digits, _ . - (given "weir clicks")',
    );
  });
});
