/** DynamoDbStateStore against a hand-written fake DynamoDB: request shapes, retries, error translation, limits. */
import { describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbStateStore, shardId, ManualClock, ConfigError } from '../../../lib/index.ts';
import {
  StateItemTooLargeError,
  StateStoreError,
  type DynamoDbStateStoreOptions,
} from '../../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { bucketOf, encodeTime, windowSortKey } from '../../../lib/adapters/dynamodb/state-codec.ts';
import type { WindowItem, WindowWrite } from '../../../lib/ports/state-store.ts';
import { windowItem } from '../../contract/state-store.contract.ts';
import { clientConfig, fakeClock, fakeSend, type Responder } from './fake-aws.ts';

const meta = { $metadata: { httpStatusCode: 400 } };
const throttled = (): ProvisionedThroughputExceededException =>
  new ProvisionedThroughputExceededException({ message: 'slow down', ...meta });
const ccf = (): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', ...meta });
/** DynamoDB's ValidationException has no exported class: built as the SDK deserializes it. */
const validation = (message: string): Error =>
  Object.assign(new Error(message), {
    name: 'ValidationException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });
const cancelled = (...codes: string[]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    ...meta,
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

function storeWith(respond: Responder, options: Partial<DynamoDbStateStoreOptions> = {}) {
  const client = new DynamoDBClient(clientConfig);
  const calls = fakeSend(client, respond);
  const clock = fakeClock();
  const store = new DynamoDbStateStore({
    client,
    tableName: 'state',
    retry: { sleep: clock.sleep, random: clock.random },
    ...options,
  });
  return { store, calls, sleeps: clock.sleeps };
}

const put = (item: WindowItem, expectedRevision: number | null): WindowWrite => ({
  kind: 'put',
  item,
  expectedRevision,
});

describe('DynamoDbStateStore', () => {
  describe('encodings', () => {
    it('GIVEN times of both signs WHEN encoded THEN string order is numeric order and widths are fixed', () => {
      const times = [
        -Number.MAX_SAFE_INTEGER,
        -8.64e15,
        -60_001,
        -1,
        0,
        1,
        59_999,
        1_700_000_000_000,
        8.64e15,
        Number.MAX_SAFE_INTEGER,
      ];
      const encoded = times.map(encodeTime);
      expect([...encoded].sort()).toEqual(encoded);
      expect(new Set(encoded.map((e) => e.length))).toEqual(new Set([17]));
      expect(windowSortKey(-60_000, 0) < windowSortKey(0, 60_000)).toBe(true);
    });

    it('GIVEN keys WHEN bucketed THEN buckets are stable and spread', () => {
      expect(bucketOf('user-1', 8)).toBe(bucketOf('user-1', 8));
      const used = new Set(Array.from({ length: 200 }, (_, i) => bucketOf(`k${i}`, 8)));
      expect(used.size).toBe(8);
    });
  });

  describe('writes', () => {
    it('GIVEN a single put WHEN written THEN one conditional PutItem carries the layout and the sparse index attributes', async () => {
      const { store, calls } = storeWith(() => ({}));
      const item = windowItem({ key: 'k', start: 0, end: 60_000, accumulator: { sum: 0.1 } });
      expect(await store.write('op', [[put(item, null)]], 0)).toEqual([true]);
      expect(calls.map((c) => c.command)).toEqual(['PutItemCommand']);
      const input = calls[0]!.input as {
        Item: Record<string, unknown>;
        ConditionExpression: string;
      };
      expect(input.ConditionExpression).toBe('attribute_not_exists(#pk)');
      expect(input.Item).toMatchObject({
        pk: { S: 'op#k' },
        sk: { S: windowSortKey(0, 60_000) },
        acc: { S: '{"sum":0.1}' },
        dueBucket: { S: `op#${bucketOf('k', 8)}` },
        dueAt: { S: encodeTime(59_999) },
        expiryBucket: { S: `op#${bucketOf('k', 8)}` },
        cleanupAt: { S: encodeTime(59_999) },
        revision: { N: '1' },
      });
      expect(input.Item['outboxBucket']).toBeUndefined();
      expect(input.Item['expiresAt']).toBeUndefined();
    });

    it('GIVEN a tombstone WHEN written THEN it leaves every index and gets expiresAt = now + tombstoneTtlSeconds', async () => {
      const clock = new ManualClock(1_700_000_000_000);
      const { store, calls } = storeWith(() => ({}), { clock, tombstoneTtlSeconds: 3600 });
      const tomb = windowItem({
        key: 'k',
        start: 0,
        end: 10,
        purged: true,
        pending: false,
        accumulator: null,
        revision: 3,
      });
      expect(await store.write('op', [[put(tomb, 2)]], 0)).toEqual([true]);
      const input = calls[0]!.input as {
        Item: Record<string, unknown>;
        ConditionExpression: string;
        ExpressionAttributeValues: unknown;
      };
      expect(input.ConditionExpression).toBe(
        '#rev = :expected AND (attribute_not_exists(#gen) OR #gen = :g)',
      );
      expect(input.ExpressionAttributeValues).toEqual({
        ':expected': { N: '2' },
        ':g': { N: '0' },
      });
      expect(input.Item['expiresAt']).toEqual({ N: String(1_700_000_000 + 3600) });
      for (const a of [
        'dueBucket',
        'dueAt',
        'expiryBucket',
        'cleanupAt',
        'outboxBucket',
        'outboxAt',
      ])
        expect(input.Item[a]).toBeUndefined();
    });

    it('GIVEN a failed condition WHEN written THEN that group is false and the others still apply', async () => {
      const { store } = storeWith((call) => {
        if ((call.input['Item'] as { pk: { S: string } }).pk.S === 'op#b') throw ccf();
        return {};
      });
      const groups = ['a', 'b', 'c'].map((key) => [
        put(windowItem({ key, start: 0, end: 10 }), null),
      ]);
      expect(await store.write('op', groups, 0)).toEqual([true, false, true]);
    });

    it('GIVEN a multi-write group WHEN written THEN one TransactWriteItems; a ConditionalCheckFailed reason makes it false', async () => {
      let answer: () => unknown = () => ({});
      const { store, calls } = storeWith(() => answer());
      const group: WindowWrite[] = [
        put(windowItem({ key: 'u', start: 0, end: 300 }), null),
        { kind: 'delete', ref: { key: 'u', start: 0, end: 100 }, expectedRevision: 1 },
      ];
      expect(await store.write('op', [group], 0)).toEqual([true]);
      expect(calls[0]!.command).toBe('TransactWriteItemsCommand');
      const items = (calls[0]!.input as { TransactItems: Array<Record<string, unknown>> })
        .TransactItems;
      expect(items.map((i) => Object.keys(i)[0])).toEqual(['Put', 'Delete']);
      answer = () => {
        throw cancelled('None', 'ConditionalCheckFailed');
      };
      expect(await store.write('op', [group], 0)).toEqual([false]);
    });

    it('GIVEN a transaction conflict or throttling WHEN written THEN it is retried with full-jitter backoff', async () => {
      const { store, calls, sleeps } = storeWith((_c, n) => {
        if (n === 0) throw cancelled('TransactionConflict', 'None');
        if (n === 1) throw throttled();
        if (n === 2)
          throw new InternalServerError({ message: 'boom', $metadata: { httpStatusCode: 500 } });
        return {};
      });
      const group: WindowWrite[] = [
        put(windowItem({ key: 'u', start: 0, end: 300 }), null),
        { kind: 'delete', ref: { key: 'u', start: 0, end: 100 }, expectedRevision: 1 },
      ];
      expect(await store.write('op', [group], 0)).toEqual([true]);
      expect(calls).toHaveLength(4);
      expect(sleeps).toEqual([12, 25, 50]); // random() = 0.5 of 25, 50, 100
    });

    it('GIVEN throttling that never ends WHEN written THEN a StateStoreError names the operator and key and keeps the cause', async () => {
      const { store, calls } = storeWith(
        () => {
          throw throttled();
        },
        { retry: { maxAttempts: 3, sleep: () => Promise.resolve() } },
      );
      const err = await store
        .write('op', [[put(windowItem({ key: 'hot', start: 0, end: 10 }), null)]], 0)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateStoreError);
      expect((err as StateStoreError).operator).toBe('op');
      expect((err as StateStoreError).key).toBe('hot');
      expect((err as StateStoreError).cause).toBeInstanceOf(ProvisionedThroughputExceededException);
      expect(calls).toHaveLength(3);
    });

    it('GIVEN a non-retryable error WHEN written THEN it fails at once as a StateStoreError', async () => {
      const { store, calls } = storeWith(() => {
        throw validation('One or more parameter values were invalid');
      });
      await expect(
        store.write('op', [[put(windowItem({ key: 'k', start: 0, end: 10 }), null)]], 0),
      ).rejects.toThrow(/operator op, key "k": ValidationException: One or more parameter values/);
      expect(calls).toHaveLength(1);
    });

    it('GIVEN an accumulator over 400 KB WHEN written THEN StateItemTooLargeError names key, size and the fix, and nothing is sent', async () => {
      const { store, calls } = storeWith(() => ({}));
      const big = windowItem({ key: 'k', start: 0, end: 10, accumulator: 'x'.repeat(410_000) });
      const err = await store.write('op', [[put(big, null)]], 0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateItemTooLargeError);
      expect((err as StateItemTooLargeError).sizeBytes).toBeGreaterThan(410_000);
      expect(String((err as Error).message)).toMatch(/key "k".*409600.*distinctApprox precision/);
      expect(calls).toEqual([]);
    });

    it('GIVEN DynamoDB refusing an item size WHEN written THEN it becomes StateItemTooLargeError', async () => {
      const { store } = storeWith(() => {
        throw validation('Item size has exceeded the maximum allowed size');
      });
      await expect(
        store.write('op', [[put(windowItem({ key: 'k', start: 0, end: 10 }), null)]], 0),
      ).rejects.toBeInstanceOf(StateItemTooLargeError);
    });

    it('GIVEN a group of 101 writes WHEN written THEN the error names the TransactWriteItems limit', async () => {
      const { store, calls } = storeWith(() => ({}));
      const group = Array.from({ length: 101 }, (_, i) =>
        put(windowItem({ key: 'u', start: i * 10, end: i * 10 + 5 }), null),
      );
      await expect(store.write('op', [group], 0)).rejects.toThrow(
        /101 writes; DynamoDB TransactWriteItems takes at most 100/,
      );
      expect(calls).toEqual([]);
    });

    it('GIVEN many groups WHEN written THEN at most `concurrency` requests are in flight', async () => {
      let inFlight = 0;
      let peak = 0;
      const { store } = storeWith(
        async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 1));
          inFlight--;
          return {};
        },
        { concurrency: 3 },
      );
      await store.write(
        'op',
        Array.from({ length: 20 }, (_, i) => [
          put(windowItem({ key: `k${i}`, start: 0, end: 10 }), null),
        ]),
        0,
      );
      expect(peak).toBe(3);
    });
  });

  describe('reads and progress', () => {
    it('GIVEN unprocessed keys WHEN windows are read THEN they are retried with backoff, consistently', async () => {
      const a = windowItem({ key: 'a', start: 0, end: 10 });
      const b = windowItem({ key: 'b', start: 0, end: 10 });
      const { store: writer, calls: written } = storeWith(() => ({}));
      await writer.write('op', [[put(a, null)], [put(b, null)]], 0);
      const [ia, ib] = written.map((c) => c.input['Item']);
      const { store, calls, sleeps } = storeWith((_c, n) =>
        n === 0
          ? {
              Responses: { state: [ia] },
              UnprocessedKeys: {
                state: { Keys: [{ pk: { S: 'op#b' }, sk: { S: windowSortKey(0, 10) } }] },
              },
            }
          : { Responses: { state: [ib] } },
      );
      expect(await store.getWindows('op', [b, a, { key: 'c', start: 0, end: 10 }], 0)).toEqual([
        b,
        a,
        undefined,
      ]);
      expect(calls.map((c) => c.command)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
      expect(
        (calls[0]!.input['RequestItems'] as { state: { ConsistentRead: boolean } }).state
          .ConsistentRead,
      ).toBe(true);
      expect(sleeps).toHaveLength(1);
    });

    it('GIVEN a stored higher watermark WHEN advancing THEN the stored value comes back from the failed condition', async () => {
      const { store, calls } = storeWith(() => {
        throw new ConditionalCheckFailedException({
          message: 'no',
          ...meta,
          Item: { watermark: { N: '5000' } },
        });
      });
      expect(await store.advanceWatermark('op', 10, 0)).toBe(5000);
      expect(calls[0]!.input['ReturnValuesOnConditionCheckFailure']).toBe('ALL_OLD');
    });

    const progressItem = (
      extra: Record<string, AttributeValue>,
    ): Record<string, AttributeValue> => ({
      pk: { S: 'op' },
      sk: { S: 'P#s' },
      shardId: { S: 's' },
      lastActivity: { N: '1' },
      closed: { BOOL: false },
      ...extra,
    });

    it('GIVEN a regressing progress write WHEN the condition fails THEN the item is read once and the write is false', async () => {
      const { store, calls } = storeWith((call) => {
        if (call.command === 'GetItemCommand')
          return { Item: progressItem({ watermark: { N: '9' } }) };
        throw ccf();
      });
      expect(
        await store.writeShardProgress(
          'op',
          {
            shardId: shardId('s'),
            committed: null,
            watermark: 5,
            lastActivity: 1,
            closed: false,
          },
          0,
        ),
      ).toBe(false);
      expect(calls.map((c) => c.command)).toEqual(['PutItemCommand', 'GetItemCommand']);
      expect(calls[0]!.input['ConditionExpression']).toBe(
        'attribute_not_exists(#pk) OR ((attribute_not_exists(#gen) OR #gen = :g) AND attribute_not_exists(#c) AND (attribute_not_exists(#w) OR #w <= :w) AND attribute_not_exists(#ju) AND attribute_not_exists(#fr) AND attribute_not_exists(#rp))',
      );
      expect(calls[1]!.input['ConsistentRead']).toBe(true);
    });

    it('GIVEN a stored judged view WHEN progress without one is written THEN the put is retried carrying the stored view, conditional on it', async () => {
      const stored = {
        judgedUpTo: { S: 'o9' },
        judgedPublished: { N: '100' },
        judgedOthers: { N: '-1E+125' },
      };
      let puts = 0;
      const { store, calls } = storeWith((call) => {
        if (call.command === 'GetItemCommand') return { Item: progressItem(stored) };
        if (++puts === 1) throw ccf();
        return {};
      });
      expect(
        await store.writeShardProgress(
          'op',
          {
            shardId: shardId('s'),
            committed: 'o1',
            watermark: 5,
            lastActivity: 2,
            closed: false,
          },
          0,
        ),
      ).toBe(true);
      expect(calls.map((c) => c.command)).toEqual([
        'PutItemCommand',
        'GetItemCommand',
        'PutItemCommand',
      ]);
      expect(calls[0]!.input['ConditionExpression']).toContain(
        '(attribute_not_exists(#ju) OR #ju <= :c)',
      );
      const retry = calls[2]!.input;
      expect((retry['Item'] as Record<string, AttributeValue>)['judgedUpTo']).toEqual({ S: 'o9' });
      expect((retry['Item'] as Record<string, AttributeValue>)['judgedOthers']).toEqual({
        N: '-1E+125',
      });
      expect(retry['ConditionExpression']).toContain(
        '(attribute_not_exists(#ju) OR (#ju <= :ju AND (attribute_not_exists(#jp) OR #jp <= :jp) AND #jo <= :jo))',
      );
    });

    it('GIVEN stored failing ranges and replayed spans WHEN progress without them is written THEN the put is retried carrying the union minus what it settles, conditional on exactly the stored ones', async () => {
      const stored = {
        failing: {
          S: JSON.stringify([
            ['10', '19'],
            ['40', '49'],
          ]),
        },
        replayed: { S: JSON.stringify([['o1', 'o5', true]]) },
      };
      let puts = 0;
      const { store, calls } = storeWith((call) => {
        if (call.command === 'GetItemCommand') return { Item: progressItem(stored) };
        if (++puts === 1) throw ccf();
        return {};
      });
      expect(
        await store.writeShardProgress(
          'op',
          {
            shardId: shardId('s'),
            committed: 'o7',
            watermark: 5,
            lastActivity: 2,
            closed: false,
            failing: [{ start: '60', end: '60' }],
            settles: { start: '15', end: '45' },
          },
          0,
        ),
      ).toBe(true);
      expect(calls.map((c) => c.command)).toEqual([
        'PutItemCommand',
        'GetItemCommand',
        'PutItemCommand',
      ]);
      // The first put assumed the stored ranges were the written ones.
      expect(calls[0]!.input['ConditionExpression']).toContain('#fr = :fr');
      expect(calls[0]!.input['ConditionExpression']).toContain('attribute_not_exists(#rp)');
      const retry = calls[2]!.input;
      const item = retry['Item'] as Record<string, AttributeValue>;
      expect(JSON.parse(item['failing']!.S!)).toEqual([
        ['10', '14'],
        ['46', '49'],
        ['60', '60'],
      ]);
      expect(item['replayed']).toEqual(stored.replayed);
      expect(retry['ConditionExpression']).toContain('#fr = :fr AND #rp = :rp');
      const values = retry['ExpressionAttributeValues'] as Record<string, AttributeValue>;
      expect(values[':fr']).toEqual(stored.failing);
      expect(values[':rp']).toEqual(stored.replayed);
    });

    it('GIVEN a progress item that keeps changing WHEN written THEN it gives up with a StateStoreError naming the shard', async () => {
      const { store, calls } = storeWith((call) => {
        if (call.command === 'GetItemCommand')
          return { Item: progressItem({ judgedUpTo: { S: `o${calls.length}` } }) };
        throw ccf();
      });
      const write = store.writeShardProgress(
        'op',
        {
          shardId: shardId('s'),
          committed: null,
          watermark: null,
          lastActivity: 1,
          closed: false,
        },
        0,
      );
      await expect(write).rejects.toThrow(StateStoreError);
      await expect(write).rejects.toThrow(
        /progress of s kept changing under 10 conditional writes/,
      );
      expect(calls.filter((c) => c.command === 'PutItemCommand')).toHaveLength(10);
    });

    it('GIVEN due items in several buckets WHEN listed THEN every bucket is queried on the index and base items are read', async () => {
      const { store, calls } = storeWith(
        (call) => (call.command === 'QueryCommand' ? { Items: [] } : { Responses: { state: [] } }),
        { dueBuckets: 5 },
      );
      expect(await store.listDue('op', 100, 10, 0)).toEqual([]);
      expect(
        calls
          .filter((c) => c.command === 'QueryCommand')
          .map((c) => [
            c.input['IndexName'],
            (c.input['ExpressionAttributeValues'] as Record<string, { S: string }>)[':b']!.S,
          ]),
      ).toEqual([
        ['due', 'op#0'],
        ['due', 'op#1'],
        ['due', 'op#2'],
        ['due', 'op#3'],
        ['due', 'op#4'],
      ]);
    });
  });

  describe('configuration', () => {
    it('GIVEN bad options WHEN constructed THEN ConfigError names the field', () => {
      const client = new DynamoDBClient(clientConfig);
      expect(() => new DynamoDbStateStore({ client, tableName: 't', dueBuckets: 0 })).toThrow(
        /dueBuckets must be an integer 1..1000 \(given 0\)/,
      );
      expect(() => new DynamoDbStateStore({ client, tableName: 't', concurrency: 1.5 })).toThrow(
        ConfigError,
      );
      expect(() => new DynamoDbStateStore({ client, tableName: '' })).toThrow(/tableName/);
    });

    it("GIVEN an operator name with '#' WHEN used THEN it is refused (pk would be ambiguous)", async () => {
      const { store } = storeWith(() => ({}));
      await expect(store.readProgress('a#b')).rejects.toThrow(ConfigError);
    });
  });
});
