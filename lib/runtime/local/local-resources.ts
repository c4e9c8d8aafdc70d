/**
 * The vocabulary of local provisioning: what weir reads of a synthesized
 * CloudFormation template, and the description of the local resources it
 * asks for. Types only: the template reader (template-reader.ts) produces a
 * {@link LocalResources}, resource creation (create-resources.ts) consumes
 * one, and the local runner pieces (mapping-runner.ts, ticker-loop.ts) run
 * its mappings and tickers.
 */
import type { EventSourceMappingSettings } from '../esm-settings.ts';

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

/** How local physical names and ARNs are made. */
export interface LocalNamingOptions {
  /** Prefix of derived physical names. @default 'WeirDemo' */
  readonly stackName?: string;
  /** Region used in ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** Account used in ARNs (LocalStack's and the emulators' default). @default '000000000000' */
  readonly accountId?: string;
}

/** A Kinesis stream of the template. */
export interface LocalStream {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly shardCount: number;
}

/** One element of a DynamoDB key schema. */
export interface LocalKeyElement {
  readonly attributeName: string;
  readonly keyType: 'HASH' | 'RANGE';
}

/** Read and write capacity of a provisioned table or index. */
export interface LocalThroughput {
  readonly readCapacityUnits: number;
  readonly writeCapacityUnits: number;
}

/** A global secondary index as synthesized. */
export interface LocalIndex {
  readonly indexName: string;
  readonly keySchema: readonly LocalKeyElement[];
  /** `ALL`, `KEYS_ONLY` or `INCLUDE` (with `nonKeyAttributes`). @default 'ALL' when the template has none */
  readonly projectionType: string;
  readonly nonKeyAttributes?: readonly string[];
  /** Only for a PROVISIONED table. */
  readonly provisionedThroughput?: LocalThroughput;
}

/** Everything needed to create a table exactly as synthesized (keys, attribute types, billing, indexes). */
export interface LocalTableSchema {
  /** Attribute names and types (`S`, `N`, `B`) of every key attribute, of the table and its indexes. */
  readonly attributeDefinitions: readonly {
    readonly attributeName: string;
    readonly attributeType: string;
  }[];
  readonly keySchema: readonly LocalKeyElement[];
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  /** Only for PROVISIONED (5/5 when the template gives none). */
  readonly provisionedThroughput?: LocalThroughput;
  readonly globalSecondaryIndexes: readonly LocalIndex[];
}

/** A DynamoDB table of the template. */
export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly partitionKey: string;
  readonly sortKey: string | undefined;
  /** Index names, in template order (their definitions are in `schema`). */
  readonly globalSecondaryIndexes: readonly string[];
  readonly ttlAttribute: string | undefined;
  /** Whether the emulator accepted the TTL setting (dynalite has no TTL API); undefined before provisioning. */
  readonly ttlApplied?: boolean;
  /** How to create it. */
  readonly schema: LocalTableSchema;
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
  /** Queue attributes the template sets (`MessageRetentionPeriod`, `VisibilityTimeout`, ...), as SQS takes them. */
  readonly attributes: Readonly<Record<string, string>>;
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
  /** The queue URL of an SQS destination (the emulator's after provisioning); undefined for topics and buckets. */
  readonly url: string | undefined;
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
 * provisioning: the local runtime calls its export on its own timer
 * (ticker-loop.ts).
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
  /**
   * Time between ticks within one invocation (`tickIntervalMs` of the rule's
   * input, as `WeirOperator` writes it); undefined when the input has none.
   */
  readonly tickIntervalMs?: number;
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
  /** Functions an EventBridge schedule invokes (the operators' tickers), checkpoint functions excepted. */
  readonly tickers: readonly LocalTicker[];
  /** Scheduled checkpoint functions (metadata `weir:checkpointer`): the local runner calls them in process. */
  readonly checkpointers: readonly LocalTicker[];
}
