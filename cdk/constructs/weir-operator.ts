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
 *                                                                  └─▶ S3 bucket (checkpoints, dead letters, late data)
 *     EventBridge rate(1 minute) ──▶ Lambda (ticker: same entry, export `ticker`)
 *        idle watermarks, due windows, outbox re-drive, purge
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
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
import { WeirEnv } from '../../lib/runtime/weir-env.ts';

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
  /** CloudFormation metadata key on the function resource: the handler's source path, relative to the project root. */
  ENTRY_METADATA: 'weir:entry',
  /** CloudFormation metadata key on the function resource: the operator name. */
  OPERATOR_METADATA: 'weir:operator',
} as const;

/** Environment variables the construct sets on the operator function. */
export const WeirEnvironment = WeirEnv;

/** Properties of a {@link WeirOperator}. */
export interface WeirOperatorProps {
  /**
   * The operator's name: lower-case letters, digits and hyphens, starting with
   * a letter, 1..48 characters. It prefixes state keys and checkpoint paths,
   * so renaming an operator starts it from empty state.
   */
  readonly operatorName: string;

  /**
   * Path of the handler's TypeScript source (absolute, or relative to
   * `projectRoot`). Bundled with the locally installed esbuild, never Docker.
   * The path relative to `projectRoot` is recorded as metadata `weir:entry` on
   * the function resource, so the local ESM can run the same file.
   */
  readonly entry: string;

  /** Name of the exported handler function. @default 'handler' */
  readonly handler?: string;

  /**
   * Directory the entry path is recorded relative to.
   * @default the nearest ancestor of `entry` that holds a package.json
   */
  readonly projectRoot?: string;

  /**
   * An existing input stream. When omitted, the construct creates a
   * provisioned stream of `shardCount` shards.
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

  /** Prefix of checkpoint keys: `<prefix>/<operator>/checkpoints/<id>/`. No leading or trailing slash. @default 'weir' */
  readonly checkpointPrefix?: string;

  /** Memory of the function in MiB, 128..10240. @default 1024 */
  readonly memorySize?: number;

  /** Function timeout, 1 s..15 min. @default Duration.minutes(1) */
  readonly timeout?: Duration;

  /** Name of the exported ticker function in `entry`. @default 'ticker' */
  readonly tickerHandler?: string;

  /**
   * How often the ticker runs (idle watermarks, due windows, outbox
   * re-drive, purge). At least one minute (EventBridge's resolution).
   * @default events.Schedule.rate(Duration.minutes(1))
   */
  readonly tickerSchedule?: events.Schedule;

  /** Extra environment variables for the function; the `WEIR_*` names are reserved. @default none */
  readonly environment?: Readonly<Record<string, string>>;

  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the state table, the checkpoint bucket and the on-failure
   * queue/bucket when the stack is deleted. The stream is only affected when
   * the construct creates it.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

const OPERATOR_NAME = /^[a-z][a-z0-9-]{0,47}$/;
const CHECKPOINT_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

/**
 * One weir operator: input stream, state table, checkpoint bucket, the
 * operator function and its Kinesis event source mapping with an on-failure
 * destination.
 *
 * @example
 * const clicks = new kinesis.Stream(this, 'Clicks', { shardCount: 4 });
 * const op = new WeirOperator(this, 'ClickCounter', {
 *   operatorName: 'click-counter',
 *   entry: 'functions/click-counter/handler.ts',
 *   stream: clicks,
 *   eventSourceMapping: { batchSize: 500, maximumRetryAttempts: 5 },
 * });
 * new cloudwatch.Alarm(this, 'Behind', { metric: op.metricIteratorAge(), threshold: 60_000, evaluationPeriods: 3 });
 */
export class WeirOperator extends Construct {
  /** The operator's name, as given. */
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
  /** The ESM settings after defaults and validation: exactly what was deployed. */
  readonly eventSourceMappingSettings: EventSourceMappingSettings;
  /** The kind of on-failure destination. */
  readonly onFailureType: OnFailureDestinationType;
  /** The on-failure queue, when `onFailure` is 'sqs'. */
  readonly failureQueue: sqs.Queue | undefined;
  /** The on-failure topic, when `onFailure` is 'sns'. */
  readonly failureTopic: sns.Topic | undefined;
  /** The on-failure bucket, when `onFailure` is 's3'. */
  readonly failureBucket: s3.Bucket | undefined;
  /** The handler's source path relative to the project root, as recorded in `weir:entry`. */
  readonly entryPath: string;

