/**
 * The output contracts against the real adapters on the embedded AWS
 * (DynamoDB Local, s3rver, kinesalite), or LocalStack when AWS_ENDPOINT_URL
 * is set.
 */
import { describe, expect, it } from 'vitest';
import { CreateTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  DynamoDbResultSink,
  KinesisSink,
  S3DeadLetterOutput,
  S3Sink,
  SqsDeadLetterOutput,
  fromDeadLetterDocument,
  fromResultItem,
  isSupersededItem,
  lateRecordKinesisFormat,
  lateRecordS3Format,
  resultPartitionKey,
  resultSortKey,
  windowResultKinesisFormat,
  windowResultS3Format,
  type DeadLetterDocument,
} from '../../lib/adapters/sinks.ts';
import { endpointsFromEnv } from '../../lib/adapters/aws-clients.ts';
import { windowResult } from '../../lib/model/ids.ts';
import { windowRetraction } from '../../lib/model/retraction.ts';
import { readWindowResults } from '../../lib/runtime/local/read-outputs.ts';
import type { JsonValue } from '../../lib/model/json.ts';
import { position } from '../../lib/model/position.ts';
import {
  DeadLetterKind,
  type DeadLetter,
  type LateReason,
  type LateRecord,
  type WindowResult,
} from '../../lib/model/records.ts';
import type { TimeWindow } from '../../lib/model/time-window.ts';
import { useLocalAws, uniqueName } from '../helpers/local-aws.ts';
import { describeDeadLetterContract } from '../contract/dead-letter.contract.ts';
import { describeLateRecordSinkContract } from '../contract/late-record-sink.contract.ts';
import { describeResultSinkContract } from '../contract/result-sink.contract.ts';

const fx = useLocalAws();

async function createResultsTable(): Promise<string> {
  const name = uniqueName('results');
  await fx.clients.dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  return name;
}

async function createBucket(): Promise<string> {
  const name = uniqueName('sinks').toLowerCase();
  await fx.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

async function createStream(): Promise<string> {
  const name = uniqueName('out');
  const kinesis = fx.clients.kinesis;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  for (let i = 0; i < 200; i += 1) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString('utf8')) ?? '';
}

/** Every record's data in a (one-shard) stream, in order. */
async function readStream(kinesis: KinesisClient, stream: string): Promise<string[]> {
  const shards = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
  const out: string[] = [];
  for (const shard of shards.Shards ?? []) {
    const it = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = it.ShardIterator;
    while (iterator) {
      const page = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }),
      );
      for (const r of page.Records ?? [])
        out.push(Buffer.from(r.Data ?? new Uint8Array()).toString('utf8'));
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

interface ResultJson {
  id: string;
  operator: string;
  key: string;
  window: TimeWindow;
  generation?: number;
  version: number;
  value: JsonValue;
  firedAt?: number;
  supersedes?: TimeWindow[];
}

const toResult = (j: ResultJson): WindowResult => ({ ...j });

interface LateJson {
  id: string;
  operator: string;
  output: string;
  position: { shardId: string; sequenceNumber: string; subSequenceNumber: number };
  eventTime: number;
  window?: TimeWindow;
  watermark: number;
  reason: string;
  data: string;
}

const toLate = (j: LateJson): LateRecord => ({
  operator: j.operator,
  output: j.output,
  position: position(j.position.shardId, j.position.sequenceNumber, j.position.subSequenceNumber),
  data: new Uint8Array(Buffer.from(j.data, 'base64')),
  eventTime: j.eventTime,
  windows: j.window ? [j.window] : [],
  watermark: j.watermark,
  reason: j.reason as LateReason,
});

describeResultSinkContract('DynamoDbResultSink (DynamoDB Local)', async () => {
  const tableName = await createResultsTable();
  return {
    newSink: () =>
      new DynamoDbResultSink({ client: fx.clients.dynamodb, tableName, concurrency: 8 }),
    readBack: async (operator, key, window) => {
      const got = await fx.clients.dynamodb.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: resultPartitionKey(operator, key) }, sk: { S: resultSortKey(window) } },
          ConsistentRead: true,
        }),
      );
      return got.Item && !isSupersededItem(got.Item) ? fromResultItem(got.Item) : undefined;
    },
    reportsDuplicates: true,
  };
});

