/**
 * DynamoDbWindowCounter's queries and its page bound, against a hand-written
 * fake client (the counts themselves are checked against DynamoDB Local in
 * test/integration/status-sources.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbWindowCounter } from '../../../lib/adapters/dynamodb/dynamodb-window-counter.ts';
import { fakeSend } from './fake-aws.ts';

describe('DynamoDbWindowCounter', () => {
  it('counts every bucket of each index with Select COUNT; the due count is bounded by the watermark', async () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const calls = fakeSend(client, () => ({ Count: 1 }));
    const counter = new DynamoDbWindowCounter({ client, tableName: 'state', dueBuckets: 2 });
    expect(await counter.countWindows('op', 5000)).toEqual({
      open: 2,
      pending: 2,
      due: 2,
      outbox: 2,
      exact: true,
    });
    expect(calls).toHaveLength(8);
    expect(calls.every((c) => c.command === 'QueryCommand' && c.input['Select'] === 'COUNT')).toBe(
      true,
    );
    expect(calls.map((c) => c.input['IndexName']).sort()).toEqual([
      'due',
      'due',
      'due',
      'due',
      'expiry',
      'expiry',
      'outbox',
      'outbox',
    ]);
    const bounded = calls.filter((c) => String(c.input['KeyConditionExpression']).includes('<='));
    expect(
      bounded.map((c) => (c.input['ExpressionAttributeValues'] as Record<string, unknown>)[':b']),
    ).toEqual([{ S: 'op#0' }, { S: 'op#1' }]);
  });

  it('no watermark: nothing due, no bounded query', async () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const calls = fakeSend(client, () => ({ Count: 3 }));
    const counter = new DynamoDbWindowCounter({ client, tableName: 'state', dueBuckets: 1 });
    expect(await counter.countWindows('op', null)).toMatchObject({ due: 0, pending: 3 });
    expect(calls).toHaveLength(3);
  });

  it('a bucket that pages past maxPagesPerBucket makes the figures lower bounds', async () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    fakeSend(client, () => ({ Count: 10, LastEvaluatedKey: { pk: { S: 'x' } } }));
    const counter = new DynamoDbWindowCounter({
      client,
      tableName: 'state',
      dueBuckets: 1,
      maxPagesPerBucket: 3,
    });
    expect(await counter.countWindows('op', 0)).toEqual({
      open: 30,
      pending: 30,
      due: 30,
      outbox: 30,
      exact: false,
    });
  });

  it('rejects a missing table name', () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    expect(() => new DynamoDbWindowCounter({ client, tableName: '' })).toThrow(
      'tableName must name the state table',
    );
  });
});
