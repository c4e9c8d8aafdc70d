/**
 * The embedded AWS answers every operation weir relies on, with the SDK v3
 * clients built by the project's factory. Runs against LocalStack unchanged
 * when AWS_ENDPOINT_URL is set.
 */
import { describe, expect, it } from 'vitest';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  BatchWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

async function createStream(kinesis: KinesisClient, shards: number): Promise<string> {
  const name = uniqueName('s');
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(kinesis, name);
  return name;
}

async function readAll(kinesis: KinesisClient, stream: string, shardId: string): Promise<string[]> {
  const it = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  let iterator = it.ShardIterator;
  const out: string[] = [];
  for (let i = 0; i < 20 && iterator; i++) {
    const r = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    for (const rec of r.Records ?? [])
      out.push(Buffer.from(rec.Data ?? new Uint8Array()).toString());
    if ((r.Records ?? []).length === 0 && r.MillisBehindLatest === 0) break;
    iterator = r.NextShardIterator;
  }
  return out;
}

describe('embedded AWS: Kinesis', () => {
  it('starts every emulator on loopback and reports startup times', () => {
    const { aws } = fx;
    if (aws.mode === 'embedded') {
      for (const url of [aws.endpoints.kinesis, aws.endpoints.dynamodb, aws.endpoints.s3]) {
        expect(new URL(url).hostname).toBe('127.0.0.1');
      }
      expect(aws.startup.dynamodbMs).toBeGreaterThan(0);
    }
    expect(aws.env()['AWS_ENDPOINT_URL_KINESIS']).toBe(aws.endpoints.kinesis);
  });

  it('puts and reads back records larger than 64 KiB in one response (HTTP/1.1 handler)', async () => {
    const { kinesis } = fx.clients;
    const stream = await createStream(kinesis, 1);
    const big = 'x'.repeat(100_000);
    await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: [0, 1, 2].map((i) => ({ Data: Buffer.from(`${i}${big}`), PartitionKey: `k${i}` })),
      }),
    );
    const shards = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const got = await readAll(kinesis, stream, shards.Shards?.[0]?.ShardId ?? '');
    expect(got.map((g) => g.length)).toEqual([100_001, 100_001, 100_001]);
  });

  it('reads from AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER with 50+ digit sequence numbers', async () => {
    const { kinesis } = fx.clients;
    const stream = await createStream(kinesis, 1);
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: ['a', 'b', 'c'].map((d) => ({ Data: Buffer.from(d), PartitionKey: 'p' })),
      }),
    );
    const seqs = (put.Records ?? []).map((r) => r.SequenceNumber ?? '');
    expect(seqs.every((s) => /^\d{50,}$/.test(s))).toBe(true);
    expect(BigInt(seqs[0]!) < BigInt(seqs[1]!)).toBe(true);
    const shardId = put.Records?.[0]?.ShardId ?? '';
    const at = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: seqs[1],
      }),
    );
    const r1 = await kinesis.send(new GetRecordsCommand({ ShardIterator: at.ShardIterator }));
    expect((r1.Records ?? []).map((r) => Buffer.from(r.Data!).toString())).toEqual(['b', 'c']);
    const after = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shardId,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: seqs[1],
      }),
    );
    const r2 = await kinesis.send(new GetRecordsCommand({ ShardIterator: after.ShardIterator }));
    expect((r2.Records ?? []).map((r) => Buffer.from(r.Data!).toString())).toEqual(['c']);
    expect(r2.Records?.[0]?.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
  });

  it('splits and merges shards, recording parents for a parent-before-child reader', async () => {
    const { kinesis } = fx.clients;
    const stream = await createStream(kinesis, 2);
    const before = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const [s0, s1] = before.Shards ?? [];
    const start = BigInt(s0!.HashKeyRange!.StartingHashKey!);
    const end = BigInt(s0!.HashKeyRange!.EndingHashKey!);
    await kinesis.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: s0!.ShardId,
        NewStartingHashKey: String((start + end) / 2n),
      }),
    );
    await waitActive(kinesis, stream);
    const afterSplit = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const children = (afterSplit.Shards ?? []).filter((s) => s.ParentShardId === s0!.ShardId);
    expect(children).toHaveLength(2);
    expect(
      afterSplit.Shards?.find((s) => s.ShardId === s0!.ShardId)?.SequenceNumberRange
        ?.EndingSequenceNumber,
    ).toBeDefined();

    // Merge the upper child with the untouched neighbour (adjacent hash ranges).
    const upper = children.find((c) => BigInt(c.HashKeyRange!.EndingHashKey!) === end)!;
    await kinesis.send(
      new MergeShardsCommand({
        StreamName: stream,
        ShardToMerge: upper.ShardId,
        AdjacentShardToMerge: s1!.ShardId,
      }),
    );
    await waitActive(kinesis, stream);
    const afterMerge = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const merged = (afterMerge.Shards ?? []).find((s) => s.AdjacentParentShardId !== undefined);
    expect(merged?.ParentShardId).toBe(upper.ShardId);
    expect(merged?.AdjacentParentShardId).toBe(s1!.ShardId);
  });
});

