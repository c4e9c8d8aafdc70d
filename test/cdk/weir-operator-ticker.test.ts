/**
 * The construct knows the pipeline: its name is the operator name, and its
 * idleTimeout must be at least the ticker's period (a tick is what tells a
 * shard idle, or keeps one that Lambda retries active). EventBridge invokes
 * at most once a minute; tickInterval makes each invocation tick more often.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import { describe, expect, it } from 'vitest';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { ConfigError } from '../../lib/errors.ts';
import { synthOperator } from './support.ts';

const withIdle = (idleTimeout: number) => ({ name: 'click-counter', time: { idleTimeout } });

describe('WeirOperator ticker and pipeline', () => {
  it('GIVEN an idleTimeout of 10 s and the default one-minute ticker WHEN constructed THEN a ConfigError names both values and the fix', () => {
    expect(() => synthOperator({ pipeline: withIdle(10_000) })).toThrow(ConfigError);
    expect(() => synthOperator({ pipeline: withIdle(10_000) })).toThrow(
      'pipeline click-counter: eventTime.idleTimeout must be at least the ticker period of 60000 ms ' +
        '(tickerSchedule rate(1 minute); EventBridge invokes at most once a minute, so set tickInterval to tick more often within each invocation), ' +
        'or the ticker cannot keep a shard that Lambda is retrying from being judged idle (given "10000 ms")',
    );
  });

  it('GIVEN an idleTimeout of 10 s and tickInterval 20 s WHEN constructed THEN the error names the tickInterval', () => {
    expect(() =>
      synthOperator({ pipeline: withIdle(10_000), tickInterval: Duration.seconds(20) }),
    ).toThrow(/at least the ticker period of 20000 ms \(tickInterval\)/);
  });

  it('GIVEN the demo click counter (idleTimeout 10 s) and tickInterval 5 s WHEN synthesized THEN the rule sends the cadence and the ticker may run a whole period', () => {
    const { template, operator } = synthOperator({
      pipeline: clickCounter,
      tickInterval: Duration.seconds(5),
    });
    expect(operator.tickInterval.toSeconds()).toBe(5);
    expect(operator.tickerPeriod.toSeconds()).toBe(60);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ tickIntervalMs: 5000, tickerPeriodMs: 60_000 }),
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.ticker',
      Timeout: 120,
    });
  });

  it('GIVEN an idleTimeout equal to the ticker period WHEN synthesized THEN it is accepted and each invocation ticks once', () => {
    const { template } = synthOperator({ pipeline: withIdle(60_000) });
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ tickIntervalMs: 60_000, tickerPeriodMs: 60_000 }),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.ticker',
      Timeout: 60,
    });
  });

  it('GIVEN a pipeline without idleTimeout WHEN synthesized THEN there is nothing to check', () => {
    expect(() => synthOperator()).not.toThrow();
  });

  it('GIVEN no operatorName WHEN synthesized THEN the pipeline name is the operator name', () => {
    const { operator } = synthOperator({ pipeline: { name: 'page-views', time: {} } });
    expect(operator.operatorName).toBe('page-views');
  });

  it('GIVEN a pipeline name that is not a valid operator name WHEN constructed THEN the ConfigError names pipeline.name', () => {
    expect(() => synthOperator({ pipeline: { name: 'Page_Views', time: {} } })).toThrow(
      /pipeline.name must be 1..48 characters .* \(given "Page_Views"\)/,
    );
  });

  it.each([
    [
      Duration.millis(1500),
      /tickInterval must be a whole number of seconds from 1 s up to the ticker period of 60000 ms \(rate\(1 minute\)\), dividing it \(given "1500 ms"\)/,
    ],
    [Duration.seconds(7), /tickInterval must be .* dividing it \(given "7000 ms"\)/],
    [Duration.minutes(2), /tickInterval must be .* \(given "120000 ms"\)/],
  ])(
    'GIVEN tickInterval %s WHEN constructed THEN a ConfigError says what is allowed',
    (tickInterval, message) => {
      expect(() => synthOperator({ tickInterval })).toThrow(message);
    },
  );

  it('GIVEN a cron tickerSchedule WHEN constructed THEN a ConfigError asks for a rate', () => {
    expect(() =>
      synthOperator({ tickerSchedule: events.Schedule.cron({ minute: '*/5' }) }),
    ).toThrow(
      /tickerSchedule must be a rate\(...\) expression .*\(given "cron\(\*\/5 \* \* \* \? \*\)"\)/,
    );
  });

  it('GIVEN a one-hour schedule with a shorter tickInterval WHEN constructed THEN it is rejected (one invocation would outlive Lambda)', () => {
    expect(() =>
      synthOperator({
        tickerSchedule: events.Schedule.rate(Duration.hours(1)),
        tickInterval: Duration.minutes(1),
      }),
    ).toThrow(
      /tickerSchedule must be at most rate\(14 minutes\) when tickInterval \(60000 ms\) is shorter/,
    );
  });
});