describe('readWindowResults over a DynamoDB results table', () => {
  it('GIVEN a result, a retracted window and a superseded session WHEN read THEN only the result comes back', async () => {
    const tableName = await createResultsTable();
    const sink = new DynamoDbResultSink({ client: fx.clients.dynamodb, tableName });
    const w = (start: number): TimeWindow => ({ start, end: start + 60_000 });
    const kept = windowResult({ operator: 'op', key: 'k', window: w(0), value: 1, version: 1 });
    await sink.write([
      kept,
      windowResult({ operator: 'op', key: 'k', window: w(60_000), value: 2, version: 3 }),
      windowResult({ operator: 'op', key: 's', window: w(0), value: 3, version: 1 }),
    ]);
    await sink.write([
      windowRetraction({ operator: 'op', key: 'k', window: w(60_000), generation: 1 }),
      windowResult({
        operator: 'op',
        key: 's',
        window: { start: 0, end: 120_000 },
        value: 4,
        version: 1,
        supersedes: [w(0)],
      }),
    ]);
    const read = await readWindowResults(fx.clients.dynamodb, tableName);
    expect(
      read
        .map((r) => `${r.key} ${r.window.start}-${r.window.end} ${JSON.stringify(r.value)}`)
        .sort(),
    ).toEqual(['k 0-60000 1', 's 0-120000 4']);
  });
});

describeResultSinkContract('S3Sink of WindowResult (s3rver)', async () => {
  const bucket = await createBucket();
  return {
    newSink: () =>
      new S3Sink({ client: fx.clients.s3, bucket, prefix: 'weir', format: windowResultS3Format }),
    readBack: async (operator, key, window) => {
      // Readers take the object of the window with the highest (generation, version).
      const prefix = `weir/${encodeURIComponent(operator)}/results/window_end=${new Date(window.end).toISOString()}/${encodeURIComponent(key)}/${window.start}-${window.end}-`;
      const keys = await listKeys(fx.clients.s3, bucket, prefix);
      const best = keys
        .map((k) => {
          const m = /-(?:g(\d+))?v(\d+)\.json$/.exec(k);
          return { k, g: Number(m?.[1] ?? 0), v: Number(m?.[2]) };
        })
        .sort((a, b) => b.g - a.g || b.v - a.v)[0];
      return best
        ? toResult(JSON.parse(await getText(fx.clients.s3, bucket, best.k)) as ResultJson)
        : undefined;
    },
    reportsDuplicates: false,
  };
});

describeResultSinkContract('KinesisSink of WindowResult (kinesalite)', async () => {
  const streamName = await createStream();
  return {
    newSink: () =>
      new KinesisSink({
        client: fx.clients.kinesis,
        streamName,
        format: windowResultKinesisFormat,
      }),
    readBack: async (operator, key, window) => {
      // Consumers dedupe by id and keep the highest version per window.
      const all = (await readStream(fx.clients.kinesis, streamName)).map(
        (d) => JSON.parse(d) as ResultJson,
      );
      const mine = all
        .filter(
          (r) =>
            r.operator === operator &&
            r.key === key &&
            r.window.start === window.start &&
            r.window.end === window.end,
        )
        .sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0) || b.version - a.version);
      return mine[0] ? toResult(mine[0]) : undefined;
    },
    reportsDuplicates: false,
  };
});

describeLateRecordSinkContract('S3Sink of LateRecord (s3rver)', async () => {
  const bucket = await createBucket();
  return {
    sink: new S3Sink({ client: fx.clients.s3, bucket, prefix: 'late', format: lateRecordS3Format }),
    readAll: async (operator) => {
      const keys = await listKeys(
        fx.clients.s3,
        bucket,
        `late/${encodeURIComponent(operator)}/late/`,
      );
      return Promise.all(
        keys.map(async (k) =>
          toLate(JSON.parse(await getText(fx.clients.s3, bucket, k)) as LateJson),
        ),
      );
    },
    idempotent: true,
  };
});

