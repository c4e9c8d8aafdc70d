/**
 * Resource creation and provisioning from a template against a hand-written
 * fake of the SDK clients: what is created, idempotence, and emulator values
 * winning over derived ones.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { provisionFromTemplate, type ProvisionClients } from '../../../lib/index.ts';
import { loadDemoTemplate } from '../../../cdk/synth.ts';

const ENTRY = 'test/cdk/fixtures/click-counter-handler.ts';

/** A hand-written fake of the four SDK clients: records calls, answers like an emulator. */
class FakeAws {
  readonly calls: string[] = [];
  readonly inputs: { op: string; input: Record<string, unknown> }[] = [];
  private readonly streams = new Set<string>();
  private readonly tables = new Set<string>();
  private readonly buckets = new Set<string>();
  private readonly queues = new Set<string>();
  constructor(private readonly ttlSupported = true) {}

  clients(): ProvisionClients {
    const send = (command: {
      constructor: { name: string };
      input: Record<string, unknown>;
    }): Promise<unknown> =>
      this.handle(command.constructor.name.replace(/Command$/, ''), command.input);
    const client = { send };
    return {
      kinesis: client as unknown as KinesisClient,
      dynamodb: client as unknown as DynamoDBClient,
      s3: client as unknown as S3Client,
      sqs: client as unknown as SQSClient,
    };
  }

  private handle(op: string, input: Record<string, unknown>): Promise<unknown> {
    this.calls.push(op);
    this.inputs.push({ op, input });
    const fail = (name: string): Promise<never> =>
      Promise.reject(Object.assign(new Error(name), { name }));
    switch (op) {
      case 'CreateStream':
        if (this.streams.has(input['StreamName'] as string)) return fail('ResourceInUseException');
        this.streams.add(input['StreamName'] as string);
        return Promise.resolve({});
      case 'DescribeStream':
        return Promise.resolve({
          StreamDescription: {
            StreamStatus: 'ACTIVE',
            StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${String(input['StreamName'])}`,
          },
        });
      case 'CreateTable':
        if (this.tables.has(input['TableName'] as string)) return fail('ResourceInUseException');
        this.tables.add(input['TableName'] as string);
        return Promise.resolve({});
      case 'DescribeTable':
        return Promise.resolve({
          Table: {
            TableStatus: 'ACTIVE',
            TableArn: `arn:fake:table/${String(input['TableName'])}`,
          },
        });
      case 'DescribeTimeToLive':
        return this.ttlSupported
          ? Promise.resolve({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } })
          : fail('UnknownOperationException');
      case 'UpdateTimeToLive':
        return Promise.resolve({});
      case 'CreateBucket':
        if (this.buckets.has(input['Bucket'] as string)) return fail('BucketAlreadyOwnedByYou');
        this.buckets.add(input['Bucket'] as string);
        return Promise.resolve({});
      case 'CreateQueue':
        this.queues.add(input['QueueName'] as string);
        return Promise.resolve({
          QueueUrl: `http://127.0.0.1:9324/000000000000/${String(input['QueueName'])}`,
        });
      case 'GetQueueAttributes':
        return Promise.resolve({
          Attributes: {
            QueueArn: `arn:aws:sqs:us-east-1:000000000000:${String(input['QueueUrl']).split('/').pop()}`,
          },
        });
      default:
        return fail(`Unexpected${op}`);
    }
  }
}

describe('provisionFromTemplate', () => {
  it('GIVEN the demo template WHEN provisioned twice THEN resources are created once and reused, and emulator values win', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const aws = new FakeAws();
    const first = await provisionFromTemplate(template, aws.clients());
    const second = await provisionFromTemplate(template, aws.clients());

    expect(second).toEqual(first);
    expect(aws.calls.filter((c) => c === 'CreateStream')).toHaveLength(2);
    expect(first.streams[0]!.arn).toBe('arn:aws:kinesis:us-east-1:000000000000:stream/weir-clicks');
    expect(first.mappings[0]!.streamArn).toBe(
      'arn:aws:kinesis:us-east-1:000000000000:stream/weir-clicks',
    );
    expect(first.queues[0]!.url).toBe(
      `http://127.0.0.1:9324/000000000000/${first.queues[0]!.name}`,
    );
    expect(first.mappings[0]!.onFailure!.arn).toBe(first.queues[0]!.arn);
    expect(first.mappings[0]!.onFailure!.url).toBe(first.queues[0]!.url);
    expect(first.queues[0]!.arn).toMatch(/^arn:aws:sqs:us-east-1:000000000000:WeirDemo-/);
    expect(first.tables[0]!.ttlApplied).toBe(true);
    expect(first.tickers).toHaveLength(1);
  });

  it('GIVEN the demo template WHEN provisioned THEN the state table is created with the due, expiry and outbox GSIs (KEYS_ONLY) and the results table too', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const aws = new FakeAws();
    await provisionFromTemplate(template, aws.clients());
    const creates = aws.inputs.filter((c) => c.op === 'CreateTable').map((c) => c.input);
    expect(creates).toHaveLength(2);
    const state = creates.find((c) => String(c['TableName']).includes('StateTable'))!;
    expect(state['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(state['GlobalSecondaryIndexes']).toEqual([
      {
        IndexName: 'due',
        KeySchema: [
          { AttributeName: 'dueBucket', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
      {
        IndexName: 'expiry',
        KeySchema: [
          { AttributeName: 'expiryBucket', KeyType: 'HASH' },
          { AttributeName: 'cleanupAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
      {
        IndexName: 'outbox',
        KeySchema: [
          { AttributeName: 'outboxBucket', KeyType: 'HASH' },
          { AttributeName: 'outboxAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    const results = creates.find((c) => String(c['TableName']).includes('ResultsTable'))!;
    expect(results['GlobalSecondaryIndexes']).toBeUndefined();
    expect(results['KeySchema']).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
  });

  it('GIVEN an emulator without the TTL API WHEN provisioned THEN the table is still created and ttlApplied is false', async () => {
    const template = await loadDemoTemplate({ handlerEntry: ENTRY });
    const result = await provisionFromTemplate(template, new FakeAws(false).clients());
    expect(result.tables[0]!.ttlApplied).toBe(false);
  });
});
