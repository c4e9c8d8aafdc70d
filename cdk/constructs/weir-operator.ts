/**
 * `WeirOperator`: one weir operator on serverless AWS. A Kinesis stream feeds a
 * Lambda function through an event source mapping (ESM) whose settings come
 * from the one shared description, {@link resolveEsmSettings}, which the local
 * ESM reads too, so deployed and local behaviour cannot drift.
 *
 *     Kinesis stream ──ESM (1 batch in flight per shard)──▶ Lambda (operator)
 *                        │ on failure: shard + sequence range      │
 *                        ▼                                         ├─▶ DynamoDB state table
 *                  SQS queue | SNS topic | S3 bucket               ├─▶ DynamoDB results table
 *                                                                  └─▶ S3 bucket (dead letters, late data, checkpoints)
 *     EventBridge rate(1 minute) ──▶ Lambda (ticker: same entry, export `ticker`, reserved concurrency 1)
 *        idle watermarks, due windows, outbox re-drive, purge; every `tickInterval` within an invocation
 *     EventBridge rate(1 minute) ──▶ Lambda (checkpointer: same entry, export `checkpointer`, reserved concurrency 1)
 *        a checkpoint every `checkpointInterval` (Scan ─▶ S3 `<prefix>/<operator>/checkpoints/`), continued
 *        call after call when the table is too large for one; retention of the last `checkpointRetain`
 *
 * Each function has its own role holding exactly the actions its code calls
 * (and, for the operator function, what the ESM needs), on exactly its
 * resources: test/integration/iam-from-usage.test.ts records the AWS calls of
 * both functions on the embedded AWS and checks them against the template,
 * both ways; test/cdk/weir-operator-iam.test.ts pins the lists.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConfigError } from '../../lib/errors.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingInput,
  type EventSourceMappingSettings,
} from '../../lib/runtime/esm-settings.ts';
import {
  WEIR_METRICS_NAMESPACE,
  WeirMetric,
  WeirMetricDimension,
  type WeirMetricName,
} from '../../lib/runtime/metrics-names.ts';
import { WeirEnv } from '../../lib/runtime/weir-env.ts';
import { resolveProjectFiles } from './project-files.ts';
import {
  checkpointLifecycleRule,
  checkpointSchedule,
  grantCheckpointer,
} from './weir-checkpoints.ts';
import type { CheckpointSchedule } from '../../lib/runtime/checkpoint/checkpoint-settings.ts';
import {
  WeirMonitoring,
  type WeirAlarmName,
  type WeirOperatorAlarms,
  type WeirOperatorMetricSource,
} from './weir-monitoring.ts';

/** Where the ESM sends the description of a batch it gave up on. */
export const OnFailureDestinationType = {
  SQS: 'sqs',
  SNS: 'sns',
  S3: 's3',
} as const;
/** Where the ESM sends the description of a batch it gave up on. */
export type OnFailureDestinationType =
  (typeof OnFailureDestinationType)[keyof typeof OnFailureDestinationType];

/**
 * Names shared by the construct, the local provisioner and the state store:
 * the template is the contract, these constants spell it.
 */
export const WeirResourceNames = {
  /** Partition key of the state table (string). */
  PARTITION_KEY: 'pk',
  /** Sort key of the state table (string). */
  SORT_KEY: 'sk',
  /** TTL attribute (epoch seconds) of the state table: tombstones and progress of retired shards expire. */
  TTL_ATTRIBUTE: 'expiresAt',
  /** Sparse GSI of windows waiting to fire. */
  DUE_INDEX: 'due',
  /** GSI partition key: `<operator>#<bucket>`, spread over several buckets so no single partition is hot. */
  DUE_INDEX_PARTITION_KEY: 'dueBucket',
  /** GSI sort key: zero-padded epoch ms at which the window becomes due. */
  DUE_INDEX_SORT_KEY: 'dueAt',
  /** Sparse GSI of open (not purged) windows by cleanup time. */
  EXPIRY_INDEX: 'expiry',
  /** GSI partition key: `<operator>#<bucket>`. */
  EXPIRY_INDEX_PARTITION_KEY: 'expiryBucket',
  /** GSI sort key: zero-padded cleanupAt (maxTimestamp + allowedLateness). */
  EXPIRY_INDEX_SORT_KEY: 'cleanupAt',
  /** Sparse GSI of fired results not yet acknowledged as emitted (the outbox). */
  OUTBOX_INDEX: 'outbox',
  /** GSI partition key: `<operator>#<bucket>`. */
  OUTBOX_INDEX_PARTITION_KEY: 'outboxBucket',
  /** GSI sort key: zero-padded processing time of the firing. */
  OUTBOX_INDEX_SORT_KEY: 'outboxAt',
  /** CloudFormation metadata key on the ticker function: marks it as the operator's scheduled ticker. */
  TICKER_METADATA: 'weir:ticker',
  /** CloudFormation metadata key on the checkpoint function: marks it as the operator's scheduled checkpointer. */
  CHECKPOINTER_METADATA: 'weir:checkpointer',
  /** CloudFormation metadata key on the function resource: the handler's source path, relative to the project root. */
  ENTRY_METADATA: 'weir:entry',
  /** CloudFormation metadata key on the function resource: the operator name. */
  OPERATOR_METADATA: 'weir:operator',
} as const;

/** Environment variables the construct sets on the operator function. */
export const WeirEnvironment = WeirEnv;

/**
 * What the construct reads from the operator's pipeline: its name and its
 * event-time settings. The `WindowedOperatorDefinition` a `pipeline(...)`
 * chain returns fits it.
 */
export interface WeirPipeline {
  /** The pipeline's name: the operator name (state keys, metrics, S3 prefixes). */
  readonly name: string;
  /** Event-time settings; `idleTimeout` (ms) is checked against the ticker's period. */
  readonly time: { readonly idleTimeout?: number | undefined };
}

/** Properties of a {@link WeirOperator}. */
export interface WeirOperatorProps {
  /**
   * The pipeline the handler runs (the definition `functions/<op>/pipeline.ts`
   * exports). The construct checks, at synth, that its name is the operator
   * name and that its `idleTimeout` is at least the ticker's period: a shard
   * can only be told idle, or kept active while Lambda retries it, by a tick.
   */
  readonly pipeline: WeirPipeline;

  /**
   * The operator's name: lower-case letters, digits and hyphens, starting with
   * a letter, 1..48 characters. It prefixes state keys and checkpoint paths,
   * so renaming an operator starts it from empty state. Must equal the
   * pipeline's name (the handler refuses to start otherwise).
   * @default pipeline.name
   */
  readonly operatorName?: string;

  /**
   * Path of the handler's TypeScript source (absolute, or relative to
   * `projectRoot`; without `projectRoot`, relative to the working directory).
   * Bundled with the locally installed esbuild, never Docker. The path
   * relative to `projectRoot` is recorded as metadata `weir:entry` on the
   * function resource, so the local ESM can run the same file.
   */
  readonly entry: string;

  /** Name of the exported handler function. @default 'handler' */
  readonly handler?: string;

  /**
   * The project root: bundling runs here, and `weir:entry` is recorded
   * relative to it. Independent of the working directory of `cdk synth`.
   * @default the folder of the first lock file above `entry`
   */
  readonly projectRoot?: string;

  /**
   * The lock file the bundle's dependencies come from.
   * @default the first of package-lock.json, yarn.lock, pnpm-lock.yaml, bun.lockb, bun.lock in `projectRoot` or above
   */
  readonly depsLockFilePath?: string;

  /**
   * Lambda runtime of both functions: Node.js 22 or newer.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;

  /**
   * An existing input stream. When omitted, the construct creates a
   * provisioned stream of `shardCount` shards (encrypted with the
   * AWS-managed key). A stream encrypted with a customer key gets
   * `kms:Decrypt` for both functions.
   * @default a new stream
   */
  readonly stream?: kinesis.IStream;