describeLateRecordSinkContract('KinesisSink of LateRecord (kinesalite)', async () => {
  const streamName = await createStream();
  return {
    sink: new KinesisSink({
      client: fx.clients.kinesis,
      streamName,
      format: lateRecordKinesisFormat,
    }),
    readAll: async (operator) =>
      (await readStream(fx.clients.kinesis, streamName))
        .map((d) => JSON.parse(d) as LateJson)
        .filter((j) => j.operator === operator)
        .map(toLate),
    idempotent: false,
  };
});

describeDeadLetterContract('S3DeadLetterOutput (s3rver)', async () => {
  const bucket = await createBucket();
  const deadLetter = new S3DeadLetterOutput({ client: fx.clients.s3, bucket, prefix: 'weir' });
  return {
    deadLetter,
    readAll: async (operator) => {
      const keys = await listKeys(fx.clients.s3, bucket, deadLetter.operatorPrefix(operator));
      return Promise.all(
        keys.map(async (k) =>
          fromDeadLetterDocument(
            JSON.parse(await getText(fx.clients.s3, bucket, k)) as DeadLetterDocument,
          ),
        ),
      );
    },
    idempotent: true,
  };
});

describe('S3DeadLetterOutput key layout', () => {
  it('writes <prefix>/<operator>/dead-letter/<shardId>/<encodedOffset>.json', async () => {
    const bucket = await createBucket();
    const dl = new S3DeadLetterOutput({ client: fx.clients.s3, bucket, prefix: 'p/' });
    const entry: DeadLetter = {
      operator: 'clicks',
      position: position(
        'shardId-000000000003',
        '49590338271490256608559692538361571095921575989136588898',
        2,
      ),
      data: new Uint8Array([1]),
      reason: 'bad',
      kind: DeadLetterKind.Kpl,
      at: 1,
    };
    await dl.send([entry, entry]);
    const keys = await listKeys(fx.clients.s3, bucket, 'p/');
    expect(keys).toEqual([
      `p/clicks/dead-letter/shardId-000000000003/${'49590338271490256608559692538361571095921575989136588898'.padStart(128, '0')}.0000000002.json`,
    ]);
  });
});

// No SQS emulator is embedded (kinesalite, DynamoDB Local and s3rver only), so
// the real SqsDeadLetterOutput runs only when an endpoint with SQS is configured
// (LocalStack: AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SQS). Its logic is covered
// by unit tests with a hand-written fake.
const sqsEndpoint = endpointsFromEnv(process.env).sqs;
describe.runIf(sqsEndpoint !== undefined)('SqsDeadLetterOutput (LocalStack)', () => {
  describeDeadLetterContract('SqsDeadLetterOutput (FIFO queue)', async () => {
    const created = await fx.clients.sqs.send(
      new CreateQueueCommand({
        QueueName: `${uniqueName('dl')}.fifo`,
        Attributes: { FifoQueue: 'true', MaximumMessageSize: String(1024 * 1024) },
      }),
    );
    const queueUrl = created.QueueUrl ?? '';
    const received: DeadLetter[] = [];
    return {
      deadLetter: new SqsDeadLetterOutput({
        client: fx.clients.sqs,
        queueUrl,
        maxMessageBytes: 1024 * 1024,
      }),
      readAll: async (operator) => {
        for (;;) {
          const out = await fx.clients.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
            }),
          );
          const msgs = out.Messages ?? [];
          if (msgs.length === 0) break;
          for (const m of msgs)
            received.push(fromDeadLetterDocument(JSON.parse(m.Body ?? '{}') as DeadLetterDocument));
        }
        return received.filter((e) => e.operator === operator);
      },
      idempotent: true,
      // base64 grows 4/3 and the document adds fields: the largest raw that fits 1 MiB.
      maxRawBytes: 700 * 1024,
    };
  });
});
