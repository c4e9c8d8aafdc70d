/**
 * The local ESM's Lambda behaviours against the embedded Kinesis, with an
 * in-process handler. Each test would fail if its behaviour were missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import {
  InMemoryOnFailureDestination,
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
  S3OnFailureDestination,
  type KinesisHandler,
  type LocalEventSourceMappingOptions,
} from '../../lib/runtime/local/esm/index.ts';
import type { EventSourceMappingInput } from '../../lib/runtime/esm-settings.ts';
import {
  OffsetClock,
  createStream,
  openShards,
  put,
  range,
  record,
  sleep,
} from '../fixtures/handlers/esm-kit.ts';

const fixture = useLocalAws();
const running: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

const seqsOf = (e: KinesisStreamEvent): string[] => e.Records.map((r) => r.kinesis.sequenceNumber);
const dataOf = (e: KinesisStreamEvent): string[] =>
  e.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());

async function esmFor(
  stream: string,
  handler: KinesisHandler,
  settings: EventSourceMappingInput,
  extra: Partial<LocalEventSourceMappingOptions> = {},
): Promise<LocalEventSourceMapping> {
  const esm = new LocalEventSourceMapping({
    kinesis: fixture.clients.kinesis,
    streamName: stream,
    invoker: new InProcessHandlerInvoker(handler),
    settings: { reportBatchItemFailures: false, bisectBatchOnFunctionError: false, ...settings },
    pollIntervalMs: 50,
    shardDiscoveryIntervalMs: 100,
    retryDelayMs: 0,
    ...extra,
  });
  running.push(esm);
  await esm.start();
  return esm;
}

describe('local ESM on the embedded Kinesis', () => {
  it('batchSize caps every invocation', async () => {
    const stream = uniqueName('esm-bs');
    await createStream(fixture.clients.kinesis, stream, 1);
    await put(fixture.clients.kinesis, stream, range(25));
    const sizes: number[] = [];
    const esm = await esmFor(stream, (e) => void sizes.push(e.Records.length), { batchSize: 10 });
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('maximumBatchingWindowInSeconds gathers records arriving within the window into one batch', async () => {
    const stream = uniqueName('esm-win');
    await createStream(fixture.clients.kinesis, stream, 1);
    const sizes: number[] = [];
    const esm = await esmFor(stream, (e) => void sizes.push(e.Records.length), {
      batchSize: 100,
      maximumBatchingWindowInSeconds: 2,
    });
    await put(fixture.clients.kinesis, stream, range(3, 'a'));
    await sleep(400);
    await put(fixture.clients.kinesis, stream, range(2, 'b'));
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(sizes).toEqual([5]);
  });

  it('startingPosition TRIM_HORIZON reads old records, LATEST only new ones, AT_TIMESTAMP from the instant', async () => {
    const stream = uniqueName('esm-pos');
    await createStream(fixture.clients.kinesis, stream, 1);
    await put(fixture.clients.kinesis, stream, range(3, 'old'));
    await sleep(1100);
    const at = Date.now() / 1000;
    await put(fixture.clients.kinesis, stream, range(2, 'mid'));
    const got: Record<string, string[]> = { TRIM_HORIZON: [], LATEST: [], AT_TIMESTAMP: [] };
    const maps = [
      await esmFor(stream, (e) => void got['TRIM_HORIZON']?.push(...dataOf(e)), {
        startingPosition: 'TRIM_HORIZON',
      }),
      await esmFor(stream, (e) => void got['LATEST']?.push(...dataOf(e)), {
        startingPosition: 'LATEST',
      }),
      await esmFor(stream, (e) => void got['AT_TIMESTAMP']?.push(...dataOf(e)), {
        startingPosition: 'AT_TIMESTAMP',
        startingPositionTimestamp: at,
      }),
    ];
    await put(fixture.clients.kinesis, stream, range(2, 'new'));
    for (const m of maps) await m.waitUntilIdle({ timeoutMs: 10_000 });
    expect(got['TRIM_HORIZON']).toEqual([
      ...range(3, 'old'),
      ...range(2, 'mid'),
      ...range(2, 'new'),
    ]);
    expect(got['LATEST']).toEqual(range(2, 'new'));
    expect(got['AT_TIMESTAMP']).toEqual([...range(2, 'mid'), ...range(2, 'new')]);
  });

  it('keeps one batch in flight per shard while shards run in parallel', async () => {
    const stream = uniqueName('esm-conc');
    await createStream(fixture.clients.kinesis, stream, 4);
    const shards = await openShards(fixture.clients.kinesis, stream);
    for (const s of shards) await put(fixture.clients.kinesis, stream, range(40, s.id), s.start);
    const perShard = new Map<string, number>();
    let maxPerShard = 0;
    let global = 0;
    let maxGlobal = 0;
    const esm = await esmFor(
      stream,
      async (e) => {
        const shard = e.Records[0]?.eventID.split(':')[0] ?? '';
        perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
        global += 1;
        maxPerShard = Math.max(maxPerShard, perShard.get(shard) ?? 0);
        maxGlobal = Math.max(maxGlobal, global);
        await sleep(30);
        perShard.set(shard, (perShard.get(shard) ?? 0) - 1);
        global -= 1;
      },
      { batchSize: 10 },
    );
    await esm.waitUntilIdle({ timeoutMs: 20_000 });
    expect(esm.stats().recordsDelivered).toBe(160);
    expect(maxPerShard).toBe(1);
    expect(maxGlobal).toBeGreaterThan(1);
  });

  it('bisectBatchOnFunctionError splits a failing batch down to the poison record, then retries it maximumRetryAttempts times', async () => {
    const stream = uniqueName('esm-bisect');
    await createStream(fixture.clients.kinesis, stream, 1);
    const data = range(8);
    data[5] = 'poison';
    const seqs = await put(fixture.clients.kinesis, stream, data);
    const sizes: number[] = [];
    const dest = new InMemoryOnFailureDestination();
    const esm = await esmFor(
      stream,
      (e) => {
        sizes.push(e.Records.length);
        if (dataOf(e).includes('poison')) throw new Error('poison');
      },
      { batchSize: 8, bisectBatchOnFunctionError: true, maximumRetryAttempts: 2 },
      { onFailure: dest },
    );
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(sizes).toEqual([8, 4, 4, 2, 1, 1, 1, 1, 2]);
    expect(dest.sent).toHaveLength(1);
    const info = dest.sent[0]?.record;
    expect(info?.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(info?.requestContext.approximateInvokeCount).toBe(3);
    expect(info?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seqs[5],
      endSequenceNumber: seqs[5],
      batchSize: 1,
    });
    expect(esm.stats().bisects).toBe(3);
  });

  it('maximumRetryAttempts: a failing batch is invoked 1 + N times, reported with its range, then skipped', async () => {
    const stream = uniqueName('esm-retry');
    await createStream(fixture.clients.kinesis, stream, 1);
    const data = range(7);
    data[2] = 'poison';
    const seqs = await put(fixture.clients.kinesis, stream, data);
    const calls: string[][] = [];
    const dest = new InMemoryOnFailureDestination();
    const esm = await esmFor(
      stream,
      (e) => {
        calls.push(dataOf(e));
        if (dataOf(e).includes('poison')) throw new TypeError('bad record');
      },
      { batchSize: 5, maximumRetryAttempts: 2 },
      { onFailure: dest },
    );
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(calls.map((c) => c.length)).toEqual([5, 5, 5, 2]);
    expect(calls[3]).toEqual(['r-5', 'r-6']);
    const r = dest.sent[0]?.record;
    expect(r?.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    });
    expect(r?.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(r?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seqs[0],
      endSequenceNumber: seqs[4],
      batchSize: 5,
    });
    expect(esm.stats()).toMatchObject({ retries: 2, failuresSent: 1, recordsDiscarded: 5 });
  });

  it('maximumRecordAgeInSeconds discards records older than the limit (fake clock), even under infinite retries', async () => {
    const stream = uniqueName('esm-age');
    await createStream(fixture.clients.kinesis, stream, 1);
    const clock = new OffsetClock();
    const dest = new InMemoryOnFailureDestination();
    const seen: string[] = [];
    let invocations = 0;
    const esm = await esmFor(
      stream,
      (e) => {
        invocations += 1;
        seen.push(...dataOf(e));
        if (dataOf(e).includes('stuck')) throw new Error('stuck forever');
      },
      { batchSize: 10, maximumRetryAttempts: -1, maximumRecordAgeInSeconds: 60 },
      { onFailure: dest, clock, retryDelayMs: 50 },
    );
    const stuckSeqs = await put(fixture.clients.kinesis, stream, ['stuck', 'x']);
    while (invocations < 3) await sleep(20);
    clock.offsetMs = 61_000; // the records are now older than 60 s
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    const r = dest.sent[0]?.record;
    expect(r?.requestContext.condition).toBe('RecordAgeExceeded');
    expect(r?.requestContext.approximateInvokeCount).toBeGreaterThanOrEqual(3);
    expect(r?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: stuckSeqs[0],
      endSequenceNumber: stuckSeqs[1],
      batchSize: 2,
    });
    // Records already too old when read are never delivered.
    await put(fixture.clients.kinesis, stream, ['born-old']);
    clock.offsetMs = 61_000;
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(seen).not.toContain('born-old');
    expect(dest.sent[1]?.record.requestContext).toMatchObject({
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 0,
    });
    expect(dest.sent[1]?.record.responseContext).toBeUndefined();
    clock.offsetMs = 0;
    await put(fixture.clients.kinesis, stream, ['young']);
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(seen.at(-1)).toBe('young');
  });

  it('ReportBatchItemFailures resumes at the lowest failed sequence number; earlier records are not re-delivered', async () => {
    const stream = uniqueName('esm-partial');
    await createStream(fixture.clients.kinesis, stream, 1);
    const seqs = await put(fixture.clients.kinesis, stream, range(10));
    const calls: string[][] = [];
    const esm = await esmFor(
      stream,
      (e) => {
        calls.push(seqsOf(e));
        if (calls.length === 1)
          return { batchItemFailures: [{ itemIdentifier: seqs[6] }, { itemIdentifier: seqs[4] }] };
        return { batchItemFailures: [] };
      },
      { batchSize: 10, reportBatchItemFailures: true },
    );
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(seqs.slice(4));
    const all = calls.flat();
    for (const s of seqs.slice(0, 4)) expect(all.filter((x) => x === s)).toHaveLength(1);
  });

  it('ReportBatchItemFailures: an unknown, empty or missing itemIdentifier fails the whole batch', async () => {
    const stream = uniqueName('esm-partial-bad');
    await createStream(fixture.clients.kinesis, stream, 1);
    const seqs = await put(fixture.clients.kinesis, stream, range(4));
    const bad = [
      { batchItemFailures: [{ itemIdentifier: '42' }] },
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{}] },
    ];
    const calls: string[][] = [];
    const esm = await esmFor(
      stream,
      (e) => {
        calls.push(seqsOf(e));
        return bad[calls.length - 1] ?? null;
      },
      { batchSize: 10, reportBatchItemFailures: true, maximumRetryAttempts: 5 },
    );
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(calls).toEqual([seqs, seqs, seqs, seqs]);
  });

  it('on-failure record on S3: Lambda key layout and every field of the document', async () => {
    const stream = uniqueName('esm-s3');
    const bucket = uniqueName('esm-failures').toLowerCase();
    await fixture.clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await createStream(fixture.clients.kinesis, stream, 1);
    const seqs = await put(fixture.clients.kinesis, stream, ['p0', 'p1', 'p2']);
    const requestIds: string[] = [];
    const esm = await esmFor(
      stream,
      () => Promise.reject(new Error('always')),
      { batchSize: 3, maximumRetryAttempts: 1 },
      {
        onFailure: new S3OnFailureDestination({ client: fixture.clients.s3, bucket }),
        functionName: 'clicks-fn',
        uuid: '2b733gdc-8ac3-cdf5-af3a-1827b3b11284',
      },
    );
    esm.on((e) => {
      if (e.type === 'batch-start') requestIds.push(e.requestId);
    });
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    const list = await fixture.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(list.Contents).toHaveLength(1);
    const key = list.Contents?.[0]?.Key ?? '';
    expect(key).toMatch(
      /^aws\/lambda\/2b733gdc-8ac3-cdf5-af3a-1827b3b11284\/shardId-000000000000\/\d{4}\/\d{2}\/\d{2}\/\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}$/,
    );
    const obj = await fixture.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const doc = JSON.parse((await obj.Body?.transformToString()) ?? '{}') as Record<
      string,
      unknown
    > & {
      payload: KinesisStreamEvent;
    };
    expect(Object.keys(doc)).toEqual([
      'requestContext',
      'responseContext',
      'version',
      'timestamp',
      'KinesisBatchInfo',
      'payload',
    ]);
    expect(doc['requestContext']).toEqual({
      requestId: requestIds.at(-1),
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:clicks-fn`,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
    });
    expect(doc['responseContext']).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(doc['version']).toBe('1.0');
    expect(doc['timestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const first = doc.payload.Records[0];
    const last = doc.payload.Records[2];
    expect(doc['KinesisBatchInfo']).toEqual({
      shardId: 'shardId-000000000000',
      startSequenceNumber: seqs[0],
      endSequenceNumber: seqs[2],
      approximateArrivalOfFirstRecord: new Date(
        (first?.kinesis.approximateArrivalTimestamp ?? 0) * 1000,
      ).toISOString(),
      approximateArrivalOfLastRecord: new Date(
        (last?.kinesis.approximateArrivalTimestamp ?? 0) * 1000,
      ).toISOString(),
      batchSize: 3,
      streamArn: esm.streamArn,
    });
    expect(doc.payload.Records.map((r) => r.eventID)).toEqual(
      seqs.map((s) => `shardId-000000000000:${s}`),
    );
  });

  it('renews shard iterators (AFTER_SEQUENCE_NUMBER of the last record read) without loss or duplicates', async () => {
    const stream = uniqueName('esm-iter');
    await createStream(fixture.clients.kinesis, stream, 1);
    const seqs = await put(fixture.clients.kinesis, stream, range(30));
    const got: string[] = [];
    const esm = await esmFor(
      stream,
      (e) => void got.push(...seqsOf(e)),
      { batchSize: 7 },
      { iteratorMaxAgeMs: 0 },
    );
    const events = record(esm);
    await esm.waitUntilIdle({ timeoutMs: 10_000 });
    expect(got).toEqual(seqs);
    expect(events.filter((e) => e.type === 'iterator-renewed').length).toBeGreaterThan(3);
  });
});