  /** Shards of the stream the construct creates; not allowed with `stream`. @default 1 */
  readonly shardCount?: number;

  /** Settings of the Kinesis event source mapping, validated by `resolveEsmSettings`. @default DEFAULT_ESM_SETTINGS */
  readonly eventSourceMapping?: EventSourceMappingInput;

  /**
   * Destination of the ESM's on-failure records (shard, sequence range and
   * reason of a batch it gave up on; `weir redrive` reads them back).
   * @default 'sqs'
   */
  readonly onFailure?: OnFailureDestinationType;

  /**
   * How long on-failure records are kept (SQS message retention, or the
   * expiry of objects in the S3 destination), 1..14 days. They point at
   * records in the stream, so keeping them past the stream's retention only
   * documents a loss.
   * @default Duration.days(14)
   */
  readonly onFailureRetention?: Duration;

  /**
   * How often a checkpoint is taken: whole minutes, 1 minute..7 days. The
   * checkpoint function runs every minute and takes one when this long has
   * passed since the newest one's capture (or continues one that did not
   * fit an invocation). The stream must hold two intervals (`streamRetention`).
   * @default Duration.hours(1)
   */
  readonly checkpointInterval?: Duration;

  /** Complete checkpoints kept; older ones are deleted after each new one. 1..1000. @default 24 */
  readonly checkpointRetain?: number;

  /**
   * How long a tombstone (a purged window's absorbed positions) lives in the
   * state table before DynamoDB TTL deletes it. Must be at least
   * (`checkpointRetain` + 1) x `checkpointInterval`, the age the oldest
   * retained checkpoint reaches (else a `ConfigError` naming both values).
   * @default the larger of 7 days and that age
   */
  readonly tombstoneTtl?: Duration;

  /**
   * The stream's retention, whole hours, 24..8760: set on the stream the
   * construct creates; for an existing `stream`, what it is configured with
   * (the construct cannot read it). Must be at least two checkpoint
   * intervals, or the newest checkpoint's positions could expire before the
   * next one is complete (a `ConfigError` naming both values).
   * @default Duration.hours(24)
   */
  readonly streamRetention?: Duration;

  /** Name of the exported checkpoint function in `entry`. @default 'checkpointer' */
  readonly checkpointHandler?: string;

  /**
   * Timeout of the checkpoint function, 1..15 minutes. A checkpoint stops
   * scanning ahead of it and continues in the next invocation.
   * @default Duration.minutes(5)
   */
  readonly checkpointTimeout?: Duration;

  /** Prefix of checkpoint keys: `<prefix>/<operator>/checkpoints/<id>/`. No leading or trailing slash. @default 'weir' */
  readonly checkpointPrefix?: string;

  /**
   * How long dead letters (`<prefix>/<operator>/dead-letter/`: raw bytes of
   * bad records) are kept in the bucket before S3 lifecycle expires them.
   * Whole days, 1..36500.
   * @default Duration.days(30)
   */
  readonly deadLetterRetention?: Duration;

  /**
   * How long late data (`<prefix>/<operator>/late/`) is kept in the bucket.
   * Whole days, 1..36500.
   * @default Duration.days(30)
   */
  readonly lateDataRetention?: Duration;

  /**
   * How long overwritten or deleted object versions stay recoverable in the
   * (versioned) buckets. Whole days, 1..36500.
   * @default Duration.days(7)
   */
  readonly noncurrentVersionRetention?: Duration;

  /**
   * Bucket for the S3 server access logs of the construct's buckets (a
   * `Bucket` is accepted as such: aws-cdk-lib's `Bucket` and `IBucket`
   * declarations disagree under `exactOptionalPropertyTypes`).
   * @default no access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket | s3.Bucket;

  /** Key prefix of the access logs in `serverAccessLogsBucket`. @default `<operator>/` */
  readonly serverAccessLogsPrefix?: string;

  /** Memory of the function in MiB, 128..10240. @default 1024 */
  readonly memorySize?: number;

  /** Function timeout, 1 s..15 min. The ticker gets at least its schedule's period plus one minute when it ticks repeatedly. @default Duration.minutes(1) */
  readonly timeout?: Duration;

  /** Name of the exported ticker function in `entry`. @default 'ticker' */
  readonly tickerHandler?: string;

  /**
   * How often EventBridge invokes the ticker: a `rate(...)` of one minute
   * (EventBridge's finest) up to one day.
   * @default events.Schedule.rate(Duration.minutes(1))
   */
  readonly tickerSchedule?: events.Schedule;

  /**
   * How often the ticker ticks (Flink's `autoWatermarkInterval`): 1 second
   * up to the schedule's period, which divides by it. Below the period, each
   * scheduled invocation ticks every `tickInterval` until the next invocation
   * is due; the ticker then runs all the time (billed as such), and the
   * schedule's period must be at most 14 minutes.
   * @default the schedule's period (one tick per invocation)
   */
  readonly tickInterval?: Duration;

  /** Extra environment variables for the function; the `WEIR_*` names are reserved. @default none */
  readonly environment?: Readonly<Record<string, string>>;

  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the tables, buckets and on-failure queue when the stack
   * is deleted. The stream is only affected when the construct creates it.
   * Unless DESTROY, the tables also get deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The operator's CloudWatch alarms (see `WeirOperatorAlarms`); each is on
   * by default, `false` turns one or all off.
   * @default every alarm with its default threshold
   */
  readonly alarms?: WeirOperatorAlarms | false;

  /** Actions every alarm takes when it goes to ALARM. @default none */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];

  /** An SNS topic every alarm notifies, in addition to `alarmActions`. @default none */
  readonly alarmTopic?: sns.ITopic;

  /** A CloudWatch dashboard of the operator. @default true */
  readonly dashboard?: boolean;

  /** Name of the dashboard. @default a name CloudFormation generates */
  readonly dashboardName?: string;
}

const OPERATOR_NAME = /^[a-z][a-z0-9-]{0,47}$/;
const CHECKPOINT_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;
const MINUTE_MS = 60_000;
/** The Kinesis actions Lambda's event source mapping performs with the function's role (standard iterators, no enhanced fan-out). */
const ESM_KINESIS_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

/**
 * One weir operator: input stream, state and results tables, bucket, the
 * operator function and its Kinesis event source mapping with an on-failure
 * destination, the ticker, alarms and a dashboard.
 *
 * @example
 * const clicks = new kinesis.Stream(this, 'Clicks', { shardCount: 4 });
 * const op = new WeirOperator(this, 'ClickCounter', {
 *   pipeline: clickCounter, // from functions/click-counter/pipeline.ts
 *   entry: 'functions/click-counter/handler.ts',
 *   projectRoot: PROJECT_ROOT,
 *   stream: clicks,
 *   eventSourceMapping: { batchSize: 500, maximumRetryAttempts: 5 },
 *   alarmTopic: opsTopic,
 * });
 */
