/** DynamoDbResultSink against a hand-written fake DynamoDB: retries, error translation, conditions. */
import { describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDbResultSink,
  ConfigError,
  windowResult,
  SinkError,
  type WindowResult,
} from '../../../lib/index.ts';
import { clientConfig, fakeClock, fakeSend } from './fake-aws.ts';

const W = { start: 0, end: 60_000 };
const r = (key: string, version = 1): WindowResult =>
  windowResult({ operator: 'op', key, window: W, value: version, version });
const throttled = (): ProvisionedThroughputExceededException =>
  new ProvisionedThroughputExceededException({
    message: 'slow down',
    $metadata: { httpStatusCode: 400 },
  });
const ccf = (version: number | undefined): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(version === undefined ? {} : { Item: { version: { N: String(version) } } }),
  });

describe('DynamoDbResultSink', () => {
  it('GIVEN a fresh window WHEN written THEN it sends a conditional PutItem that cannot regress', async () => {
    const client = new DynamoDBClient(clientConfig);
    const calls = fakeSend(client, () => ({}));
    const report = await new DynamoDbResultSink({ client, tableName: 't' }).write([r('k', 2)]);
    expect(report.written).toBe(1);
    expect(calls[0]?.command).toBe('PutItemCommand');
    expect(calls[0]?.input).toMatchObject({
      TableName: 't',
      ConditionExpression:
        'attribute_not_exists(pk) OR ((attribute_not_exists(#g) OR #g = :g) AND version < :v)',
      ExpressionAttributeNames: { '#g': 'generation' },
      ExpressionAttributeValues: { ':v': { N: '2' }, ':g': { N: '0' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      Item: {
        pk: { S: 'op#k' },
        sk: { S: 'W#0000000000000000#0000000000060000' },
        version: { N: '2' },
        value: { S: '2' },
      },
    });
  });

  it('translates ConditionalCheckFailed into already-present or superseded using ALL_OLD', async () => {
    const client = new DynamoDBClient(clientConfig);
    fakeSend(client, ({ input }) => {
      const key = (input['Item'] as { key: { S: string } }).key.S;
      throw ccf(key === 'same' ? 1 : 5);
    });
    const report = await new DynamoDbResultSink({ client, tableName: 't' }).write([
      r('same', 1),
      r('newer', 1),
    ]);
    expect(report.items).toEqual([
      { index: 0, outcome: 'already-present', storedVersion: 1 },
      { index: 1, outcome: 'superseded', storedVersion: 5 },
    ]);
  });

  it('falls back to a consistent GetItem when the emulator ignores ReturnValuesOnConditionCheckFailure', async () => {
    const client = new DynamoDBClient(clientConfig);
    const calls = fakeSend(client, ({ command }) => {
      if (command === 'PutItemCommand') throw ccf(undefined);
      return { Item: { version: { N: '4' } } };
    });
    const report = await new DynamoDbResultSink({ client, tableName: 't' }).write([r('k', 2)]);
    expect(report.items).toEqual([{ index: 0, outcome: 'superseded', storedVersion: 4 }]);
    expect(calls[1]).toMatchObject({ command: 'GetItemCommand', input: { ConsistentRead: true } });
  });

  it('retries throttling and 5xx with full-jitter backoff, then succeeds', async () => {
    const client = new DynamoDBClient(clientConfig);
    const clock = fakeClock();
    let n = 0;
    fakeSend(client, () => {
      n += 1;
      if (n === 1) throw throttled();
      if (n === 2)
        throw new InternalServerError({ message: 'oops', $metadata: { httpStatusCode: 500 } });
      return {};
    });
    const sink = new DynamoDbResultSink({
      client,
      tableName: 't',
      retry: { sleep: clock.sleep, random: clock.random, baseDelayMs: 100 },
    });
    expect((await sink.write([r('k')])).written).toBe(1);
    // attempt 0 -> U(0,100) at 0.5 = 50; attempt 1 -> U(0,200) at 0.5 = 100
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('GIVEN a key throttled past maxAttempts WHEN written THEN SinkError carries exactly the unwritten items', async () => {
    const client = new DynamoDBClient(clientConfig);
    const clock = fakeClock();
    fakeSend(client, ({ input }) => {
      if ((input['Item'] as { key: { S: string } }).key.S === 'hot') throw throttled();
      return {};
    });
    const sink = new DynamoDbResultSink({
      client,
      tableName: 't',
      retry: { sleep: clock.sleep, maxAttempts: 3 },
    });
    const items = [r('a'), r('hot'), r('b')];
    const error = await sink.write(items).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkError);
    const e = error as SinkError<WindowResult>;
    expect(e.unwritten).toEqual([items[1]]);
    expect(e.retryable).toBe(true);
    expect(e.report.items.map((i) => i.index)).toEqual([0, 2]);
    expect(e.cause).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('does not retry a validation error and marks it non-retryable', async () => {
    const client = new DynamoDBClient(clientConfig);
    const calls = fakeSend(client, () => {
      throw Object.assign(new Error('Item size has exceeded the maximum allowed size'), {
        name: 'ValidationException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      });
    });
    const e = (await new DynamoDbResultSink({ client, tableName: 't' })
      .write([r('k')])
      .catch((x: unknown) => x)) as SinkError;
    expect(e).toBeInstanceOf(SinkError);
    expect(e.retryable).toBe(false);
    expect(calls).toHaveLength(1);
  });

  it('keeps at most `concurrency` writes in flight', async () => {
    const client = new DynamoDBClient(clientConfig);
    let inFlight = 0;
    let max = 0;
    fakeSend(client, async () => {
      inFlight += 1;
      max = Math.max(max, inFlight);
      await new Promise((res) => setTimeout(res, 1));
      inFlight -= 1;
      return {};
    });
    const report = await new DynamoDbResultSink({ client, tableName: 't', concurrency: 3 }).write(
      Array.from({ length: 20 }, (_, i) => r(`k${i}`)),
    );
    expect(report.written).toBe(20);
    expect(max).toBe(3);
  });

  it('rejects bad configuration naming the field', () => {
    const client = new DynamoDBClient(clientConfig);
    expect(() => new DynamoDbResultSink({ client, tableName: 't', concurrency: 0 })).toThrow(
      ConfigError,
    );
    expect(() => new DynamoDbResultSink({ client, tableName: 't', concurrency: 0 })).toThrow(
      'concurrency must be an integer 1..1000 (given 0)',
    );
    expect(() => new DynamoDbResultSink({ client, tableName: '' })).toThrow('tableName');
  });
});
