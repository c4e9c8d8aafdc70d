/**
 * Alarms and a dashboard for one `WeirOperator`, each switchable. Lambda's
 * own metrics (iterator age, errors, throttles, on-failure deliveries and
 * their failures) and weir's embedded-metric-format metrics (dead letters,
 * watermark lag, refused AWS calls; names in lib/runtime/metrics-names.ts)
 * side by side.
 *
 *   alarm                       metric                                            default
 *   iteratorAge                 AWS/Lambda IteratorAge (max)                      >= 60 s for 5 x 1 min
 *   handlerErrors               AWS/Lambda Errors, operator function (sum)        >= 1 in 5 min
 *   tickerErrors                AWS/Lambda Errors, ticker (sum)                   >= 1 in 5 min
 *   throttles                   AWS/Lambda Throttles, both functions (sum)        >= 1 in 3 x 5 min
 *   onFailureDeliveries         AWS/Lambda OnFailureDestinationDeliveredEventCount >= 1 in 5 min
 *   onFailureDeliveryFailures   AWS/Lambda DestinationDeliveryFailures (sum)      >= 1 in 5 min
 *   deadLetters                 Weir RecordsDeadLettered (sum)                    >= 1 in 5 min
 *   watermarkLag                Weir WatermarkLagMs (max)                         >= 15 min for 3 x 5 min
 *   accessDenied                Weir AccessDenied (sum)                           >= 1 in 5 min
 *   checkpointErrors            AWS/Lambda Errors, checkpoint function (sum)      >= 1 in 5 min
 *   checkpointAge               Weir CheckpointAgeMs (max)                        >= 2 x checkpoint interval, 5 min
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ConfigError } from '../../lib/errors.ts';

/** Settings of one alarm. */
export interface WeirAlarmOptions {
  /** Threshold, in the metric's unit (ms for `iteratorAge` and `watermarkLag`, a count otherwise); alarm at or above it. */
  readonly threshold?: number;
  /** Consecutive periods the threshold must be reached in, 1..100. */
  readonly evaluationPeriods?: number;
  /** Length of one period: 1 minute or a multiple of it. */
  readonly period?: Duration;
}

/** The alarms of a `WeirOperator`. Each is on by default; `false` turns one off. */
export interface WeirOperatorAlarms {
  /** The operator falls behind the stream's tip (`IteratorAge`). @default threshold 60000 ms, 5 periods of 1 minute */
  readonly iteratorAge?: WeirAlarmOptions | false;
  /** The operator function fails (crash, timeout). Partial batch failures are `BatchFailures`, not errors. @default >= 1 in 5 minutes */
  readonly handlerErrors?: WeirAlarmOptions | false;
  /** The ticker fails, including a tick with a refused AWS call (AccessDeniedError). @default >= 1 in 5 minutes */
  readonly tickerErrors?: WeirAlarmOptions | false;
  /** Either function is throttled (concurrency limit), persistently. @default >= 1 in each of 3 periods of 5 minutes */
  readonly throttles?: WeirAlarmOptions | false;
  /** The event source mapping gave up on a batch and sent its range to the on-failure destination: run `weir redrive`. @default >= 1 in 5 minutes */
  readonly onFailureDeliveries?: WeirAlarmOptions | false;
  /** Lambda could not deliver an on-failure record (permissions, size, a deleted destination): a skipped range without a pointer. @default >= 1 in 5 minutes */
  readonly onFailureDeliveryFailures?: WeirAlarmOptions | false;
  /** Records went to the dead-letter output (weir metric `RecordsDeadLettered`). @default >= 1 in 5 minutes */
  readonly deadLetters?: WeirAlarmOptions | false;
  /** The operator watermark lags processing time (weir metric `WatermarkLagMs`): windows are not closing. @default threshold 900000 ms, 3 periods of 5 minutes */
  readonly watermarkLag?: WeirAlarmOptions | false;
  /** An AWS call was refused for lack of permission (weir metric `AccessDenied`). @default >= 1 in 5 minutes */
  readonly accessDenied?: WeirAlarmOptions | false;
  /** The checkpoint function failed. */
  readonly checkpointErrors?: WeirAlarmOptions | false;
  /** The newest complete checkpoint is older than twice the checkpoint interval (ms). */
  readonly checkpointAge?: WeirAlarmOptions | false;
}