export class WeirOperator extends Construct implements WeirOperatorMetricSource {
  /** The operator's name (the pipeline's). */
  readonly operatorName: string;
  /** The input stream. */
  readonly stream: kinesis.IStream;
  /** Keyed window state, shard progress, due/expiry/outbox indexes. */
  readonly stateTable: dynamodb.Table;
  /** Window results (DynamoDbResultSink layout: `pk`/`sk` strings). */
  readonly resultsTable: dynamodb.Table;
  /** Checkpoint manifests and state parts; also dead letters and late data under `<prefix>/<operator>/`. */
  readonly checkpointBucket: s3.Bucket;
  /** The checkpoint key prefix (without the operator). */
  readonly checkpointPrefix: string;
  /** The operator function. */
  readonly function: nodejs.NodejsFunction;
  /** The scheduled ticker function (same entry, export `tickerHandler`). */
  readonly tickerFunction: nodejs.NodejsFunction;
  /** The EventBridge rule that invokes the ticker. */
  readonly tickerRule: events.Rule;
  /** Period of the ticker's schedule. */
  readonly tickerPeriod: Duration;
  /** Time between two ticks (equal to `tickerPeriod` unless `tickInterval` is shorter). */
  readonly tickInterval: Duration;
  /** The Kinesis event source mapping. */
  readonly eventSourceMapping: lambda.EventSourceMapping;
  /** The ESM settings after defaults and validation: exactly what was deployed. */
  readonly eventSourceMappingSettings: EventSourceMappingSettings;
  /** The kind of on-failure destination. */
  readonly onFailureType: OnFailureDestinationType;
  /** The on-failure queue, when `onFailure` is 'sqs'. */
  readonly failureQueue: sqs.Queue | undefined;
  /** The scheduled checkpoint function (same entry, export `checkpointHandler`). */
  readonly checkpointFunction: nodejs.NodejsFunction;
  /** The EventBridge rule that invokes the checkpoint function every minute. */
  readonly checkpointRule: events.Rule;
  /** Checkpoint interval, retention, tombstone TTL and stream retention, validated together. */
  readonly checkpointSchedule: CheckpointSchedule;
  /** The on-failure topic, when `onFailure` is 'sns'. */
  readonly failureTopic: sns.Topic | undefined;
  /** The on-failure bucket, when `onFailure` is 's3'. */
  readonly failureBucket: s3.Bucket | undefined;
  /** The handler's source path relative to the project root, as recorded in `weir:entry`. */
  readonly entryPath: string;
  /** The project root the entry is recorded relative to and bundled from. */
  readonly projectRoot: string;
  /** The alarms created, by name (absent: turned off). */
  readonly alarms: Readonly<Partial<Record<WeirAlarmName, cloudwatch.Alarm>>>;
  /** The dashboard, unless turned off. */
  readonly dashboard: cloudwatch.Dashboard | undefined;

