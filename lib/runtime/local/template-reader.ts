/**
 * The template reader: a synthesized CloudFormation template in, the
 * description of the local resources it asks for out (streams, tables with
 * keys, indexes and TTL, buckets, queues and topics, the functions' entries,
 * ESM settings and environments). Pure: it touches no endpoint, and it is
 * what keeps names, keys, indexes and ESM settings from drifting between
 * `cdk deploy` and the local runtime.
 *
 *     CDK stack ──synth (no bundling)──▶ CfnTemplate ──describeTemplate()──▶ LocalResources
 *                                                                               │
 *                                   create-resources.ts (SDK calls) ◀───────────┘
 *
 * Fails with a {@link WeirError} naming the resource when the template uses
 * something the local runtime cannot reproduce.
 */
import { ConfigError, WeirError } from '../../errors.ts';
import {
  resolveEsmSettings,
  type EventSourceMappingSettings,
  type StartingPosition,
} from '../esm-settings.ts';
import { CfnResolver, refTarget, type ReportedPhysical } from './cfn-names.ts';
import { describeTable } from './template-tables.ts';
import type {
  CfnResource,
  CfnTemplate,
  LocalBucket,
  LocalMapping,
  LocalNamingOptions,
  LocalOnFailure,
  LocalQueue,
  LocalResources,
  LocalStream,
  LocalTable,
  LocalTicker,
  LocalTopic,
} from './local-resources.ts';

/** Options of {@link describeTemplate}. */
export interface DescribeTemplateOptions extends LocalNamingOptions {
  /**
   * What endpoints reported for resources that already exist, by logical id
   * (a stream's ARN, a queue's URL and ARN); they win over the derived names
   * wherever the template refers to those resources. @default {}
   */
  readonly reported?: Readonly<Record<string, ReportedPhysical>>;
}

/**
 * Reads the template and returns the local resources it describes, without
 * touching any endpoint.
 *
 * @example
 * const local = describeTemplate(template, { stackName: 'WeirDemo' });
 * const [mapping] = local.mappings; // handlerEntry, streamName, settings, environment
 */
