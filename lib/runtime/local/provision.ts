/**
 * Creates the local (emulated) resources from the synthesized CDK template, so
 * names, keys, indexes and ESM settings come from the real stack code and
 * cannot drift from what `cdk deploy` creates.
 *
 *     cdk/stacks/weir-demo-stack.ts ──synth (no bundling)──▶ CfnTemplate
 *        │                                                     │ describeTemplate()
 *        ▼                                                     ▼
 *     cdk deploy (real AWS)                 LocalResources ──provisionFromTemplate()──▶ kinesalite /
 *                                           (names, ESM settings, env)                   DynamoDB Local / s3rver / SQS
 *
 * CloudFormation would generate physical names; locally they are derived
 * deterministically from the stack name and the logical id (explicit names in
 * the template, such as the stream's, win). For CLI and local runtime use only:
 * `loadDemoTemplate` pulls in aws-cdk-lib (loaded lazily), which never belongs
 * in a Lambda bundle.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigError, WeirError, errorName } from '../../errors.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingInput,
  type EventSourceMappingSettings,
  type StartingPosition,
} from '../esm-settings.ts';

/** One resource of a CloudFormation template (only what weir reads). */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
}

/** A synthesized CloudFormation template (only what weir reads). */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, unknown>>;
}

/** The SDK clients provisioning needs; `AwsClients` from lib/adapters/aws-clients.ts fits. */
export interface ProvisionClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

/** How local physical names and ARNs are made. */
export interface LocalNamingOptions {
  /** Prefix of derived physical names. @default 'WeirDemo' */
  readonly stackName?: string;
  /** Region used in ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Account used in ARNs (LocalStack's and the emulators' default). @default '000000000000' */
  readonly accountId?: string;
}

/** Options of {@link provisionFromTemplate}. */
export interface ProvisionOptions extends LocalNamingOptions {
  /** How long to wait for a stream or table to become ACTIVE. @default 30000 */
  readonly activeTimeoutMs?: number;
}

/** A Kinesis stream of the template. */
export interface LocalStream {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly shardCount: number;
}

/** A DynamoDB table of the template. */
export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly partitionKey: string;
  readonly sortKey: string | undefined;
  readonly globalSecondaryIndexes: readonly string[];
  readonly ttlAttribute: string | undefined;
  /** Whether the emulator accepted the TTL setting (dynalite has no TTL API); undefined before provisioning. */
  readonly ttlApplied?: boolean;
}

/** An S3 bucket of the template. */
export interface LocalBucket {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
}

/** An SQS queue of the template. */
export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The queue URL: the emulator's after provisioning, AWS's format before. */
  readonly url: string;
}

/** An SNS topic of the template. Not created locally (no SNS emulator): the local ESM records on-failure records itself. */
export interface LocalTopic {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
}

/** Where a mapping's on-failure records go. */
export interface LocalOnFailure {
  readonly type: 'sqs' | 'sns' | 's3';
  readonly logicalId: string | undefined;
  /** Queue, topic or bucket name. */
  readonly name: string;
  readonly arn: string;
}