  constructor(scope: Construct, id: string, props: WeirOperatorProps) {
    super(scope, id);
    // Validate first, so a bad value fails here with weir's message, before
    // CDK's own checks or any resource is created.
    const operatorName = validateProps(props);
    const settings = resolveEsmSettings(props.eventSourceMapping ?? {});
    const schedule = props.tickerSchedule ?? events.Schedule.rate(Duration.minutes(1));
    const { period, interval } = tickerTiming(schedule, props.tickInterval);
    checkIdleTimeout(props.pipeline, schedule, period, interval);
    const runtime = props.runtime ?? lambda.Runtime.NODEJS_24_X;
    const nodeMajor = checkRuntime(runtime);
    this.checkpointSchedule = checkpointSchedule(props);
    const files = resolveProjectFiles({
      entry: props.entry,
      ...(props.projectRoot !== undefined ? { projectRoot: props.projectRoot } : {}),
      ...(props.depsLockFilePath !== undefined ? { depsLockFilePath: props.depsLockFilePath } : {}),
    });
    const retention = {
      deadLetters: days('deadLetterRetention', props.deadLetterRetention, 30, 36_500),
      late: days('lateDataRetention', props.lateDataRetention, 30, 36_500),
      noncurrent: days('noncurrentVersionRetention', props.noncurrentVersionRetention, 7, 36_500),
      onFailure: days('onFailureRetention', props.onFailureRetention, 14, 14),
    };

    this.eventSourceMappingSettings = settings;
    this.operatorName = operatorName;
    this.checkpointPrefix = props.checkpointPrefix ?? 'weir';
    this.onFailureType = props.onFailure ?? OnFailureDestinationType.SQS;
    this.tickerPeriod = Duration.millis(period);
    this.tickInterval = Duration.millis(interval);
    this.entryPath = files.entryPath;
    this.projectRoot = files.projectRoot;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;
    const operatorPrefix = `${this.checkpointPrefix}/${operatorName}`;
    const accessLogs =
      props.serverAccessLogsBucket === undefined
        ? {}
        : {
            // At run time a Bucket is an IBucket (see the prop's note).
            serverAccessLogsBucket: props.serverAccessLogsBucket as s3.IBucket,
            serverAccessLogsPrefix: props.serverAccessLogsPrefix ?? `${operatorName}/`,
          };

    this.stream =
      props.stream ??
      new kinesis.Stream(this, 'Stream', {
        shardCount: props.shardCount ?? 1,
        streamMode: kinesis.StreamMode.PROVISIONED,
        encryption: kinesis.StreamEncryption.MANAGED,
        retentionPeriod: Duration.hours(this.checkpointSchedule.streamRetentionHours),
        removalPolicy,
      });

    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: WeirResourceNames.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: WeirResourceNames.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: WeirResourceNames.TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !destroy,
      removalPolicy,
    });
    // Three sparse indexes (see docs/state-table.md): an item carries an
    // index's attributes only while it belongs there. KEYS_ONLY: an index
    // write then happens only when the item enters, moves in or leaves the
    // index, not on every accumulator update; the store reads the base item
    // (strongly consistent) after the query, because a GSI is only
    // eventually consistent.
    for (const [indexName, partitionKey, sortKey] of STATE_INDEXES) {
      this.stateTable.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }

    this.resultsTable = new dynamodb.Table(this, 'ResultsTable', {
      partitionKey: { name: WeirResourceNames.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: WeirResourceNames.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !destroy,
      removalPolicy,
    });

    this.checkpointBucket = new s3.Bucket(this, 'CheckpointBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'DeadLetters',
          prefix: `${operatorPrefix}/dead-letter/`,
          expiration: Duration.days(retention.deadLetters),
        },
        {
          id: 'LateData',
          prefix: `${operatorPrefix}/late/`,
          expiration: Duration.days(retention.late),
        },
        checkpointLifecycleRule(`${operatorPrefix}/checkpoints/`),
        ...housekeepingRules(retention.noncurrent),
      ],
      ...accessLogs,
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    const common = {
      runtime,
      nodeMajor,
      files,
      memorySize: props.memorySize ?? 1024,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    };
    const environment: Record<string, string> = {
      // Stack traces point into the TypeScript sources (the bundle carries a source map).
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
      [WeirEnv.OPERATOR]: operatorName,
      [WeirEnv.STATE_TABLE]: this.stateTable.tableName,
      [WeirEnv.RESULTS_TABLE]: this.resultsTable.tableName,
      [WeirEnv.CHECKPOINT_BUCKET]: this.checkpointBucket.bucketName,
      [WeirEnv.CHECKPOINT_PREFIX]: this.checkpointPrefix,
      [WeirEnv.OUTPUT_BUCKET]: this.checkpointBucket.bucketName,
      [WeirEnv.STREAM_NAME]: this.stream.streamName,
      [WeirEnv.STREAM_ARN]: this.stream.streamArn,
      [WeirEnv.CHECKPOINT_INTERVAL_MS]: String(this.checkpointSchedule.intervalMs),
      [WeirEnv.CHECKPOINT_RETAIN]: String(this.checkpointSchedule.retain),
      [WeirEnv.STREAM_RETENTION_HOURS]: String(this.checkpointSchedule.streamRetentionHours),
      [WeirEnv.TOMBSTONE_TTL_SECONDS]: String(this.checkpointSchedule.tombstoneTtlSeconds),
    };
    const timeout = props.timeout ?? Duration.minutes(1);
    this.function = this.operatorFunction('', props.handler ?? 'handler', {
      ...common,
      environment,
      timeout,
    });

    // The ticker: same bundle entry, another export. Ticks are idempotent
    // (conditional firing, versioned outbox), so an overlapping tick is safe.
    const looping = interval < period;
    this.tickerFunction = this.operatorFunction('Ticker', props.tickerHandler ?? 'ticker', {
      ...common,
      environment,
      // A looping ticker runs for a whole period, plus one tick's worth.
      timeout: looping
        ? Duration.millis(Math.max(timeout.toMilliseconds(), period + MINUTE_MS))
        : timeout,
      // One ticker at a time: a late invocation waits (throttled, retried) instead of racing the previous one.
      reservedConcurrentExecutions: 1,
    });
    (this.tickerFunction.node.defaultChild as lambda.CfnFunction).addMetadata(
      WeirResourceNames.TICKER_METADATA,
      true,
    );
    // A failed tick is not retried: the next scheduled tick redoes all of its work.
    this.tickerFunction.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.millis(Math.max(period, MINUTE_MS)),
    });
    this.tickerRule = new events.Rule(this, 'TickerSchedule', {
      schedule,
      targets: [
        new targets.LambdaFunction(this.tickerFunction, {
          retryAttempts: 0,
          // The ticker's cadence travels with the event (lib/runtime/lambda/tick-loop.ts, TickSchedule).
          event: events.RuleTargetInput.fromObject({
            tickIntervalMs: interval,
            tickerPeriodMs: period,
          }),
        }),
      ],
    });

    // The checkpointer: same bundle entry, another export, one at a time (a taking spans
    // invocations through its saved cursors, never two takers side by side).
    this.checkpointFunction = this.operatorFunction(
      'Checkpoint',
      props.checkpointHandler ?? 'checkpointer',
      {
        ...common,
        environment,
        timeout: props.checkpointTimeout ?? Duration.minutes(5),
        reservedConcurrentExecutions: 1,
      },
    );
    (this.checkpointFunction.node.defaultChild as lambda.CfnFunction).addMetadata(
      WeirResourceNames.CHECKPOINTER_METADATA,
      true,
    );
    // A failed or throttled call is not retried: the next minute's call redoes it from the saved cursors.
    this.checkpointFunction.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    this.checkpointRule = new events.Rule(this, 'CheckpointSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.checkpointFunction, { retryAttempts: 0 })],
    });

    const onFailure = this.createOnFailureDestination(removalPolicy, retention, accessLogs);
    const alarmsOn = props.alarms !== false;
    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'KinesisEventSource', {
      target: this.function,
      eventSourceArn: this.stream.streamArn,
      batchSize: settings.batchSize,
      maxBatchingWindow: Duration.seconds(settings.maximumBatchingWindowInSeconds),
      startingPosition: lambda.StartingPosition[settings.startingPosition],
      ...(settings.startingPositionTimestamp !== undefined
        ? { startingPositionTimestamp: settings.startingPositionTimestamp }
        : {}),
      bisectBatchOnError: settings.bisectBatchOnFunctionError,
      retryAttempts: settings.maximumRetryAttempts,
      // -1 (never discard) is AWS's default and is expressed by leaving the property out.
      ...(settings.maximumRecordAgeInSeconds === -1
        ? {}
        : { maxRecordAge: Duration.seconds(settings.maximumRecordAgeInSeconds) }),
      reportBatchItemFailures: settings.reportBatchItemFailures,
      parallelizationFactor: settings.parallelizationFactor,
      onFailure,
      supportS3OnFailureDestination: true,
      // Event counts, among them OnFailureDestinationDeliveredEventCount (the on-failure alarm and the dashboard).
      ...(alarmsOn || props.dashboard !== false
        ? { metricsConfig: { metrics: [lambda.MetricType.EVENT_COUNT] } }
        : {}),
    });

    this.grantFunctionPermissions(operatorPrefix);
    this.grantTickerPermissions();
    grantCheckpointer(
      this.checkpointFunction,
      this.stateTable,
      this.checkpointBucket,
      `${operatorPrefix}/checkpoints/`,
    );
    this.acknowledgeNagFindings();

    const monitoring = new WeirMonitoring(this, 'Monitoring', {
      source: this,
      ...(props.alarms !== undefined ? { alarms: props.alarms } : {}),
      ...(props.alarmActions !== undefined ? { alarmActions: props.alarmActions } : {}),
      ...(props.alarmTopic !== undefined ? { alarmTopic: props.alarmTopic } : {}),
      ...(props.dashboard !== undefined ? { dashboard: props.dashboard } : {}),
      ...(props.dashboardName !== undefined ? { dashboardName: props.dashboardName } : {}),
    });
    this.alarms = monitoring.alarms;
    this.dashboard = monitoring.dashboard;
  }

  /** One of the two functions: its own role (no managed policy), log group and bundling settings. */
  private operatorFunction(
    id: '' | 'Ticker' | 'Checkpoint',
    handler: string,
    o: {
      runtime: lambda.Runtime;
      nodeMajor: number;
      files: ReturnType<typeof resolveProjectFiles>;
      memorySize: number;
      logRetention: logs.RetentionDays;
      removalPolicy: RemovalPolicy;
      environment: Record<string, string>;
      timeout: Duration;
      reservedConcurrentExecutions?: number;
    },
  ): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}LogGroup`, {
      retention: o.logRetention,
      removalPolicy: o.removalPolicy,
    });
    const role = new iam.Role(this, `${id}FunctionRole`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `weir: operator ${this.operatorName}: ${id === '' ? 'operator function' : id === 'Ticker' ? 'ticker' : 'checkpointer'}`,
    });
    // In place of AWSLambdaBasicExecutionRole: the log group exists, so only streams and events, only in it.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new nodejs.NodejsFunction(this, `${id}Function`, {
      entry: o.files.entry,
      projectRoot: o.files.projectRoot,
      depsLockFilePath: o.files.depsLockFilePath,
      handler,
      runtime: o.runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: o.memorySize,
      timeout: o.timeout,
      logGroup,
      role,
      environment: o.environment,
      ...(o.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: o.reservedConcurrentExecutions }
        : {}),
      bundling: {
        // The locally installed esbuild; never Docker (the machines have none).
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: `node${o.nodeMajor}`,
        platform: 'node',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // Bundle the AWS SDK pinned by the lockfile rather than the one the
        // runtime happens to ship, so deployed code runs what the tests ran.
        externalModules: [],
        // CommonJS dependencies inside an ESM bundle still call require().
        banner:
          "import { createRequire as __weirCreateRequire } from 'node:module'; const require = __weirCreateRequire(import.meta.url);",
      },
    });
    const cfn = fn.node.defaultChild as lambda.CfnFunction;
    cfn.addMetadata(WeirResourceNames.ENTRY_METADATA, o.files.entryPath);
    cfn.addMetadata(WeirResourceNames.OPERATOR_METADATA, this.operatorName);
    return fn;
  }

  private createOnFailureDestination(
    removalPolicy: RemovalPolicy,
    retention: { readonly onFailure: number; readonly noncurrent: number },
    accessLogs: Pick<s3.BucketProps, 'serverAccessLogsBucket' | 'serverAccessLogsPrefix'>,
  ): lambda.IEventSourceDlq {
    // Destinations bind without granting anything: the grants below are exactly what AWS documents for a
    // stream ESM's on-failure destination (CDK's SqsDlq and S3OnFailureDestination grant more).
    switch (this.onFailureType) {
      case OnFailureDestinationType.SQS: {
        const queue = new sqs.Queue(this, 'FailureQueue', {
          // On-failure records are the only pointer to a skipped range.
          retentionPeriod: Duration.days(retention.onFailure),
          enforceSSL: true,
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          removalPolicy,
        });
        (this as { failureQueue: sqs.Queue | undefined }).failureQueue = queue;
        this.function.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
        );
        return destination(queue.queueArn);
      }
      case OnFailureDestinationType.SNS: {
        const topic = new sns.Topic(this, 'FailureTopic', {
          enforceSSL: true,
          // The AWS-managed key: the ESM publishes with the function's role, which its key policy admits.
          masterKey: kms.Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
        });
        (this as { failureTopic: sns.Topic | undefined }).failureTopic = topic;
        this.function.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
        );
        return destination(topic.topicArn);
      }
      case OnFailureDestinationType.S3: {
        const bucket = new s3.Bucket(this, 'FailureBucket', {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          enforceSSL: true,
          encryption: s3.BucketEncryption.S3_MANAGED,
          versioned: true,
          lifecycleRules: [
            { id: 'OnFailureRecords', expiration: Duration.days(retention.onFailure) },
            ...housekeepingRules(retention.noncurrent),
          ],
          ...accessLogs,
          removalPolicy,
          autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
        });
        (this as { failureBucket: s3.Bucket | undefined }).failureBucket = bucket;
        this.function.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['s3:PutObject'],
            resources: [bucket.arnForObjects('*')],
          }),
        );
        this.function.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
        );
        return destination(bucket.bucketArn);
      }
    }
  }

  /**
   * The operator function: what the ESM needs, shard registration, the batch
   * algorithm's state reads and writes (including firing and purging at
   * batch end), result writes, and dead letters and late data under the
   * operator's prefix.
   */
  private grantFunctionPermissions(operatorPrefix: string): void {
    const fn = this.function;
    this.stream.grant(fn, ...ESM_KINESIS_ACTIONS);
    this.stream.encryptionKey?.grantDecrypt(fn);
    this.grantBatchAlgorithm(fn, operatorPrefix);
  }

  /**
   * What a batch through the operator runtime writes, for the function and
   * `weir redrive` alike: state (DeleteItem: session merges delete the
   * merged windows, in a TransactWriteItems), firing and purging at batch
   * end over the due and expiry indexes, result writes, and dead letters and
   * late data under the operator's prefix.
   */
  private grantBatchAlgorithm(grantee: iam.IGrantable, operatorPrefix: string): void {
    this.grantState(
      grantee,
      [...STATE_READS_AND_WRITES, 'dynamodb:DeleteItem'],
      [WeirResourceNames.DUE_INDEX, WeirResourceNames.EXPIRY_INDEX],
    );
    this.resultsTable.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem');
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [
          this.checkpointBucket.arnForObjects(`${operatorPrefix}/dead-letter/*`),
          this.checkpointBucket.arnForObjects(`${operatorPrefix}/late/*`),
        ],
      }),
    );
  }

  /**
   * The ticker: shard registration and the end-of-shard and backlog checks
   * (ListShards, GetShardIterator, GetRecords), firing, purging and outbox
   * re-drive over the state table and its three indexes, result writes. A
   * tick never deletes a window (only batches merge sessions).
   */
  private grantTickerPermissions(): void {
    const fn = this.tickerFunction;
    this.stream.grant(fn, 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords');
    this.stream.encryptionKey?.grantDecrypt(fn);
    this.grantState(fn, STATE_READS_AND_WRITES, [
      WeirResourceNames.DUE_INDEX,
      WeirResourceNames.EXPIRY_INDEX,
      WeirResourceNames.OUTBOX_INDEX,
    ]);
    this.resultsTable.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem');
  }

  /**
   * What DynamoDbStateStore calls on the table (TransactWriteItems is
   * authorized as its Put and Delete actions), and Query on the named
   * indexes. No Scan, no BatchWriteItem, no stream actions.
   */
  private grantState(
    grantee: iam.IGrantable,
    actions: readonly string[],
    indexes: readonly string[],
  ): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...actions], resources: [this.stateTable.tableArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: indexes.map((i) => `${this.stateTable.tableArn}/index/${i}`),
      }),
    );
  }

  /**
   * cdk-nag findings (AwsSolutions and Serverless packs) that follow from the
   * design, each acknowledged where it arises with its reason; docs/deploy.md
   * lists them. test/cdk/cdk-nag.test.ts fails on any other finding.
   */
  private acknowledgeNagFindings(): void {
    const stack = Stack.of(this);
    const objects = (bucket: s3.Bucket, keys: string): string =>
      `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${keys}]`;
    const prefix = `${this.checkpointPrefix}/${this.operatorName}`;
    const role = this.function.role;
    if (role !== undefined) {
      Validations.of(role).acknowledge(
        {
          id: objects(this.checkpointBucket, `${prefix}/dead-letter/*`),
          reason:
            'Dead-letter keys are derived per record (shard, position); the grant is s3:PutObject under the operator dead-letter prefix only.',
        },
        {
          id: objects(this.checkpointBucket, `${prefix}/late/*`),
          reason:
            'Late-data keys are derived per record (output, shard, position); the grant is s3:PutObject under the operator late-data prefix only.',
        },
        ...(this.failureBucket !== undefined
          ? [
              {
                id: objects(this.failureBucket, '*'),
                reason:
                  'Lambda names the on-failure objects itself; AWS documents s3:PutObject on the destination bucket objects (plus s3:ListBucket) for a stream ESM.',
              },
            ]
          : []),
      );
    }
    Validations.of(this.function).acknowledge(
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          'Invoked synchronously by the Kinesis event source mapping: a batch it gives up on goes to the mapping on-failure destination (DestinationConfig), which a function DLQ would never see.',
      },
      {
        id: 'Serverless-LambdaTracing',
        reason:
          'weir does not instrument its AWS SDK calls, so active tracing would record only the invocation segment, which Lambda metrics and the logs already give, at extra cost and with an xray grant on every resource.',
      },
    );
    const tickIsRedone =
      'A tick carries no data (the scheduled event is empty) and recomputes everything from state, so a failed or dropped tick is redone by the next one; failures show in the tickerErrors alarm.';
    Validations.of(this.tickerFunction).acknowledge(
      { id: 'Serverless-LambdaDLQ', reason: tickIsRedone },
      { id: 'Serverless-LambdaAsyncFailureDestination', reason: tickIsRedone },
      {
        id: 'Serverless-LambdaTracing',
        reason:
          'weir does not instrument its AWS SDK calls; active tracing would only repeat what the ticker metrics and logs show.',
      },
    );
    Validations.of(this.tickerRule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason: tickIsRedone,
    });
    const checkpointIsRedone =
      'A checkpoint call carries no data and saves its progress (in-progress.json) as it goes, so a failed or dropped call is continued by the next one a minute later; failures show in the function Errors metric.';
    Validations.of(this.checkpointFunction).acknowledge(
      { id: 'Serverless-LambdaDLQ', reason: checkpointIsRedone },
      { id: 'Serverless-LambdaAsyncFailureDestination', reason: checkpointIsRedone },
      {
        id: 'Serverless-LambdaTracing',
        reason:
          'weir does not instrument its AWS SDK calls; active tracing would only repeat what the checkpoint log lines and metrics show.',
      },
    );
    const checkpointRole = this.checkpointFunction.role;
    if (checkpointRole !== undefined) {
      Validations.of(checkpointRole).acknowledge({
        id: objects(this.checkpointBucket, `${prefix}/checkpoints/*`),
        reason:
          'Checkpoint keys are derived per checkpoint id and part; the grant is Put/Get/DeleteObject under the operator checkpoint prefix only.',
      });
    }
    Validations.of(this.checkpointRule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason: checkpointIsRedone,
    });
    if (this.failureQueue !== undefined) {
      const isTheDlq =
        'This queue is itself the dead-letter store: the on-failure destination of the event source mapping. Its messages point at skipped stream ranges and are consumed by weir redrive; a further DLQ would only hide them.';
      Validations.of(this.failureQueue).acknowledge(
        { id: 'AwsSolutions-SQS3', reason: isTheDlq },
        { id: 'Serverless-SQSRedrivePolicy', reason: isTheDlq },
      );
    }
  }

  /** Read access to the operator's state (e.g. a query API or `weir status`). */
  grantReadState(grantee: iam.IGrantable): iam.Grant {
    return this.stateTable.grantReadData(grantee);
  }

  /**
   * Read and write access to the operator's state (CDK's `grantReadWriteData`). For `weir restore`,
   * {@link grantRestore} is exact.
   */
  grantReadWriteState(grantee: iam.IGrantable): iam.Grant {
    return this.stateTable.grantReadWriteData(grantee);
  }

  /**
   * Read access under `<prefix>/<operator>/` (CDK's `grantRead`: `s3:GetObject*`,
   * `s3:GetBucket*`, `s3:List*`). Covers every call `weir checkpoints --verify` makes (checked by
   * test/integration/iam-cli-grants.test.ts), more broadly than it needs; {@link grantCheckpoint}
   * and {@link grantRestore} are exact.
   */
  grantReadCheckpoints(grantee: iam.IGrantable): iam.Grant {
    return this.checkpointBucket.grantRead(
      grantee,
      `${this.checkpointPrefix}/${this.operatorName}/*`,
    );
  }

  /**
   * Read and write access under `<prefix>/<operator>/` (CDK's `grantReadWrite`). For `weir
   * checkpoint`, {@link grantCheckpoint} is exact.
   */
  grantReadWriteCheckpoints(grantee: iam.IGrantable): iam.Grant {
    return this.checkpointBucket.grantReadWrite(
      grantee,
      `${this.checkpointPrefix}/${this.operatorName}/*`,
    );
  }

  /**
   * Exactly what `weir redrive` calls (proved from usage by
   * test/integration/iam-cli-grants.test.ts): read the on-failure records
   * (SQS ReceiveMessage, ChangeMessageVisibility, DeleteMessage on the
   * queue; or S3 ListBucket and GetObject on the failure bucket), read the
   * stream from the recorded positions (GetShardIterator, GetRecords), and
   * apply them through the operator runtime as a batch does: state, results
   * table, dead letters and late data under the operator's prefix. For an
   * SNS destination, grant the queue subscribed to the topic yourself.
   */
  grantRedrive(grantee: iam.IGrantable): void {
    if (this.failureQueue !== undefined) {
      this.failureQueue.grant(
        grantee,
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
      );
      this.failureQueue.encryptionMasterKey?.grantDecrypt(grantee);
    }
    if (this.failureBucket !== undefined) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [this.failureBucket.bucketArn],
        }),
      );
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [this.failureBucket.arnForObjects('*')],
        }),
      );
    }
    this.stream.grant(grantee, 'kinesis:GetShardIterator', 'kinesis:GetRecords');
    this.stream.encryptionKey?.grantDecrypt(grantee);
    this.grantBatchAlgorithm(grantee, `${this.checkpointPrefix}/${this.operatorName}`);
  }

  /**
   * Exactly what `weir status` calls (proved from usage by
   * test/integration/iam-cli-grants.test.ts), all reads: Query on the state
   * table (the progress) and its three indexes (window counts), ListShards,
   * GetShardIterator and GetRecords on the stream (the lag read).
   */
  grantStatus(grantee: iam.IGrantable): void {
    this.grantState(
      grantee,
      ['dynamodb:Query'],
      STATE_INDEXES.map(([name]) => name),
    );
    this.stream.grant(
      grantee,
      'kinesis:ListShards',
      'kinesis:GetShardIterator',
      'kinesis:GetRecords',
    );
    this.stream.encryptionKey?.grantDecrypt(grantee);
  }

  /**
   * Exactly what `weir checkpoint` and `weir checkpoints` (with `--verify`)
   * call, proved from usage by test/integration/iam-cli-grants.test.ts:
   *
   * - `dynamodb:Query` (the shards' progress; a key's windows when
   *   `--merging-windows` settles session keys) and `dynamodb:Scan` (the
   *   parallel segmented scan) on the state table;
   * - `s3:PutObject`, `s3:GetObject`, `s3:DeleteObject` on
   *   `<prefix>/<operator>/checkpoints/*` (parts, `in-progress.json`,
   *   manifests; `--retain` deletes older checkpoints; `--verify` reads every
   *   part back) and `s3:ListBucket` on the bucket, only with an `s3:prefix`
   *   like `<prefix>/<operator>/checkpoints/*`;
   * - `kinesis:DescribeStreamSummary` on the stream (the stream's ARN when
   *   `--stream` or `WEIR_STREAM_NAME` gives its name).
   *
   * The same grant the checkpoint function's role holds, plus that describe.
   * Nothing else of the bucket (no dead letters, no late data), no state
   * write. For a principal that only lists (`weir checkpoints`),
   * {@link grantReadCheckpoints} covers every call too, more broadly.
   *
   * @example
   * const oncall = new iam.Role(this, 'Oncall', { assumedBy: new iam.AccountRootPrincipal() });
   * op.grantCheckpoint(oncall); // weir checkpoint --operator click-counter --retain 24
   */
  grantCheckpoint(grantee: iam.IGrantable): void {
    grantCheckpointer(
      grantee,
      this.stateTable,
      this.checkpointBucket,
      `${this.checkpointPrefix}/${this.operatorName}/checkpoints/`,
    );
    this.stream.grant(grantee, 'kinesis:DescribeStreamSummary');
  }

  /**
   * Exactly what `weir restore` calls. All but the Lambda calls are proved
   * from usage by test/integration/iam-cli-grants.test.ts (a restore that
   * replays a result write, late data and a dead letter on the embedded
   * AWS); the embedded AWS has no Lambda, so the Lambda calls are derived by
   * running the restore's mapping code (`findMappingUuid`,
   * `LambdaMappingControl`) against a recording client and checked against
   * this grant by test/cdk/weir-operator-recovery-grants.test.ts:
   *
   * - pausing and resuming the event source mapping:
   *   `lambda:ListEventSourceMappings` on `*` (`--function-name`; the action
   *   takes no resource), `lambda:GetEventSourceMapping` and
   *   `lambda:UpdateEventSourceMapping` on this operator's mapping;
   * - the checkpoint: `s3:ListBucket` on the bucket with an `s3:prefix` like
   *   `<prefix>/<operator>/checkpoints/*` (finding `latest` and the
   *   manifest), `s3:GetObject` on `<prefix>/<operator>/checkpoints/*`
   *   (manifest, every part verified);
   * - the state table's restore (raise the generation, clear, load, reset
   *   progress) and the replay's batches: `dynamodb:BatchGetItem`,
   *   `GetItem`, `PutItem`, `Query`, `UpdateItem`, `DeleteItem` and `Scan` on
   *   the state table, `dynamodb:Query` on the `due`, `expiry` and `outbox`
   *   indexes (firing, purging and the closing tick's outbox re-drive);
   * - the stream: `kinesis:ListShards`, `GetShardIterator`, `GetRecords`,
   *   and `kms:Decrypt` on the stream's key when it has a customer key;
   * - what a batch writes besides state: `dynamodb:GetItem`, `PutItem` on the
   *   results table, `s3:PutObject` under `<prefix>/<operator>/dead-letter/`
   *   and `<prefix>/<operator>/late/`.
   *
   * No checkpoint write or delete, no other object of the bucket. The
   * checkpoint bucket is SSE-S3 and the tables use AWS-owned keys: no other
   * KMS grant is needed.
   *
   * @example
   * const oncall = new iam.Role(this, 'Oncall', { assumedBy: new iam.AccountRootPrincipal() });
   * op.grantRestore(oncall); // weir restore --operator click-counter --function-name F --pipeline M
   */
  grantRestore(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:ListEventSourceMappings'], resources: ['*'] }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
        resources: [this.eventSourceMapping.eventSourceMappingArn],
      }),
    );
    const checkpoints = `${this.checkpointPrefix}/${this.operatorName}/checkpoints/`;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.checkpointBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${checkpoints}*`] } },
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.checkpointBucket.arnForObjects(`${checkpoints}*`)],
      }),
    );
    this.stream.grant(
      grantee,
      'kinesis:ListShards',
      'kinesis:GetShardIterator',
      'kinesis:GetRecords',
    );
    this.stream.encryptionKey?.grantDecrypt(grantee);
    this.grantBatchAlgorithm(grantee, `${this.checkpointPrefix}/${this.operatorName}`);
    // Beyond a batch: clearing the state scans it; the closing tick re-drives the outbox.
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Scan'],
        resources: [this.stateTable.tableArn],
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.stateTable.tableArn}/index/${WeirResourceNames.OUTBOX_INDEX}`],
      }),
    );
  }

  /**
   * Age of the last record in each batch when Lambda read it: how far the
   * operator is behind the stream's tip. Maximum over 1 minute by default.
   */
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('IteratorAge', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Invocations of the operator function that failed (the ESM retries, bisects and finally sends an on-failure record). Sum over 5 minutes. */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors(props);
  }

  /** Invocations of the operator function (batches). Sum over 5 minutes. */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricInvocations(props);
  }

  /** Throttled invocations of the operator function. Sum over 5 minutes. */
  metricThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricThrottles(props);
  }

  /** Run time of the operator function. Average over 5 minutes. */
  metricDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricDuration(props);
  }

  /** Failed ticker invocations (including ticks with a refused AWS call). Sum over 5 minutes. */
  metricTickerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.tickerFunction.metricErrors(props);
  }

  /** Ticker invocations. Sum over 5 minutes. */
  metricTickerInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.tickerFunction.metricInvocations(props);
  }

  /** Throttled ticker invocations (a tick still running when the next was due). Sum over 5 minutes. */
  metricTickerThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.tickerFunction.metricThrottles(props);
  }

  /** Run time of the ticker. Average over 5 minutes. */
  metricTickerDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.tickerFunction.metricDuration(props);
  }

  /**
   * Records the event source mapping sent to the on-failure destination (it
   * gave up on their batch; `weir redrive` brings them back): Lambda's ESM
   * metric `OnFailureDestinationDeliveredEventCount` (the construct turns on
   * the mapping's event-count metrics unless alarms and dashboard are off).
   * Sum over 5 minutes.
   */
  metricOnFailureDeliveries(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OnFailureDestinationDeliveredEventCount',
      dimensionsMap: { EventSourceMappingUUID: this.eventSourceMapping.eventSourceMappingId },
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /**
   * Times Lambda failed to deliver an on-failure record to the destination
   * (permissions, size, a deleted destination): Lambda's
   * `DestinationDeliveryFailures` for the operator function. Sum over 5 minutes.
   */
  metricOnFailureDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('DestinationDeliveryFailures', {
      statistic: cloudwatch.Stats.SUM,
      ...props,
    });
  }

  /** On-failure records waiting to be redriven (SQS destination only; undefined otherwise). */
  metricOnFailureBacklog(props?: cloudwatch.MetricOptions): cloudwatch.Metric | undefined {
    return this.failureQueue?.metricApproximateNumberOfMessagesVisible({
      statistic: cloudwatch.Stats.MAXIMUM,
      ...props,
    });
  }

  /**
   * One of weir's own metrics (namespace `Weir`, dimension `Operator`), with
   * its natural statistic (see lib/runtime/metrics-names.ts). 5 minutes.
   */
  metricWeir(name: WeirMetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    const m = WeirMetric[name];
    return new cloudwatch.Metric({
      namespace: WEIR_METRICS_NAMESPACE,
      metricName: m.name,
      dimensionsMap: { [WeirMetricDimension.OPERATOR]: this.operatorName },
      statistic: m.statistic,
      ...props,
    });
  }

  /** Records a batch delivered (`RecordsIn`). Sum. */
  metricRecordsIn(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsIn', props);
  }

  /** Records in state for at least one window (`RecordsApplied`). Sum. */
  metricRecordsApplied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsApplied', props);
  }

  /** Records sent to the late-data output (`RecordsLate`). Sum. */
  metricRecordsLate(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsLate', props);
  }

  /**
   * Records sent to the dead-letter output (`RecordsDeadLettered`), all
   * reasons. Sum. For one reason, pass
   * `dimensionsMap: { Operator: op.operatorName, Reason: 'decode-failed' }`.
   */
  metricRecordsDeadLettered(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsDeadLettered', props);
  }

  /** Records a user filter dropped (`RecordsFiltered`). Sum. */
  metricRecordsFiltered(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsFiltered', props);
  }

  /** Records of retried batches skipped below the committed position (`RecordsSkippedCommitted`). Sum. */
  metricRecordsSkippedCommitted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('RecordsSkippedCommitted', props);
  }

  /** Window results fired (`WindowsFired`). Sum. */
  metricWindowsFired(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('WindowsFired', props);
  }

  /** State items written (`StateWrites`). Sum. */
  metricStateWrites(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('StateWrites', props);
  }

  /** Conditional state writes that lost a race and were retried (`StateWriteConflicts`). Sum. */
  metricStateWriteConflicts(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('StateWriteConflicts', props);
  }

  /** Processing time minus the operator watermark, in ms (`WatermarkLagMs`). Maximum. */
  metricWatermarkLag(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('WatermarkLagMs', props);
  }

  /** Fired results a tick re-drove from the outbox (`OutboxBacklog`). Sum. */
  metricOutboxBacklog(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('OutboxBacklog', props);
  }

  /** Failed shard registrations before a batch (`ShardRegistrationFailures`). Sum. */
  metricShardRegistrationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('ShardRegistrationFailures', props);
  }

  /** Failed end-of-shard and backlog checks of the ticker (`ShardDirectoryFailures`). Sum. */
  metricShardDirectoryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('ShardDirectoryFailures', props);
  }

  /** AWS calls refused for lack of permission (`AccessDenied`). Sum. */
  metricAccessDenied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('AccessDenied', props);
  }

  /** Batches that ended with a partial-batch failure (`BatchFailures`). Sum. */
  metricBatchFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('BatchFailures', props);
  }

  /** Failed checkpoint function invocations. Sum over 5 minutes. */
  metricCheckpointErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.checkpointFunction.metricErrors(props);
  }

  /** Checkpoints completed by the checkpoint function (`CheckpointsCompleted`). Sum. */
  metricCheckpointsCompleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('CheckpointsCompleted', props);
  }

  /** Age of the newest complete checkpoint when the checkpoint function ran (`CheckpointAgeMs`). Maximum. */
  metricCheckpointAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricWeir('CheckpointAgeMs', props);
  }

  /** The checkpoint interval, ms (the checkpoint-age alarm's default threshold is twice it). */
  get checkpointIntervalMs(): number {
    return this.checkpointSchedule.intervalMs;
  }
}