async function waitActive(kinesis: KinesisClient, stream: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stream ${stream} did not become ACTIVE`);
}

describe('embedded AWS: DynamoDB (Amazon DynamoDB Local)', () => {
  async function createTable(): Promise<string> {
    const name = uniqueName('t');
    await fx.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'dueBucket', AttributeType: 'S' },
          { AttributeName: 'dueAt', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'due',
            KeySchema: [
              { AttributeName: 'dueBucket', KeyType: 'HASH' },
              { AttributeName: 'dueAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    return name;
  }

  it('enforces a position guard compared as fixed-width strings, and returns the item on a failed condition', async () => {
    const table = await createTable();
    const doc = fx.clients.documentClient;
    const pad = (n: bigint): string => n.toString().padStart(128, '0');
    const guard = (seq: bigint) =>
      new UpdateCommand({
        TableName: table,
        Key: { pk: 'op#k', sk: 'w#0' },
        UpdateExpression: 'ADD #c :one SET #p = :pos',
        ConditionExpression: 'attribute_not_exists(#p) OR #p < :pos',
        ExpressionAttributeNames: { '#c': 'count', '#p': 'pos_shard0' },
        ExpressionAttributeValues: { ':one': 1, ':pos': pad(seq) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    // 9 < 10 numerically but "9" > "10" as strings: padding makes them agree.
    await doc.send(guard(9n));
    await doc.send(guard(49590338271490256608559692538361571095921575989136588898n));
    const err = await doc.send(guard(10n)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConditionalCheckFailedException);
    expect((err as ConditionalCheckFailedException).Item?.['count']).toEqual({ N: '2' });
  });

  it('runs transactions, GSI queries, batch writes, segmented scans and TTL settings', async () => {
    const table = await createTable();
    const doc = fx.clients.documentClient;
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: 'a', sk: '1', dueBucket: 'b3', dueAt: '0005' } } },
          { Put: { TableName: table, Item: { pk: 'a', sk: '2', dueBucket: 'b3', dueAt: '0002' } } },
        ],
      }),
    );
    const cancelled = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { pk: 'a', sk: '3' } } },
            {
              ConditionCheck: {
                TableName: table,
                Key: { pk: 'a', sk: '1' },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect((cancelled as Error).name).toBe('TransactionCanceledException');
    expect(
      (await doc.send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: '3' } }))).Item,
    ).toBeUndefined();

    const due = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'due',
        KeyConditionExpression: 'dueBucket = :b AND dueAt <= :w',
        ExpressionAttributeValues: { ':b': 'b3', ':w': '0004' },
      }),
    );
    expect(due.Items?.map((i) => String(i['sk']))).toEqual(['2']);

    await doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [table]: Array.from({ length: 25 }, (_, i) => ({
            PutRequest: { Item: { pk: `p${i}`, sk: 's' } },
          })),
        },
      }),
    );
    const segments = await Promise.all(
      [0, 1, 2, 3].map((Segment) =>
        doc.send(new ScanCommand({ TableName: table, Segment, TotalSegments: 4 })),
      ),
    );
    expect(segments.reduce((n, s) => n + (s.Count ?? 0), 0)).toBe(27);

    await fx.clients.dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
    const ttl = await fx.clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
  });
});

describe('embedded AWS: S3', () => {
  it('stores streamed bodies byte for byte (no aws-chunked framing) and lists by prefix', async () => {
    const { s3 } = fx.clients;
    const bucket = uniqueName('b').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'ckpt/1/part-0',
        Body: Readable.from([payload.subarray(0, 70_000), payload.subarray(70_000)]),
        ContentLength: payload.length,
      }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'ckpt/1/manifest.json', Body: '{"v":1}' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/x', Body: 'x' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ckpt/1/part-0' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(bytes.length).toBe(payload.length);
    expect(sha(bytes)).toBe(sha(payload));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ckpt/' }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([
      'ckpt/1/manifest.json',
      'ckpt/1/part-0',
    ]);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'other/x' }));
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(after.KeyCount).toBe(2);
  });
});