/** A Kinesis event source mapping of the template, with everything the local ESM needs to run it. */
export interface LocalMapping {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  /** The handler's source path relative to the project root (metadata `weir:entry`). */
  readonly handlerEntry: string;
  /** The exported handler function (from `index.<export>`). */
  readonly handlerExport: string;
  /** The operator name (metadata `weir:operator`), when recorded. */
  readonly operatorName: string | undefined;
  readonly streamLogicalId: string | undefined;
  readonly streamName: string;
  readonly streamArn: string;
  /** Parsed back from the mapping's properties, with AWS's defaults for absent ones, and validated. */
  readonly settings: EventSourceMappingSettings;
  readonly onFailure: LocalOnFailure | undefined;
  /** The function's environment with tokens resolved to local physical names. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * A scheduled ticker of the template: a function (with `weir:entry` metadata)
 * that an EventBridge rule invokes on a schedule. Not scheduled locally by
 * provisioning: the local runtime calls its export on its own timer.
 */
export interface LocalTicker {
  /** Logical id of the EventBridge rule. */
  readonly ruleLogicalId: string;
  readonly functionLogicalId: string;
  /** The handler's source path relative to the project root (metadata `weir:entry`). */
  readonly handlerEntry: string;
  /** The exported ticker function (from `index.<export>`). */
  readonly handlerExport: string;
  /** The operator name (metadata `weir:operator`), when recorded. */
  readonly operatorName: string | undefined;
  /** The rule's schedule expression, e.g. `rate(1 minute)`. */
  readonly scheduleExpression: string;
  /** The schedule's period in ms for `rate(...)` expressions; undefined for `cron(...)`. */
  readonly periodMs: number | undefined;
  /** The function's environment with tokens resolved to local physical names. */
  readonly environment: Readonly<Record<string, string>>;
}

/** Everything the template asks for, with local physical names. */
export interface LocalResources {
  readonly stackName: string;
  readonly streams: readonly LocalStream[];
  readonly tables: readonly LocalTable[];
  readonly buckets: readonly LocalBucket[];
  readonly queues: readonly LocalQueue[];
  readonly topics: readonly LocalTopic[];
  readonly mappings: readonly LocalMapping[];
  /** Functions an EventBridge schedule invokes (the operators' tickers). */
  readonly tickers: readonly LocalTicker[];
}

/** Options of {@link loadDemoTemplate}. */
export interface LoadDemoTemplateOptions {
  /** @default 'WeirDemo' */
  readonly stackName?: string;
  /** Input stream name. @default 'weir-clicks' */
  readonly streamName?: string;
  /** @default 4 */
  readonly shardCount?: number;
  /** Handler source, relative to the project root or absolute. @default 'functions/click-counter/handler.ts' */
  readonly handlerEntry?: string;
  /** ESM settings of the click counter, as the stack takes them. */
  readonly eventSourceMapping?: EventSourceMappingInput;
  /** On-failure destination of the click counter. @default 'sqs' */
  readonly onFailure?: 'sqs' | 'sns' | 's3';
}

/**
 * Synthesizes `WeirDemoStack` in-process, without bundling any asset (context
 * `aws:cdk:bundling-stacks` = []), and returns its template. Takes about a
 * second; needs neither esbuild nor Docker.
 *
 * @example
 * const template = await loadDemoTemplate();
 * const local = await provisionFromTemplate(template, clients);
 */
export async function loadDemoTemplate(
  options: LoadDemoTemplateOptions = {},
): Promise<CfnTemplate> {
  // Loaded lazily: importing this module to provision from a cdk.out template must not load aws-cdk-lib.
  const [{ App }, { WeirDemoStack }] = await Promise.all([
    import('aws-cdk-lib'),
    import('../../../cdk/stacks/weir-demo-stack.ts'),
  ]);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-synth-'));
  try {
    const app = new App({
      outdir,
      analyticsReporting: false,
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    const stackName = options.stackName ?? 'WeirDemo';
    new WeirDemoStack(app, stackName, {
      ...(options.streamName !== undefined ? { streamName: options.streamName } : {}),
      ...(options.shardCount !== undefined ? { shardCount: options.shardCount } : {}),
      ...(options.handlerEntry !== undefined ? { handlerEntry: options.handlerEntry } : {}),
      ...(options.eventSourceMapping !== undefined
        ? { eventSourceMapping: options.eventSourceMapping }
        : {}),
      ...(options.onFailure !== undefined ? { onFailure: options.onFailure } : {}),
    });
    const assembly = app.synth();
    return assembly.getStackByName(stackName).template as CfnTemplate;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * Reads the template and returns the local resources it describes, without
 * touching any endpoint. Fails with a {@link WeirError} naming the resource
 * when the template uses something the local runtime cannot reproduce.
 */
export function describeTemplate(
  template: CfnTemplate,
  options: LocalNamingOptions = {},
): LocalResources {
  return new TemplateReader(template, options).describe();
}

/**
 * Creates the template's streams, tables, buckets and queues on the given
 * clients' endpoints and returns their description. Idempotent: resources
 * that already exist are reused. SNS topics are described, not created.
 *
 * @example
 * const clients = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 * const local = await provisionFromTemplate(await loadDemoTemplate(), clients);
 * const [mapping] = local.mappings; // handlerEntry, streamName, settings, environment
 */
export async function provisionFromTemplate(
  template: CfnTemplate,
  clients: ProvisionClients,
  options: ProvisionOptions = {},
): Promise<LocalResources> {
  const reader = new TemplateReader(template, options);
  const planned = reader.describe();
  const timeoutMs = options.activeTimeoutMs ?? 30_000;

  const streams = await Promise.all(
    planned.streams.map((s) => createStream(clients.kinesis, s, timeoutMs)),
  );
  const tables = await Promise.all(
    planned.tables.map((t) => createTable(clients.dynamodb, t, reader.tableInput(t), timeoutMs)),
  );
  await Promise.all(planned.buckets.map((b) => createBucket(clients.s3, b)));
  const queues = await Promise.all(
    planned.queues.map((q) => createQueue(clients.sqs, q, reader.queueAttributes(q.logicalId))),
  );

  // Re-resolve with what the emulators reported (stream ARNs, queue URLs and ARNs).
  for (const s of streams) reader.override(s.logicalId, { ref: s.name, arn: s.arn });
  for (const q of queues) reader.override(q.logicalId, { ref: q.url, arn: q.arn });
  const final = reader.describe();
  return { ...final, tables };
}

/**
 * Creates only the template's DynamoDB tables (keys, GSIs, TTL exactly as
 * synthesized), e.g. for adapter tests that need the construct's state table
 * without streams, buckets or queues. Idempotent like
 * {@link provisionFromTemplate}.
 *
 * @example
 * const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), clients.dynamodb, { stackName: 'T1' });
 */
export async function provisionTablesFromTemplate(
  template: CfnTemplate,
  dynamodb: DynamoDBClient,
  options: ProvisionOptions = {},
): Promise<readonly LocalTable[]> {
  const reader = new TemplateReader(template, options);
  const timeoutMs = options.activeTimeoutMs ?? 30_000;
  return Promise.all(
    reader.describe().tables.map((t) => createTable(dynamodb, t, reader.tableInput(t), timeoutMs)),
  );
}

/**
 * The local physical name of a resource CloudFormation would name itself:
 * `<stackName>-<logicalId>`, lower-cased and cut to 63 characters for buckets,
 * cut to 80 for queues.
 */
export function localPhysicalName(
  stackName: string,
  logicalId: string,
  resourceType: string,
): string {
  const name = `${stackName}-${logicalId}`;
  switch (resourceType) {
    case 'AWS::S3::Bucket':
      return name
        .toLowerCase()
        .replace(/[^a-z0-9.-]/g, '-')
        .slice(0, 63)
        .replace(/[.-]+$/, '');
    case 'AWS::SQS::Queue':
    case 'AWS::SNS::Topic':
      return name.slice(0, 80);
    default:
      return name.slice(0, 128);
  }
}

// ---------------------------------------------------------------------------

interface Physical {
  /** What `Ref` returns. */
  ref: string;
  arn: string;
  /** Other `Fn::GetAtt` attributes. */
  attrs: Record<string, string>;
}

const ESM_PROPERTIES_UNSUPPORTED_LOCALLY = [
  'TumblingWindowInSeconds',
  'FilterCriteria',
  'ScalingConfig',
  'ProvisionedPollerConfig',
] as const;

class TemplateReader {
  private readonly stackName: string;
  private readonly region: string;
  private readonly accountId: string;
  private readonly physical = new Map<string, Physical>();

  constructor(
    private readonly template: CfnTemplate,
    options: LocalNamingOptions,
  ) {
    if (
      typeof template !== 'object' ||
      template === null ||
      typeof template.Resources !== 'object'
    ) {
      throw new WeirError(
        'The template has no Resources section; pass a synthesized CloudFormation template.',
      );
    }
    this.stackName = options.stackName ?? 'WeirDemo';
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    for (const [logicalId, resource] of this.resources()) {
      const p = this.namePhysical(logicalId, resource);
      if (p !== undefined) this.physical.set(logicalId, p);
    }
  }

  override(logicalId: string, values: { ref: string; arn: string }): void {
    const p = this.physical.get(logicalId);
    if (p === undefined) return;
    p.ref = values.ref;
    p.arn = values.arn;
    if (p.attrs['QueueUrl'] !== undefined) p.attrs['QueueUrl'] = values.ref;
  }

  describe(): LocalResources {
    const streams: LocalStream[] = [];
    const tables: LocalTable[] = [];
    const buckets: LocalBucket[] = [];
    const queues: LocalQueue[] = [];
    const topics: LocalTopic[] = [];
    const mappings: LocalMapping[] = [];
    const tickers: LocalTicker[] = [];
    for (const [logicalId, r] of this.resources()) {
      const props = r.Properties ?? {};
      const p = this.physical.get(logicalId);
      switch (r.Type) {
        case 'AWS::Kinesis::Stream': {
          const mode = (props['StreamModeDetails'] as { StreamMode?: unknown } | undefined)
            ?.StreamMode;
          if (mode === 'ON_DEMAND') {
            throw new WeirError(
              `Stream ${logicalId} is ON_DEMAND; the local emulators need a shard count, so give the stream a provisioned shardCount.`,
            );
          }
          const shardCount =
            this.resolveNumber(props['ShardCount'], `${logicalId}.ShardCount`) ?? 1;
          streams.push({ logicalId, name: p!.ref, arn: p!.arn, shardCount });
          break;
        }
        case 'AWS::DynamoDB::Table':
          tables.push(this.describeTable(logicalId, props, p!));
          break;
        case 'AWS::S3::Bucket':
          buckets.push({ logicalId, name: p!.ref, arn: p!.arn });
          break;
        case 'AWS::SQS::Queue':
          queues.push({ logicalId, name: p!.attrs['QueueName']!, arn: p!.arn, url: p!.ref });
          break;
        case 'AWS::SNS::Topic':
          topics.push({ logicalId, name: p!.attrs['TopicName']!, arn: p!.arn });
          break;
        case 'AWS::Lambda::EventSourceMapping': {
          const m = this.describeMapping(logicalId, props);
          if (m !== undefined) mappings.push(m);
          break;
        }
        case 'AWS::Events::Rule':
          tickers.push(...this.describeTickers(logicalId, props));
          break;
        default:
          break;
      }
    }
    return {
      stackName: this.stackName,
      streams,
      tables,
      buckets,
      queues,
      topics,
      mappings,
      tickers,
    };
  }

  tableInput(table: LocalTable): CreateTableCommandInput {
    const props = this.template.Resources[table.logicalId]?.Properties ?? {};
    const billingMode =
      props['BillingMode'] === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
    const throughput = (v: unknown): { ReadCapacityUnits: number; WriteCapacityUnits: number } => {
      const t = (v ?? {}) as { ReadCapacityUnits?: unknown; WriteCapacityUnits?: unknown };
      return {
        ReadCapacityUnits:
          this.resolveNumber(t.ReadCapacityUnits, `${table.logicalId}.ReadCapacityUnits`) ?? 5,
        WriteCapacityUnits:
          this.resolveNumber(t.WriteCapacityUnits, `${table.logicalId}.WriteCapacityUnits`) ?? 5,
      };
    };
    const gsis = ((props['GlobalSecondaryIndexes'] ?? []) as Array<Record<string, unknown>>).map(
      (g): GlobalSecondaryIndex => ({
        IndexName: g['IndexName'] as string,
        KeySchema: g['KeySchema'] as KeySchemaElement[],
        Projection: (g['Projection'] as GlobalSecondaryIndex['Projection'] | undefined) ?? {
          ProjectionType: 'ALL',
        },
        ...(billingMode === 'PROVISIONED'
          ? { ProvisionedThroughput: throughput(g['ProvisionedThroughput']) }
          : {}),
      }),
    );
    return {
      TableName: table.name,
      AttributeDefinitions: props['AttributeDefinitions'] as AttributeDefinition[],
      KeySchema: props['KeySchema'] as KeySchemaElement[],
      BillingMode: billingMode,
      ...(billingMode === 'PROVISIONED'
        ? { ProvisionedThroughput: throughput(props['ProvisionedThroughput']) }
        : {}),
      ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
    };
  }

  queueAttributes(logicalId: string): Record<string, string> {
    const props = this.template.Resources[logicalId]?.Properties ?? {};
    const out: Record<string, string> = {};
    for (const key of [
      'MessageRetentionPeriod',
      'VisibilityTimeout',
      'DelaySeconds',
      'MaximumMessageSize',
      'ReceiveMessageWaitTimeSeconds',
    ]) {
      const v = this.resolveNumber(props[key], `${logicalId}.${key}`);
      if (v !== undefined) out[key] = String(v);
    }
    return out;
  }

  private *resources(): Generator<[string, CfnResource]> {
    for (const [id, r] of Object.entries(this.template.Resources)) yield [id, r];
  }

  private namePhysical(logicalId: string, r: CfnResource): Physical | undefined {
    const props = r.Properties ?? {};
    const explicit = (key: string): string => {
      const v = props[key];
      return typeof v === 'string' ? v : localPhysicalName(this.stackName, logicalId, r.Type);
    };
    const arn = (service: string, resource: string): string =>
      `arn:aws:${service}:${this.region}:${this.accountId}:${resource}`;
    switch (r.Type) {
      case 'AWS::Kinesis::Stream': {
        const name = explicit('Name');
        return { ref: name, arn: arn('kinesis', `stream/${name}`), attrs: {} };
      }
      case 'AWS::DynamoDB::Table': {
        const name = explicit('TableName');
        return { ref: name, arn: arn('dynamodb', `table/${name}`), attrs: {} };
      }
      case 'AWS::S3::Bucket': {
        const name = explicit('BucketName');
        return {
          ref: name,
          arn: `arn:aws:s3:::${name}`,
          attrs: {
            DomainName: `${name}.s3.amazonaws.com`,
            RegionalDomainName: `${name}.s3.${this.region}.amazonaws.com`,
          },
        };
      }
      case 'AWS::SQS::Queue': {
        const name = explicit('QueueName');
        const url = `https://sqs.${this.region}.amazonaws.com/${this.accountId}/${name}`;
        return { ref: url, arn: arn('sqs', name), attrs: { QueueName: name, QueueUrl: url } };
      }
      case 'AWS::SNS::Topic': {
        const name = explicit('TopicName');
        const topicArn = arn('sns', name);
        return { ref: topicArn, arn: topicArn, attrs: { TopicName: name, TopicArn: topicArn } };
      }
      case 'AWS::Lambda::Function': {
        const name = explicit('FunctionName');
        return { ref: name, arn: arn('lambda', `function:${name}`), attrs: {} };
      }
      case 'AWS::Logs::LogGroup': {
        const name = explicit('LogGroupName');
        return { ref: name, arn: arn('logs', `log-group:${name}:*`), attrs: {} };
      }
      case 'AWS::IAM::Role': {
        const name = explicit('RoleName');
        return { ref: name, arn: `arn:aws:iam::${this.accountId}:role/${name}`, attrs: {} };
      }
      default:
        return undefined;
    }
  }

  private describeTable(
    logicalId: string,
    props: Readonly<Record<string, unknown>>,
    p: Physical,
  ): LocalTable {
    const keySchema = (props['KeySchema'] ?? []) as KeySchemaElement[];
    const partitionKey = keySchema.find((k) => k.KeyType === 'HASH')?.AttributeName;
    if (partitionKey === undefined)
      throw new WeirError(`Table ${logicalId} has no HASH key in its KeySchema.`);
    const ttl = props['TimeToLiveSpecification'] as
      { AttributeName?: unknown; Enabled?: unknown } | undefined;
    return {
      logicalId,
      name: p.ref,
      arn: p.arn,
      partitionKey,
      sortKey: keySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName,
      globalSecondaryIndexes: (
        (props['GlobalSecondaryIndexes'] ?? []) as Array<{ IndexName: string }>
      ).map((g) => g.IndexName),
      ttlAttribute:
        ttl?.Enabled === true && typeof ttl.AttributeName === 'string'
          ? ttl.AttributeName
          : undefined,
    };
  }

  private describeMapping(
    logicalId: string,
    props: Readonly<Record<string, unknown>>,
  ): LocalMapping | undefined {
    const sourceArn = this.resolveString(props['EventSourceArn'], `${logicalId}.EventSourceArn`);
    const target = refTarget(props['EventSourceArn']);
    const streamLogicalId =
      target !== undefined && this.template.Resources[target]?.Type === 'AWS::Kinesis::Stream'
        ? target
        : undefined;
    const streamName =
      streamLogicalId !== undefined
        ? this.physical.get(streamLogicalId)!.ref
        : /:kinesis:[^:]*:[^:]*:stream\/([^/]+)$/.exec(sourceArn)?.[1];
    if (streamName === undefined) return undefined; // not a Kinesis mapping (SQS, DynamoDB streams, ...)

    const functionLogicalId = refTarget(props['FunctionName']);
    const fn =
      functionLogicalId === undefined ? undefined : this.template.Resources[functionLogicalId];
    if (functionLogicalId === undefined || fn?.Type !== 'AWS::Lambda::Function') {
      throw new WeirError(
        `Event source mapping ${logicalId} does not reference a function of this template; the local ESM can only run functions defined by WeirOperator.`,
      );
    }
    const entry = fn.Metadata?.['weir:entry'];
    if (typeof entry !== 'string') {
      throw new WeirError(
        `Function ${functionLogicalId} (mapped by ${logicalId}) has no 'weir:entry' metadata, so the local ESM cannot find its source. Create it with WeirOperator, or add the metadata.`,
      );
    }
    for (const key of ESM_PROPERTIES_UNSUPPORTED_LOCALLY) {
      if (props[key] !== undefined) {
        throw new ConfigError(
          `${logicalId}.${key}`,
          props[key],
          "is not reproduced by weir's local ESM; remove it from the mapping",
        );
      }
    }
    const { handlerExport, environment, operatorName } = this.functionDetails(
      functionLogicalId,
      fn,
    );

    return {
      logicalId,
      functionLogicalId,
      handlerEntry: entry,
      handlerExport,
      operatorName,
      streamLogicalId,
      streamName,
      streamArn: sourceArn,
      settings: this.parseSettings(logicalId, props),
      onFailure: this.describeOnFailure(logicalId, props),
      environment,
    };
  }

  /** The scheduled functions of an EventBridge rule (rules without a schedule, or targeting no function of this template, give none). */
  private describeTickers(
    logicalId: string,
    props: Readonly<Record<string, unknown>>,
  ): LocalTicker[] {
    const schedule = props['ScheduleExpression'];
    if (typeof schedule !== 'string') return [];
    if (props['State'] === 'DISABLED') return [];
    const out: LocalTicker[] = [];
    for (const target of (props['Targets'] ?? []) as Array<Record<string, unknown>>) {
      const functionLogicalId = refTarget(target['Arn']);
      const fn =
        functionLogicalId === undefined ? undefined : this.template.Resources[functionLogicalId];
      if (functionLogicalId === undefined || fn?.Type !== 'AWS::Lambda::Function') continue;
      const entry = fn.Metadata?.['weir:entry'];
      if (typeof entry !== 'string') {
        throw new WeirError(
          `Function ${functionLogicalId} (scheduled by ${logicalId}) has no 'weir:entry' metadata, so the local runtime cannot find its source. Create it with WeirOperator, or add the metadata.`,
        );
      }
      const { handlerExport, environment, operatorName } = this.functionDetails(
        functionLogicalId,
        fn,
      );
      out.push({
        ruleLogicalId: logicalId,
        functionLogicalId,
        handlerEntry: entry,
        handlerExport,
        operatorName,
        scheduleExpression: schedule,
        periodMs: ratePeriodMs(schedule),
        environment,
      });
    }
    return out;
  }

  private functionDetails(
    functionLogicalId: string,
    fn: CfnResource,
  ): {
    handlerExport: string;
    environment: Record<string, string>;
    operatorName: string | undefined;
  } {
    const operator = fn.Metadata?.['weir:operator'];
    const handlerProp = fn.Properties?.['Handler'];
    const handlerExport =
      typeof handlerProp === 'string' && handlerProp.includes('.')
        ? handlerProp.slice(handlerProp.lastIndexOf('.') + 1)
        : 'handler';
    const variables =
      (fn.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(variables)) {
      environment[k] = this.resolveString(v, `${functionLogicalId}.Environment.Variables.${k}`);
    }
    return {
      handlerExport,
      environment,
      operatorName: typeof operator === 'string' ? operator : undefined,
    };
  }

  /**
   * The inverse of what the construct writes. Absent properties take AWS's
   * defaults (not weir's): that is what the deployed mapping does.
   */
  private parseSettings(
    logicalId: string,
    props: Readonly<Record<string, unknown>>,
  ): EventSourceMappingSettings {
    const num = (key: string): number | undefined =>
      this.resolveNumber(props[key], `${logicalId}.${key}`);
    const bool = (key: string): boolean | undefined => {
      const v = props[key];
      if (v === undefined) return undefined;
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw new ConfigError(`${logicalId}.${key}`, v, 'must be a boolean');
    };
    const responseTypes = props['FunctionResponseTypes'];
    const timestamp = num('StartingPositionTimestamp');
    return resolveEsmSettings({
      batchSize: num('BatchSize') ?? 100,
      maximumBatchingWindowInSeconds: num('MaximumBatchingWindowInSeconds') ?? 0,
      startingPosition: (typeof props['StartingPosition'] === 'string'
        ? props['StartingPosition']
        : 'LATEST') as StartingPosition,
      ...(timestamp !== undefined ? { startingPositionTimestamp: timestamp } : {}),
      bisectBatchOnFunctionError: bool('BisectBatchOnFunctionError') ?? false,
      maximumRetryAttempts: num('MaximumRetryAttempts') ?? -1,
      maximumRecordAgeInSeconds: num('MaximumRecordAgeInSeconds') ?? -1,
      reportBatchItemFailures:
        Array.isArray(responseTypes) && responseTypes.includes('ReportBatchItemFailures'),
      parallelizationFactor: num('ParallelizationFactor') ?? 1,
    });
  }

  private describeOnFailure(
    logicalId: string,
    props: Readonly<Record<string, unknown>>,
  ): LocalOnFailure | undefined {
    const destination = (
      props['DestinationConfig'] as { OnFailure?: { Destination?: unknown } } | undefined
    )?.OnFailure?.Destination;
    if (destination === undefined) return undefined;
    const arn = this.resolveString(
      destination,
      `${logicalId}.DestinationConfig.OnFailure.Destination`,
    );
    const target = refTarget(destination);
    const targetType = target === undefined ? undefined : this.template.Resources[target]?.Type;
    const service = /^arn:aws[a-z-]*:([a-z0-9]+):/.exec(arn)?.[1];
    const type =
      targetType === 'AWS::SQS::Queue' || service === 'sqs'
        ? 'sqs'
        : targetType === 'AWS::SNS::Topic' || service === 'sns'
          ? 'sns'
          : targetType === 'AWS::S3::Bucket' || service === 's3'
            ? 's3'
            : undefined;
    if (type === undefined) {
      throw new WeirError(
        `Event source mapping ${logicalId} has an on-failure destination weir does not know (${arn}); use an SQS queue, SNS topic or S3 bucket.`,
      );
    }
    const p = target === undefined ? undefined : this.physical.get(target);
    const name =
      p?.attrs['QueueName'] ??
      p?.attrs['TopicName'] ??
      (type === 's3' ? p?.ref : undefined) ??
      arn.slice(arn.lastIndexOf(':') + 1);
    return { type, logicalId: target, name, arn };
  }

  private resolveNumber(value: unknown, where: string): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'number') return value;
    const s = this.resolveString(value, where);
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n))
      throw new ConfigError(where, value, 'must be a number');
    return n;
  }

  /** Resolves the intrinsic functions CDK emits for names and ARNs to local values. */
  private resolveString(value: unknown, where: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value === 'object' && value !== null) {
      const entries: Array<[string, unknown]> = Object.entries(value as Record<string, unknown>);
      if (entries.length === 1) {
        const [fn, arg] = entries[0]!;
        if (fn === 'Ref' && typeof arg === 'string') return this.resolveRef(arg, where);
        if (fn === 'Fn::GetAtt') {
          const [id, attr] = Array.isArray(arg)
            ? (arg as unknown[])
            : typeof arg === 'string'
              ? arg.split('.')
              : [];
          const p = typeof id === 'string' ? this.physical.get(id) : undefined;
          if (p !== undefined && typeof attr === 'string') {
            if (attr === 'Arn' || attr === 'StreamArn' || attr === 'TopicArn') return p.arn;
            const a = p.attrs[attr];
            if (a !== undefined) return a;
          }
        }
        if (
          fn === 'Fn::Join' &&
          Array.isArray(arg) &&
          typeof arg[0] === 'string' &&
          Array.isArray(arg[1])
        ) {
          return (arg[1] as unknown[])
            .map((part, i) => this.resolveString(part, `${where}[${i}]`))
            .join(arg[0]);
        }
        if (fn === 'Fn::Select' && Array.isArray(arg) && Array.isArray(arg[1])) {
          const index = Number(arg[0]);
          return this.resolveString((arg[1] as unknown[])[index], where);
        }
      }
    }
    throw new WeirError(
      `Cannot resolve ${where} = ${JSON.stringify(value)} to a local value; weir resolves Ref, Fn::GetAtt (Arn and names), Fn::Join and Fn::Select over this template's streams, tables, buckets, queues, topics and functions.`,
    );
  }