/** State table actions of both functions: progress, windows, firing, outbox acknowledgements. */
const STATE_READS_AND_WRITES = [
  'dynamodb:BatchGetItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
] as const;

/** The state table's sparse indexes: name, partition key, sort key. */
const STATE_INDEXES = [
  [
    WeirResourceNames.DUE_INDEX,
    WeirResourceNames.DUE_INDEX_PARTITION_KEY,
    WeirResourceNames.DUE_INDEX_SORT_KEY,
  ],
  [
    WeirResourceNames.EXPIRY_INDEX,
    WeirResourceNames.EXPIRY_INDEX_PARTITION_KEY,
    WeirResourceNames.EXPIRY_INDEX_SORT_KEY,
  ],
  [
    WeirResourceNames.OUTBOX_INDEX,
    WeirResourceNames.OUTBOX_INDEX_PARTITION_KEY,
    WeirResourceNames.OUTBOX_INDEX_SORT_KEY,
  ],
] as const;

/** An on-failure destination that only names its ARN; the construct grants what the ESM needs itself. */
function destination(arn: string): lambda.IEventSourceDlq {
  return { bind: () => ({ destination: arn }) };
}

/** Old versions expire, delete markers left alone are removed, incomplete uploads are aborted. */
function housekeepingRules(noncurrentDays: number): s3.LifecycleRule[] {
  return [
    {
      id: 'Housekeeping',
      noncurrentVersionExpiration: Duration.days(noncurrentDays),
      expiredObjectDeleteMarker: true,
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    },
  ];
}