  constructor(scope: Construct, id: string, props: WeirOperatorProps) {
    super(scope, id);
    validateProps(props);
    // Validate first, so a bad value fails here with weir's message, before
    // CDK's own checks or any resource is created.
    const settings = resolveEsmSettings(props.eventSourceMapping ?? {});
    this.eventSourceMappingSettings = settings;
    this.operatorName = props.operatorName;
    this.checkpointPrefix = props.checkpointPrefix ?? 'weir';
    this.onFailureType = props.onFailure ?? OnFailureDestinationType.SQS;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDelete = removalPolicy === RemovalPolicy.DESTROY;

    this.stream =
      props.stream ??
      new kinesis.Stream(this, 'Stream', {
        shardCount: props.shardCount ?? 1,
        streamMode: kinesis.StreamMode.PROVISIONED,
        removalPolicy,
      });

    this.stateTable = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: WeirResourceNames.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: WeirResourceNames.SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: WeirResourceNames.TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });
    // Three sparse indexes (see docs/state-table.md): an item carries an
    // index's attributes only while it belongs there. KEYS_ONLY: an index
    // write then happens only when the item enters, moves in or leaves the
    // index, not on every accumulator update; the store reads the base item
    // (strongly consistent) after the query, because a GSI is only
    // eventually consistent.
    for (const [indexName, partitionKey, sortKey] of [
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
    ] as const) {
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
      removalPolicy,
    });

    this.checkpointBucket = new s3.Bucket(this, 'CheckpointBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: false,
      removalPolicy,
      autoDeleteObjects: autoDelete,
    });

    const projectRoot = path.resolve(
      props.projectRoot ?? findProjectRoot(path.resolve(props.entry)),
    );
    const entry = path.isAbsolute(props.entry)
      ? props.entry
      : path.resolve(projectRoot, props.entry);
    this.entryPath = path.relative(projectRoot, entry).split(path.sep).join('/');

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });

    const environment = {
      // Stack traces point into the TypeScript sources (the bundle carries a source map).
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
      [WeirEnvironment.OPERATOR]: props.operatorName,
      [WeirEnvironment.STATE_TABLE]: this.stateTable.tableName,
      [WeirEnvironment.RESULTS_TABLE]: this.resultsTable.tableName,
      [WeirEnvironment.CHECKPOINT_BUCKET]: this.checkpointBucket.bucketName,
      [WeirEnvironment.CHECKPOINT_PREFIX]: this.checkpointPrefix,
      [WeirEnvironment.OUTPUT_BUCKET]: this.checkpointBucket.bucketName,
      [WeirEnvironment.STREAM_NAME]: this.stream.streamName,
    };
    const functionProps = (handler: string, group: logs.ILogGroup): nodejs.NodejsFunctionProps => ({
      entry,
      handler,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.minutes(1),
      logGroup: group,
      environment,
      bundling: {
        // The locally installed esbuild; never Docker (the machines have none).
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
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
    this.function = new nodejs.NodejsFunction(
      this,
      'Function',
      functionProps(props.handler ?? 'handler', logGroup),
    );
    const cfnFunction = this.function.node.defaultChild as lambda.CfnFunction;
    cfnFunction.addMetadata(WeirResourceNames.ENTRY_METADATA, this.entryPath);
    cfnFunction.addMetadata(WeirResourceNames.OPERATOR_METADATA, props.operatorName);

    // The ticker: same bundle entry, another export. Ticks are idempotent
    // (conditional firing, versioned outbox), so an overlapping tick is safe.
    const tickerLogGroup = new logs.LogGroup(this, 'TickerLogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.tickerFunction = new nodejs.NodejsFunction(
      this,
      'TickerFunction',
      functionProps(props.tickerHandler ?? 'ticker', tickerLogGroup),
    );
    const cfnTicker = this.tickerFunction.node.defaultChild as lambda.CfnFunction;
    cfnTicker.addMetadata(WeirResourceNames.ENTRY_METADATA, this.entryPath);
    cfnTicker.addMetadata(WeirResourceNames.OPERATOR_METADATA, props.operatorName);
    cfnTicker.addMetadata(WeirResourceNames.TICKER_METADATA, true);
    this.tickerRule = new events.Rule(this, 'TickerSchedule', {
      schedule: props.tickerSchedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.tickerFunction, { retryAttempts: 0 })],
    });

    for (const fn of [this.function, this.tickerFunction]) {
      this.stateTable.grantReadWriteData(fn);
      this.resultsTable.grantReadWriteData(fn);
      this.checkpointBucket.grantReadWrite(fn);
    }
    // The ticker checks the stream for closed (resharded) shards.
    this.stream.grant(
      this.tickerFunction,
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamSummary',
      'kinesis:ListShards',
    );

    let onFailure: lambda.IEventSourceDlq;
    switch (this.onFailureType) {
      case OnFailureDestinationType.SQS:
        this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
          // On-failure records are the only pointer to a skipped range: keep them as long as SQS allows.
          retentionPeriod: Duration.days(14),
          enforceSSL: true,
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          removalPolicy,
        });
        onFailure = new eventSources.SqsDlq(this.failureQueue);
        break;
      case OnFailureDestinationType.SNS:
        this.failureTopic = new sns.Topic(this, 'FailureTopic', { enforceSSL: true });
        onFailure = new eventSources.SnsDlq(this.failureTopic);
        break;
      case OnFailureDestinationType.S3:
        this.failureBucket = new s3.Bucket(this, 'FailureBucket', {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          enforceSSL: true,
          encryption: s3.BucketEncryption.S3_MANAGED,
          removalPolicy,
          autoDeleteObjects: autoDelete,
        });
        // aws-cdk-lib's own declarations of Bucket and IBucket disagree under
        // exactOptionalPropertyTypes; at run time a Bucket is an IBucket.
        onFailure = new eventSources.S3OnFailureDestination(
          this.failureBucket as unknown as s3.IBucket,
        );
        break;
    }

    this.function.addEventSource(
      new eventSources.KinesisEventSource(this.stream, {
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
      }),
    );
  }

  /** Read access to the operator's state (e.g. a query API or `weir inspect`). */
  grantReadState(grantee: iam.IGrantable): iam.Grant {
    return this.stateTable.grantReadData(grantee);
  }

  /** Read and write access to the operator's state (e.g. `weir restore`, the ticker). */
  grantReadWriteState(grantee: iam.IGrantable): iam.Grant {
    return this.stateTable.grantReadWriteData(grantee);
  }

  /** Read access to the checkpoints (e.g. `weir restore`). */
  grantReadCheckpoints(grantee: iam.IGrantable): iam.Grant {
    return this.checkpointBucket.grantRead(
      grantee,
      `${this.checkpointPrefix}/${this.operatorName}/*`,
    );
  }

  /** Read and write access to the checkpoints (e.g. the ticker taking checkpoints). */
  grantReadWriteCheckpoints(grantee: iam.IGrantable): iam.Grant {
    return this.checkpointBucket.grantReadWrite(
      grantee,
      `${this.checkpointPrefix}/${this.operatorName}/*`,
    );
  }

  /**
   * Everything `weir redrive` needs: read the on-failure records, read the
   * stream from the recorded positions, and apply them to state.
   */
  grantRedrive(grantee: iam.IGrantable): void {
    this.failureQueue?.grantConsumeMessages(grantee);
    this.failureBucket?.grantRead(grantee);
    this.stream.grantRead(grantee);
    this.grantReadWriteState(grantee);
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

  /** Invocations that failed (the ESM retries, bisects and finally sends an on-failure record). Sum over 5 minutes. */
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors(props);
  }

  /** On-failure records waiting to be redriven (SQS destination only; undefined otherwise). */
  metricOnFailureBacklog(props?: cloudwatch.MetricOptions): cloudwatch.Metric | undefined {
    return this.failureQueue?.metricApproximateNumberOfMessagesVisible({
      statistic: cloudwatch.Stats.MAXIMUM,
      ...props,
    });
  }
}

function validateProps(props: WeirOperatorProps): void {
  if (!OPERATOR_NAME.test(props.operatorName)) {
    throw new ConfigError(
      'operatorName',
      props.operatorName,
      'must be 1..48 characters of lower-case letters, digits and hyphens, starting with a letter',
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
  if (
    props.tickerHandler !== undefined &&
    !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(props.tickerHandler)
  ) {
    throw new ConfigError(
      'tickerHandler',
      props.tickerHandler,
      'must be the name of an exported function',
    );
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
}

function findProjectRoot(entry: string): string {
  let dir = path.dirname(entry);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.dirname(entry);
    dir = parent;
  }
}