  private resolveRef(id: string, where: string): string {
    switch (id) {
      case 'AWS::Region':
        return this.region;
      case 'AWS::AccountId':
        return this.accountId;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      default: {
        const p = this.physical.get(id);
        if (p === undefined)
          throw new WeirError(
            `Cannot resolve ${where}: Ref to ${id}, which is not a resource weir provisions locally.`,
          );
        return p.ref;
      }
    }
  }
}

/** The period of an EventBridge `rate(n unit)` expression in ms; undefined for anything else. */
export function ratePeriodMs(expression: string): number | undefined {
  const m = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression.trim());
  if (m === null) return undefined;
  const unit = m[2]!.startsWith('minute')
    ? 60_000
    : m[2]!.startsWith('hour')
      ? 3_600_000
      : 86_400_000;
  return Number(m[1]) * unit;
}

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
function refTarget(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof v.Ref === 'string') return v.Ref;
  const g = v['Fn::GetAtt'];
  if (Array.isArray(g) && typeof g[0] === 'string') return g[0];
  if (typeof g === 'string') return g.split('.')[0];
  return undefined;
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new WeirError(`${what} did not become ACTIVE within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function createStream(
  kinesis: KinesisClient,
  s: LocalStream,
  timeoutMs: number,
): Promise<LocalStream> {
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: s.name, ShardCount: s.shardCount }));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') {
      throw new WeirError(`Could not create stream ${s.name} (${s.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
  let arn = s.arn;
  await waitUntil(`Stream ${s.name}`, timeoutMs, async () => {
    const d = await kinesis.send(new DescribeStreamCommand({ StreamName: s.name, Limit: 1 }));
    arn = d.StreamDescription?.StreamARN ?? arn;
    return d.StreamDescription?.StreamStatus === 'ACTIVE';
  });
  return { ...s, arn };
}

async function createTable(
  dynamodb: DynamoDBClient,
  t: LocalTable,
  input: CreateTableCommandInput,
  timeoutMs: number,
): Promise<LocalTable> {
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') {
      throw new WeirError(`Could not create table ${t.name} (${t.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
  let arn = t.arn;
  await waitUntil(`Table ${t.name}`, timeoutMs, async () => {
    const d = await dynamodb.send(new DescribeTableCommand({ TableName: t.name }));
    arn = d.Table?.TableArn ?? arn;
    return d.Table?.TableStatus === 'ACTIVE';
  });
  if (t.ttlAttribute === undefined) return { ...t, arn };
  return { ...t, arn, ttlApplied: await applyTtl(dynamodb, t.name, t.ttlAttribute) };
}

/** TTL only deletes expired items eventually; nothing weir does depends on it, so an emulator without the API is tolerated. */
async function applyTtl(
  dynamodb: DynamoDBClient,
  tableName: string,
  attributeName: string,
): Promise<boolean> {
  try {
    const current = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const d = current.TimeToLiveDescription;
    if (
      d?.AttributeName === attributeName &&
      (d.TimeToLiveStatus === 'ENABLED' || d.TimeToLiveStatus === 'ENABLING')
    )
      return true;
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    );
    return true;
  } catch {
    return false;
  }
}

async function createBucket(s3: S3Client, b: LocalBucket): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: b.name }));
  } catch (e) {
    const name = errorName(e);
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
      throw new WeirError(`Could not create bucket ${b.name} (${b.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
  }
}

async function createQueue(
  sqs: SQSClient,
  q: LocalQueue,
  attributes: Record<string, string>,
): Promise<LocalQueue> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: q.name, Attributes: attributes })))
      .QueueUrl;
  } catch (e) {
    // An existing queue with other attributes: reuse it as it is.
    if (errorName(e) !== 'QueueAlreadyExists' && errorName(e) !== 'QueueNameExists') {
      throw new WeirError(`Could not create queue ${q.name} (${q.logicalId}): ${String(e)}`, {
        cause: e,
      });
    }
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: q.name }))).QueueUrl;
  }
  if (url === undefined)
    throw new WeirError(
      `Queue ${q.name} (${q.logicalId}) was created but the endpoint returned no QueueUrl.`,
    );
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { ...q, url, arn: attrs.Attributes?.['QueueArn'] ?? q.arn };
}