/** Whole days of an optional Duration prop, `min..max`, with its default. */
function days(field: string, value: Duration | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (value.isUnresolved())
    throw new ConfigError(field, value.toString(), 'must be a concrete Duration');
  const d = value.toHours() / 24;
  if (!Number.isInteger(d) || d < 1 || d > max) {
    throw new ConfigError(
      field,
      `${value.toHumanString()}`,
      `must be a whole number of days, 1..${max}`,
    );
  }
  return d;
}

/** The Node.js major version of a runtime, which must be 22 or newer. */
function checkRuntime(runtime: lambda.Runtime): number {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (runtime.family !== lambda.RuntimeFamily.NODEJS || major === undefined || Number(major) < 22) {
    throw new ConfigError(
      'runtime',
      runtime.name,
      'must be a Node.js runtime, nodejs22.x or newer',
    );
  }
  return Number(major);
}

/**
 * The ticker's schedule period and tick interval in ms. The schedule must be
 * a `rate(...)`: the local runtime and the idleTimeout check need its period.
 */
function tickerTiming(
  schedule: events.Schedule,
  tickInterval: Duration | undefined,
): { period: number; interval: number } {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule.expressionString);
  if (!m) {
    throw new ConfigError(
      'tickerSchedule',
      schedule.expressionString,
      'must be a rate(...) expression (the ticker period is checked against the pipeline idleTimeout and read by the local runtime)',
    );
  }
  const unitMs = m[2]!.startsWith('minute')
    ? MINUTE_MS
    : m[2]!.startsWith('hour')
      ? 60 * MINUTE_MS
      : 1440 * MINUTE_MS;
  const period = Number(m[1]) * unitMs;
  if (period > 1440 * MINUTE_MS) {
    throw new ConfigError(
      'tickerSchedule',
      schedule.expressionString,
      'must be at most rate(1 day)',
    );
  }
  if (tickInterval === undefined) return { period, interval: period };
  if (tickInterval.isUnresolved())
    throw new ConfigError('tickInterval', tickInterval.toString(), 'must be a concrete Duration');
  const interval = tickInterval.toMilliseconds();
  if (
    !Number.isInteger(interval / 1000) ||
    interval < 1000 ||
    interval > period ||
    period % interval !== 0
  ) {
    throw new ConfigError(
      'tickInterval',
      `${interval} ms`,
      `must be a whole number of seconds from 1 s up to the ticker period of ${period} ms (${schedule.expressionString}), dividing it`,
    );
  }
  if (interval < period && period > 14 * MINUTE_MS) {
    throw new ConfigError(
      'tickerSchedule',
      schedule.expressionString,
      `must be at most rate(14 minutes) when tickInterval (${interval} ms) is shorter: one invocation ticks for a whole period, and Lambda stops a function after 15 minutes`,
    );
  }
  return { period, interval };
}

