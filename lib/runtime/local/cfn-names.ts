/**
 * Local physical names and the intrinsic functions CDK emits for them.
 *
 * CloudFormation would generate physical names; locally they are derived
 * deterministically from the stack name and the logical id (explicit names
 * in the template, such as the stream's, win). `Ref`, `Fn::GetAtt`,
 * `Fn::Join` and `Fn::Select` over the template's own resources resolve to
 * those names, or to what an endpoint reported once a resource exists (a
 * queue's URL, an emulator's ARN). Pure: no endpoint is touched.
 */
import { ConfigError, WeirError } from '../../errors.ts';
import type { CfnResource, CfnTemplate, LocalNamingOptions } from './local-resources.ts';

/** What an endpoint reported for a created resource: it wins over the derived name and ARN. */
export interface ReportedPhysical {
  /** What `Ref` returns (a stream's name, a queue's URL). */
  readonly ref: string;
  readonly arn: string;
}

/**
 * The local physical name of a resource CloudFormation would name itself:
 * `<stackName>-<logicalId>`, lower-cased and cut to 63 characters for buckets,
 * cut to 80 for queues.
 *
 * @example
 * localPhysicalName('WeirDemo', 'ClickCounterStateTable1A2B', 'AWS::DynamoDB::Table'); // 'WeirDemo-ClickCounterStateTable1A2B'
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

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
export function refTarget(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof v.Ref === 'string') return v.Ref;
  const g = v['Fn::GetAtt'];
  if (Array.isArray(g) && typeof g[0] === 'string') return g[0];
  if (typeof g === 'string') return g.split('.')[0];
  return undefined;
}

/** The local physical values of one resource. */
export interface Physical {
  /** What `Ref` returns. */
  readonly ref: string;
  readonly arn: string;
  /** Other `Fn::GetAtt` attributes. */
  readonly attrs: Readonly<Record<string, string>>;
}

/**
 * Names every resource of a template locally and resolves property values
 * (literals and intrinsic functions) to local strings and numbers.
 */
export class CfnResolver {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly #physical = new Map<string, Physical>();

  constructor(
    readonly template: CfnTemplate,
    naming: LocalNamingOptions,
    reported: Readonly<Record<string, ReportedPhysical>> = {},
  ) {
    this.stackName = naming.stackName ?? 'WeirDemo';
    this.region = naming.region ?? 'us-east-1';
    this.accountId = naming.accountId ?? '000000000000';
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const derived = this.#derive(logicalId, resource);
      if (derived === undefined) continue;
      const r = reported[logicalId];
      this.#physical.set(
        logicalId,
        r === undefined
          ? derived
          : {
              ref: r.ref,
              arn: r.arn,
              attrs:
                derived.attrs['QueueUrl'] === undefined
                  ? derived.attrs
                  : { ...derived.attrs, QueueUrl: r.ref },
            },
      );
    }
  }

  /** The physical values of a resource weir names locally; undefined for other resources. */
  physical(logicalId: string): Physical | undefined {
    return this.#physical.get(logicalId);
  }

  /** A number property (literal, numeric string or resolvable token); undefined when absent. */
  resolveNumber(value: unknown, where: string): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'number') return value;
    const s = this.resolveString(value, where);
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n))
      throw new ConfigError(where, value, 'must be a number');
    return n;
  }

  /** Resolves the intrinsic functions CDK emits for names and ARNs to local values. */
  resolveString(value: unknown, where: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value === 'object' && value !== null) {
      const entries: Array<[string, unknown]> = Object.entries(value as Record<string, unknown>);
      if (entries.length === 1) {
        const [fn, arg] = entries[0]!;
        const resolved = this.#intrinsic(fn, arg, where);
        if (resolved !== undefined) return resolved;
      }
    }
    throw new WeirError(
      `Cannot resolve ${where} = ${JSON.stringify(value)} to a local value; weir resolves Ref, Fn::GetAtt (Arn and names), Fn::Join and Fn::Select over this template's streams, tables, buckets, queues, topics and functions.`,
    );
  }

  #intrinsic(fn: string, arg: unknown, where: string): string | undefined {
    if (fn === 'Ref' && typeof arg === 'string') return this.#resolveRef(arg, where);
    if (fn === 'Fn::GetAtt') {
      const [id, attr] = Array.isArray(arg)
        ? (arg as unknown[])
        : typeof arg === 'string'
          ? arg.split('.')
          : [];
      const p = typeof id === 'string' ? this.#physical.get(id) : undefined;
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
    return undefined;
  }

  #resolveRef(id: string, where: string): string {
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
        const p = this.#physical.get(id);
        if (p === undefined)
          throw new WeirError(
            `Cannot resolve ${where}: Ref to ${id}, which is not a resource weir provisions locally.`,
          );
        return p.ref;
      }
    }
  }

  #derive(logicalId: string, r: CfnResource): Physical | undefined {
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
}
