/**
 * Alarms and a dashboard on WeirOperator, each switchable, notifying an SNS
 * topic or actions the user passes; weir's own metrics by the names of
 * lib/runtime/metrics-names.ts.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { WeirOperator } from '../../cdk/constructs/weir-operator.ts';
import { WEIR_ALARM_NAMES } from '../../cdk/constructs/weir-monitoring.ts';
import { WeirMetric, type WeirMetricName } from '../../lib/runtime/metrics-names.ts';
import { ENTRY, PIPELINE, synthOperator, testStack } from './support.ts';
import { Template } from 'aws-cdk-lib/assertions';

describe('WeirOperator monitoring', () => {
  it('GIVEN defaults WHEN synthesized THEN eleven alarms watch Lambda and weir metrics, and a dashboard shows them', () => {
    const { template, operator } = synthOperator();
    expect(Object.keys(operator.alarms).sort()).toEqual([...WEIR_ALARM_NAMES].sort());
    template.resourceCountIs('AWS::CloudWatch::Alarm', 11);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const alarm = (props: Record<string, unknown>) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        ...props,
      });
    alarm({
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Statistic: 'Maximum',
      Threshold: 60_000,
      EvaluationPeriods: 5,
      Period: 60,
    });
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Threshold: 1, Period: 300 });
    alarm({
      Namespace: 'AWS/Lambda',
      MetricName: 'OnFailureDestinationDeliveredEventCount',
      Dimensions: [
        {
          Name: 'EventSourceMappingUUID',
          Value: { Ref: Match.stringLikeRegexp('^OpKinesisEventSource') },
        },
      ],
    });
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'DestinationDeliveryFailures', Statistic: 'Sum' });
    alarm({
      Namespace: 'Weir',
      MetricName: 'RecordsDeadLettered',
      Dimensions: [{ Name: 'Operator', Value: 'click-counter' }],
      Statistic: 'Sum',
    });
    alarm({
      Namespace: 'Weir',
      MetricName: 'WatermarkLagMs',
      Statistic: 'Maximum',
      Threshold: 900_000,
      EvaluationPeriods: 3,
    });
    alarm({ Namespace: 'Weir', MetricName: 'AccessDenied', Statistic: 'Sum' });
    // Checkpoints: the function's errors, and the newest checkpoint older than two intervals.
    alarm({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^OpCheckpoint') } },
      ],
    });
    alarm({
      Namespace: 'Weir',
      MetricName: 'CheckpointAgeMs',
      Dimensions: [{ Name: 'Operator', Value: 'click-counter' }],
      Statistic: 'Maximum',
      Threshold: 2 * operator.checkpointIntervalMs,
      Period: 300,
    });
    // Throttles of both functions, summed.
    alarm({
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'handler + ticker' })]),
      EvaluationPeriods: 3,
    });
    // The ESM reports its event counts (for the on-failure alarm and the dashboard).
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MetricsConfig: { Metrics: ['EventCount'] },
    });
  });

  it('GIVEN an alarm topic and an action WHEN synthesized THEN every alarm notifies both', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Ops');
    const pager = new sns.Topic(stack, 'Pager');
    new WeirOperator(stack, 'Op', {
      pipeline: PIPELINE,
      entry: ENTRY,
      alarmTopic: topic,
      alarmActions: [new cloudwatchActions.SnsAction(pager)],
    });
    Template.fromStack(stack).resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      {
        AlarmActions: [
          { Ref: Match.stringLikeRegexp('^Pager') },
          { Ref: Match.stringLikeRegexp('^Ops') },
        ],
      },
      11,
    );
  });

  it('GIVEN one alarm off and another with its own threshold WHEN synthesized THEN the others keep their defaults', () => {
    const { template, operator } = synthOperator({
      alarms: {
        deadLetters: false,
        iteratorAge: { threshold: 300_000, evaluationPeriods: 2, period: Duration.minutes(5) },
      },
    });
    expect(operator.alarms.deadLetters).toBeUndefined();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 300_000,
      EvaluationPeriods: 2,
      Period: 300,
    });
  });

  it('GIVEN alarms false and dashboard false WHEN synthesized THEN there is neither, and the ESM reports no event counts', () => {
    const { template, operator } = synthOperator({ alarms: false, dashboard: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(operator.dashboard).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MetricsConfig: Match.absent(),
    });
  });

  it('GIVEN a dashboard name WHEN synthesized THEN the dashboard uses it', () => {
    synthOperator({ dashboardName: 'weir-click-counter' }).template.hasResourceProperties(
      'AWS::CloudWatch::Dashboard',
      { DashboardName: 'weir-click-counter' },
    );
  });

  it.each([
    [
      { deadletters: false },
      /alarms.deadletters is not an alarm of WeirOperator; use one of iteratorAge, /,
    ],
    [
      { iteratorAge: { threshold: -1 } },
      /alarms.iteratorAge.threshold must be a finite number >= 0 \(given -1\)/,
    ],
    [
      { tickerErrors: { evaluationPeriods: 0 } },
      /alarms.tickerErrors.evaluationPeriods must be an integer 1..100 \(given 0\)/,
    ],
    [
      { throttles: { period: Duration.seconds(90) } },
      /alarms.throttles.period must be a whole number of minutes \(given "90 s"\)/,
    ],
  ])(
    'GIVEN alarms %j WHEN constructed THEN a ConfigError says what is allowed',
    (alarms, message) => {
      expect(() => synthOperator({ alarms: alarms as never })).toThrow(message);
    },
  );

  it('GIVEN every weir metric WHEN read from the construct THEN it is in namespace Weir by operator with its natural statistic', () => {
    const { operator } = synthOperator();
    const methods: Record<WeirMetricName, (p?: cloudwatch.MetricOptions) => cloudwatch.Metric> = {
      RecordsIn: (p) => operator.metricRecordsIn(p),
      RecordsApplied: (p) => operator.metricRecordsApplied(p),
      RecordsLate: (p) => operator.metricRecordsLate(p),
      RecordsDeadLettered: (p) => operator.metricRecordsDeadLettered(p),
      RecordsFiltered: (p) => operator.metricRecordsFiltered(p),
      RecordsSkippedCommitted: (p) => operator.metricRecordsSkippedCommitted(p),
      WindowsFired: (p) => operator.metricWindowsFired(p),
      StateWrites: (p) => operator.metricStateWrites(p),
      StateWriteConflicts: (p) => operator.metricStateWriteConflicts(p),
      WatermarkLagMs: (p) => operator.metricWatermarkLag(p),
      OutboxBacklog: (p) => operator.metricOutboxBacklog(p),
      ShardRegistrationFailures: (p) => operator.metricShardRegistrationFailures(p),
      ShardDirectoryFailures: (p) => operator.metricShardDirectoryFailures(p),
      AccessDenied: (p) => operator.metricAccessDenied(p),
      BatchFailures: (p) => operator.metricBatchFailures(p),
      CheckpointsCompleted: (p) => operator.metricCheckpointsCompleted(p),
      CheckpointAgeMs: (p) => operator.metricCheckpointAge(p),
    };
    for (const [name, metric] of Object.entries(methods) as [
      WeirMetricName,
      typeof methods.RecordsIn,
    ][]) {
      const m = metric();
      expect([m.namespace, m.metricName, m.dimensions, m.statistic]).toEqual([
        'Weir',
        name,
        { Operator: 'click-counter' },
        WeirMetric[name].statistic,
      ]);
    }
    expect(
      operator.metricRecordsDeadLettered({
        dimensionsMap: { Operator: 'click-counter', Reason: 'decode-failed' },
      }).dimensions,
    ).toEqual({
      Operator: 'click-counter',
      Reason: 'decode-failed',
    });
  });

  it('GIVEN Lambda metrics WHEN read from the construct THEN they name the right function', () => {
    const { operator } = synthOperator();
    expect(operator.metricTickerErrors().dimensions?.['FunctionName']).toBe(
      operator.tickerFunction.functionName,
    );
    expect(operator.metricThrottles().metricName).toBe('Throttles');
    expect(operator.metricOnFailureDeliveryFailures().metricName).toBe(
      'DestinationDeliveryFailures',
    );
    expect(operator.metricOnFailureDeliveries().dimensions).toEqual({
      EventSourceMappingUUID: operator.eventSourceMapping.eventSourceMappingId,
    });
  });

  it('GIVEN a checkpoint interval of 15 minutes WHEN synthesized THEN the checkpoint-age alarm fires at 30 minutes; off, it is gone and the error alarm stays', () => {
    const { template } = synthOperator({ checkpointInterval: Duration.minutes(15) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CheckpointAgeMs',
      Threshold: 1_800_000,
    });
    const off = synthOperator({ alarms: { checkpointAge: false } });
    expect(off.operator.alarms.checkpointAge).toBeUndefined();
    expect(off.operator.alarms.checkpointErrors).toBeDefined();
    off.template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    expect(
      Object.values(off.template.findResources('AWS::CloudWatch::Alarm')).some(
        (r) =>
          (r as { Properties: { MetricName?: string } }).Properties.MetricName ===
          'CheckpointAgeMs',
      ),
    ).toBe(false);
  });
});