/**
 * A shard is told idle, or kept active while Lambda retries it, only by a
 * tick; with an idle timeout below the ticker's period a retried shard is
 * judged idle between ticks and, with idleAdvance, its records go late.
 */
function checkIdleTimeout(
  pipeline: WeirPipeline,
  schedule: events.Schedule,
  period: number,
  interval: number,
): void {
  const idle = pipeline.time.idleTimeout;
  if (idle === undefined || idle >= interval) return;
  throw new ConfigError(
    `pipeline ${pipeline.name}: eventTime.idleTimeout`,
    `${idle} ms`,
    `must be at least the ticker period of ${interval} ms (` +
      (interval === period
        ? `tickerSchedule ${schedule.expressionString}; EventBridge invokes at most once a minute, so set tickInterval to tick more often within each invocation`
        : `tickInterval`) +
      '), or the ticker cannot keep a shard that Lambda is retrying from being judged idle',
  );
}

function validateProps(props: WeirOperatorProps): string {
  const operatorName = props.operatorName ?? props.pipeline.name;
  if (!OPERATOR_NAME.test(operatorName)) {
    throw new ConfigError(
      props.operatorName !== undefined ? 'operatorName' : 'pipeline.name',
      operatorName,
      'must be 1..48 characters of lower-case letters, digits and hyphens, starting with a letter',
    );
  }
  if (operatorName !== props.pipeline.name) {
    throw new ConfigError(
      'operatorName',
      operatorName,
      `must equal the pipeline's name "${props.pipeline.name}" (the handler refuses to run another operator's state)`,
    );
  }
  if (props.stream !== undefined && props.shardCount !== undefined) {
    throw new ConfigError(
      'shardCount',
      props.shardCount,
      'cannot be set together with stream (the stream already exists); remove one of them',
    );
  }
  if (
    props.shardCount !== undefined &&
    (!Number.isInteger(props.shardCount) || props.shardCount < 1 || props.shardCount > 10_000)
  ) {
    throw new ConfigError('shardCount', props.shardCount, 'must be an integer 1..10000');
  }
  if (props.checkpointPrefix !== undefined && !CHECKPOINT_PREFIX.test(props.checkpointPrefix)) {
    throw new ConfigError(
      'checkpointPrefix',
      props.checkpointPrefix,
      "must be S3-safe path segments (letters, digits, !_.*'()-) joined by '/', without a leading or trailing '/'",
    );
  }
  if (
    props.memorySize !== undefined &&
    (!Number.isInteger(props.memorySize) || props.memorySize < 128 || props.memorySize > 10_240)
  ) {
    throw new ConfigError('memorySize', props.memorySize, 'must be an integer 128..10240 (MiB)');
  }
  if (props.timeout !== undefined && !props.timeout.isUnresolved()) {
    const seconds = props.timeout.toSeconds();
    if (seconds < 1 || seconds > 900)
      throw new ConfigError('timeout', `${seconds} s`, 'must be 1 s..15 minutes');
  }
  if (
    props.onFailure !== undefined &&
    !Object.values(OnFailureDestinationType).includes(props.onFailure)
  ) {
    throw new ConfigError(
      'onFailure',
      props.onFailure,
      `must be one of ${Object.values(OnFailureDestinationType).join(', ')}`,
    );
  }
  for (const [field, name] of [
    ['tickerHandler', props.tickerHandler],
    ['checkpointHandler', props.checkpointHandler],
  ] as const) {
    if (name !== undefined && !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name))
      throw new ConfigError(field, name, 'must be the name of an exported function');
  }
  if (props.checkpointTimeout !== undefined && !props.checkpointTimeout.isUnresolved()) {
    const seconds = props.checkpointTimeout.toSeconds();
    if (seconds < 60 || seconds > 900)
      throw new ConfigError('checkpointTimeout', `${seconds} s`, 'must be 1..15 minutes');
  }
  if (!/\.(ts|mts|js|mjs)$/.test(props.entry)) {
    throw new ConfigError('entry', props.entry, 'must be a .ts, .mts, .js or .mjs file');
  }
  for (const name of Object.keys(props.environment ?? {})) {
    if (Object.values<string>(WeirEnvironment).includes(name)) {
      throw new ConfigError(
        `environment.${name}`,
        props.environment?.[name],
        'is set by WeirOperator; use the matching prop instead',
      );
    }
  }
  return operatorName;
}