/** The name of one alarm of a `WeirOperator`. */
export type WeirAlarmName = keyof WeirOperatorAlarms;

/** The metrics the alarms and the dashboard read (implemented by `WeirOperator`). */
export interface WeirOperatorMetricSource {
  readonly operatorName: string;
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricTickerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricTickerThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricTickerInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricTickerDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricOnFailureDeliveries(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricOnFailureDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsIn(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsApplied(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsLate(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsDeadLettered(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsFiltered(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsSkippedCommitted(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricWindowsFired(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricStateWrites(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricStateWriteConflicts(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricWatermarkLag(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricOutboxBacklog(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricShardRegistrationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricShardDirectoryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricAccessDenied(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricBatchFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCheckpointErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCheckpointsCompleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCheckpointAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** The checkpoint interval, ms. */
  readonly checkpointIntervalMs: number;
}

/** Properties of {@link WeirMonitoring}. */
export interface WeirMonitoringProps {
  readonly source: WeirOperatorMetricSource;
  /** @default every alarm with its defaults */
  readonly alarms?: WeirOperatorAlarms | false;
  /** Actions every alarm takes when it goes to ALARM. @default none */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /** A topic every alarm notifies (in addition to `alarmActions`). @default none */
  readonly alarmTopic?: sns.ITopic;
  /** @default true */
  readonly dashboard?: boolean;
  /** @default a name CloudFormation generates */
  readonly dashboardName?: string;
}

interface AlarmDefault {
  readonly threshold: number | ((s: WeirOperatorMetricSource) => number);
  readonly evaluationPeriods: number;
  readonly period: Duration;
  readonly description: string;
  readonly metric: (s: WeirOperatorMetricSource, period: Duration) => cloudwatch.IMetric;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Defaults and meaning of every alarm; the descriptions say what to do. */
const ALARMS: Readonly<Record<WeirAlarmName, AlarmDefault>> = {
  iteratorAge: {
    threshold: 60_000,
    evaluationPeriods: 5,
    period: Duration.minutes(1),
    description:
      'The operator is behind the stream tip (IteratorAge). Check the function Duration and Errors, throttles, and the state table for throttling.',
    metric: (s, period) => s.metricIteratorAge({ period }),
  },
  handlerErrors: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'The operator function failed (crash or timeout); the event source mapping retries and bisects, then sends the range to the on-failure destination. Read the function logs (level ERROR).',
    metric: (s, period) => s.metricErrors({ period }),
  },
  tickerErrors: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'The ticker failed: idle watermarks, due windows and outbox re-drives wait for the next tick. An AccessDeniedError means the role misses a grant. Read the ticker logs.',
    metric: (s, period) => s.metricTickerErrors({ period }),
  },
  throttles: {
    threshold: 1,
    evaluationPeriods: 3,
    period: FIVE_MINUTES,
    description:
      'The operator function or the ticker is throttled persistently: raise the account concurrency or check other functions using it up.',
    metric: (s, period) =>
      new cloudwatch.MathExpression({
        expression: 'handler + ticker',
        usingMetrics: {
          handler: s.metricThrottles({ period }),
          ticker: s.metricTickerThrottles({ period }),
        },
        label: 'Throttles (operator function + ticker)',
        period,
      }),
  },
  onFailureDeliveries: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'The event source mapping gave up on a batch and sent its shard and sequence range to the on-failure destination: the next batch committed past it. Fix the cause, then run weir redrive.',
    metric: (s, period) => s.metricOnFailureDeliveries({ period }),
  },
  onFailureDeliveryFailures: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'Lambda could not deliver an on-failure record (DestinationDeliveryFailures): a skipped range has no pointer to redrive from. Check the destination and the function role.',
    metric: (s, period) => s.metricOnFailureDeliveryFailures({ period }),
  },
  deadLetters: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'Records went to the dead-letter output (weir RecordsDeadLettered, split by Reason): bad input from a producer. They are kept under <prefix>/<operator>/dead-letter/ in the bucket.',
    metric: (s, period) => s.metricRecordsDeadLettered({ period }),
  },
  watermarkLag: {
    threshold: 900_000,
    evaluationPeriods: 3,
    period: FIVE_MINUTES,
    description:
      'The operator watermark lags processing time (weir WatermarkLagMs): windows are not closing. Look for a shard that holds it back (weir status) and for ticker errors.',
    metric: (s, period) => s.metricWatermarkLag({ period }),
  },
  accessDenied: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'An AWS call of the operator was refused for lack of permission (weir AccessDenied): the role misses a grant. The ERROR log line names the action.',
    metric: (s, period) => s.metricAccessDenied({ period }),
  },
  checkpointErrors: {
    threshold: 1,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'The checkpoint function failed (crash, timeout or a refused call); an unfinished checkpoint is resumed by the next call. Read its logs (event checkpoint) and list checkpoints with weir checkpoints.',
    metric: (s, period) => s.metricCheckpointErrors({ period }),
  },
  checkpointAge: {
    threshold: (s) => 2 * s.checkpointIntervalMs,
    evaluationPeriods: 1,
    period: FIVE_MINUTES,
    description:
      'The newest complete checkpoint is older than twice the checkpoint interval (weir CheckpointAgeMs): checkpoints are not completing, and a restore would replay more than planned. Look at checkpointErrors and the checkpoint function logs; weir checkpoint takes one now.',
    metric: (s, period) => s.metricCheckpointAge({ period }),
  },
};

/** Every alarm name, in the order the dashboard shows them. */
export const WEIR_ALARM_NAMES = Object.keys(ALARMS) as readonly WeirAlarmName[];

/**
 * The alarms and dashboard of one operator (created by `WeirOperator`).
 *
 * @example
 * new WeirMonitoring(this, 'Monitoring', { source: operator, alarms: { deadLetters: false }, alarmTopic: topic });
 */
export class WeirMonitoring extends Construct {
  /** The alarms created, by name (absent: turned off). */
  readonly alarms: Readonly<Partial<Record<WeirAlarmName, cloudwatch.Alarm>>>;
  /** The dashboard, unless turned off. */
  readonly dashboard: cloudwatch.Dashboard | undefined;

  constructor(scope: Construct, id: string, props: WeirMonitoringProps) {
    super(scope, id);
    validateAlarms(props.alarms);
    const actions: cloudwatch.IAlarmAction[] = [...(props.alarmActions ?? [])];
    if (props.alarmTopic !== undefined)
      actions.push(new cloudwatchActions.SnsAction(props.alarmTopic));

    const alarms: Partial<Record<WeirAlarmName, cloudwatch.Alarm>> = {};
    if (props.alarms !== false) {
      for (const name of WEIR_ALARM_NAMES) {
        const options = props.alarms?.[name];
        if (options === false) continue;
        const d = ALARMS[name];
        const period = options?.period ?? d.period;
        const alarm = new cloudwatch.Alarm(this, alarmId(name), {
          metric: d.metric(props.source, period),
          threshold:
            options?.threshold ??
            (typeof d.threshold === 'number' ? d.threshold : d.threshold(props.source)),
          evaluationPeriods: options?.evaluationPeriods ?? d.evaluationPeriods,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          // No datapoint means no batch, no tick or nothing counted: not a breach.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription: `weir: operator ${props.source.operatorName}: ${d.description}`,
        });
        for (const action of actions) alarm.addAlarmAction(action);
        alarms[name] = alarm;
      }
    }
    this.alarms = alarms;
    this.dashboard =
      props.dashboard === false
        ? undefined
        : this.buildDashboard(props.source, Object.values(alarms), props.dashboardName);
  }

  private buildDashboard(
    s: WeirOperatorMetricSource,
    alarms: readonly cloudwatch.Alarm[],
    dashboardName: string | undefined,
  ): cloudwatch.Dashboard {
    const p = { period: Duration.minutes(1) };
    const graph = (title: string, left: cloudwatch.IMetric[], right?: cloudwatch.IMetric[]) =>
      new cloudwatch.GraphWidget({ title, left, ...(right ? { right } : {}), width: 8, height: 6 });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(dashboardName !== undefined ? { dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# weir operator \`${s.operatorName}\`\nRecords in = applied + late + dead-lettered + filtered + skipped (retries). Metrics: lib/runtime/metrics-names.ts; what to do for each alarm: its description.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph('Records', [
        s.metricRecordsIn(p),
        s.metricRecordsApplied(p),
        s.metricRecordsLate(p),
        s.metricRecordsDeadLettered(p),
        s.metricRecordsFiltered(p),
        s.metricRecordsSkippedCommitted(p),
      ]),
      graph('Behind the stream tip (ms)', [s.metricIteratorAge(p)]),
      graph('Watermark lag behind processing time (ms)', [s.metricWatermarkLag(p)]),
    );
    dashboard.addWidgets(
      graph(
        'Operator function',
        [s.metricInvocations(p), s.metricErrors(p), s.metricThrottles(p)],
        [s.metricDuration({ ...p, statistic: 'p99' })],
      ),
      graph(
        'Ticker',
        [s.metricTickerInvocations(p), s.metricTickerErrors(p), s.metricTickerThrottles(p)],
        [s.metricTickerDuration({ ...p, statistic: 'p99' })],
      ),
      graph('State and firing', [
        s.metricStateWrites(p),
        s.metricStateWriteConflicts(p),
        s.metricWindowsFired(p),
        s.metricOutboxBacklog(p),
      ]),
    );
    dashboard.addWidgets(
      graph('On-failure destination', [
        s.metricOnFailureDeliveries(p),
        s.metricOnFailureDeliveryFailures(p),
      ]),
      graph('Failures', [
        s.metricBatchFailures(p),
        s.metricAccessDenied(p),
        s.metricShardRegistrationFailures(p),
        s.metricShardDirectoryFailures(p),
        s.metricCheckpointErrors(p),
      ]),
      ...(alarms.length > 0
        ? [
            new cloudwatch.AlarmStatusWidget({
              title: 'Alarms',
              alarms: [...alarms],
              width: 8,
              height: 6,
            }),
          ]
        : []),
    );
    dashboard.addWidgets(
      graph(
        'Checkpoints (age of the newest: right, ms)',
        [s.metricCheckpointsCompleted(p)],
        [s.metricCheckpointAge(p)],
      ),
    );
    return dashboard;
  }
}

function alarmId(name: string): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}Alarm`;
}

function validateAlarms(alarms: WeirOperatorAlarms | false | undefined): void {
  if (alarms === undefined || alarms === false) return;
  for (const [name, options] of Object.entries(alarms) as [string, WeirAlarmOptions | false][]) {
    if (!(name in ALARMS)) {
      throw new ConfigError(
        `alarms.${name}`,
        options,
        `is not an alarm of WeirOperator; use one of ${WEIR_ALARM_NAMES.join(', ')}`,
      );
    }
    if (options === false) continue;
    const { threshold, evaluationPeriods, period } = options;
    if (threshold !== undefined && (!Number.isFinite(threshold) || threshold < 0)) {
      throw new ConfigError(`alarms.${name}.threshold`, threshold, 'must be a finite number >= 0');
    }
    if (
      evaluationPeriods !== undefined &&
      (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1 || evaluationPeriods > 100)
    ) {
      throw new ConfigError(
        `alarms.${name}.evaluationPeriods`,
        evaluationPeriods,
        'must be an integer 1..100',
      );
    }
    if (period !== undefined && !period.isUnresolved()) {
      const seconds = period.toSeconds();
      if (seconds < 60 || seconds % 60 !== 0) {
        throw new ConfigError(
          `alarms.${name}.period`,
          `${seconds} s`,
          'must be a whole number of minutes',
        );
      }
    }
  }
}