export function describeTemplate(
  template: CfnTemplate,
  options: DescribeTemplateOptions = {},
): LocalResources {
  if (typeof template !== 'object' || template === null || typeof template.Resources !== 'object') {
    throw new WeirError(
      'The template has no Resources section; pass a synthesized CloudFormation template.',
    );
  }
  return new TemplateReader(new CfnResolver(template, options, options.reported)).describe();
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

const ESM_PROPERTIES_UNSUPPORTED_LOCALLY = [
  'TumblingWindowInSeconds',
  'FilterCriteria',
  'ScalingConfig',
  'ProvisionedPollerConfig',
] as const;

const QUEUE_ATTRIBUTES = [
  'MessageRetentionPeriod',
  'VisibilityTimeout',
  'DelaySeconds',
  'MaximumMessageSize',
  'ReceiveMessageWaitTimeSeconds',
] as const;

type Props = Readonly<Record<string, unknown>>;

class TemplateReader {
  readonly #template: CfnTemplate;

  constructor(private readonly names: CfnResolver) {
    this.#template = names.template;
  }

  describe(): LocalResources {
    const out = {
      stackName: this.names.stackName,
      streams: [] as LocalStream[],
      tables: [] as LocalTable[],
      buckets: [] as LocalBucket[],
      queues: [] as LocalQueue[],
      topics: [] as LocalTopic[],
      mappings: [] as LocalMapping[],
      tickers: [] as LocalTicker[],
      checkpointers: [] as LocalTicker[],
    };
    for (const [logicalId, r] of Object.entries(this.#template.Resources)) {
      const props = r.Properties ?? {};
      const p = this.names.physical(logicalId);
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
            this.names.resolveNumber(props['ShardCount'], `${logicalId}.ShardCount`) ?? 1;
          out.streams.push({ logicalId, name: p!.ref, arn: p!.arn, shardCount });
          break;
        }
        case 'AWS::DynamoDB::Table':
          out.tables.push(describeTable(logicalId, props, this.names));
          break;
        case 'AWS::S3::Bucket':
          out.buckets.push({ logicalId, name: p!.ref, arn: p!.arn });
          break;
        case 'AWS::SQS::Queue':
          out.queues.push({
            logicalId,
            name: p!.attrs['QueueName']!,
            arn: p!.arn,
            url: p!.ref,
            attributes: this.#queueAttributes(logicalId, props),
          });
          break;
        case 'AWS::SNS::Topic':
          out.topics.push({ logicalId, name: p!.attrs['TopicName']!, arn: p!.arn });
          break;
        case 'AWS::Lambda::EventSourceMapping': {
          const m = this.#mapping(logicalId, props);
          if (m !== undefined) out.mappings.push(m);
          break;
        }
        case 'AWS::Events::Rule':
          // The checkpoint function is scheduled too; it is listed apart (metadata `weir:checkpointer`).
          for (const t of this.#tickers(logicalId, props)) {
            const checkpointer =
              this.#template.Resources[t.functionLogicalId]?.Metadata?.['weir:checkpointer'] ===
              true;
            (checkpointer ? out.checkpointers : out.tickers).push(t);
          }
          break;
        default:
          break;
      }
    }
    return out;
  }

  #queueAttributes(logicalId: string, props: Props): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of QUEUE_ATTRIBUTES) {
      const v = this.names.resolveNumber(props[key], `${logicalId}.${key}`);
      if (v !== undefined) out[key] = String(v);
    }
    return out;
  }

  #mapping(logicalId: string, props: Props): LocalMapping | undefined {
    const sourceArn = this.names.resolveString(
      props['EventSourceArn'],
      `${logicalId}.EventSourceArn`,
    );
    const target = refTarget(props['EventSourceArn']);
    const streamLogicalId =
      target !== undefined && this.#template.Resources[target]?.Type === 'AWS::Kinesis::Stream'
        ? target
        : undefined;
    const streamName =
      streamLogicalId !== undefined
        ? this.names.physical(streamLogicalId)!.ref
        : /:kinesis:[^:]*:[^:]*:stream\/([^/]+)$/.exec(sourceArn)?.[1];
    if (streamName === undefined) return undefined; // not a Kinesis mapping (SQS, DynamoDB streams, ...)

    const functionLogicalId = refTarget(props['FunctionName']);
    const fn =
      functionLogicalId === undefined ? undefined : this.#template.Resources[functionLogicalId];
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
    const { handlerExport, environment, operatorName } = this.#function(functionLogicalId, fn);
    return {
      logicalId,
      functionLogicalId,
      handlerEntry: entry,
      handlerExport,
      operatorName,
      streamLogicalId,
      streamName,
      streamArn: sourceArn,
      settings: this.#settings(logicalId, props),
      onFailure: this.#onFailure(logicalId, props),
      environment,
    };
  }

  /** The scheduled functions of an EventBridge rule (rules without a schedule, or targeting no function of this template, give none). */
  #tickers(logicalId: string, props: Props): LocalTicker[] {
    const schedule = props['ScheduleExpression'];
    if (typeof schedule !== 'string') return [];
    if (props['State'] === 'DISABLED') return [];
    const out: LocalTicker[] = [];
    for (const target of (props['Targets'] ?? []) as Array<Record<string, unknown>>) {
      const functionLogicalId = refTarget(target['Arn']);
      const fn =
        functionLogicalId === undefined ? undefined : this.#template.Resources[functionLogicalId];
      if (functionLogicalId === undefined || fn?.Type !== 'AWS::Lambda::Function') continue;
      const entry = fn.Metadata?.['weir:entry'];
      if (typeof entry !== 'string') {
        throw new WeirError(
          `Function ${functionLogicalId} (scheduled by ${logicalId}) has no 'weir:entry' metadata, so the local runtime cannot find its source. Create it with WeirOperator, or add the metadata.`,
        );
      }
      const { handlerExport, environment, operatorName } = this.#function(functionLogicalId, fn);
      const tickIntervalMs = tickIntervalOf(target['Input']);
      out.push({
        ruleLogicalId: logicalId,
        functionLogicalId,
        handlerEntry: entry,
        handlerExport,
        operatorName,
        scheduleExpression: schedule,
        periodMs: ratePeriodMs(schedule),
        ...(tickIntervalMs !== undefined ? { tickIntervalMs } : {}),
        environment,
      });
    }
    return out;
  }

  #function(
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
      environment[k] = this.names.resolveString(
        v,
        `${functionLogicalId}.Environment.Variables.${k}`,
      );
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
  #settings(logicalId: string, props: Props): EventSourceMappingSettings {
    const num = (key: string): number | undefined =>
      this.names.resolveNumber(props[key], `${logicalId}.${key}`);
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

  #onFailure(logicalId: string, props: Props): LocalOnFailure | undefined {
    const destination = (
      props['DestinationConfig'] as { OnFailure?: { Destination?: unknown } } | undefined
    )?.OnFailure?.Destination;
    if (destination === undefined) return undefined;
    const arn = this.names.resolveString(
      destination,
      `${logicalId}.DestinationConfig.OnFailure.Destination`,
    );
    const target = refTarget(destination);
    const targetType = target === undefined ? undefined : this.#template.Resources[target]?.Type;
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
    const p = target === undefined ? undefined : this.names.physical(target);
    const name =
      p?.attrs['QueueName'] ??
      p?.attrs['TopicName'] ??
      (type === 's3' ? p?.ref : undefined) ??
      arn.slice(arn.lastIndexOf(':') + 1);
    const url = type !== 'sqs' ? undefined : (p?.attrs['QueueUrl'] ?? queueUrlFromArn(arn));
    return { type, logicalId: target, name, arn, url };
  }
}

/** `tickIntervalMs` of a rule target's constant input (a JSON string), when it is a positive number. */
function tickIntervalOf(input: unknown): number | undefined {
  if (typeof input !== 'string') return undefined;
  try {
    const v = (JSON.parse(input) as { tickIntervalMs?: unknown } | null)?.tickIntervalMs;
    return typeof v === 'number' && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** AWS's URL of a queue given its ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
function queueUrlFromArn(arn: string): string | undefined {
  const m = /^arn:aws[a-z-]*:sqs:([^:]+):([^:]+):(.+)$/.exec(arn);
  return m === null ? undefined : `https://sqs.${m[1]}.amazonaws.com/${m[2]}/${m[3]}`;
}
