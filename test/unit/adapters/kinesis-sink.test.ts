/** KinesisSink against a hand-written fake Kinesis: partial failures, batching, limits. */
import { describe, expect, it } from 'vitest';
import { KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import {
  KinesisSink,
  windowResultKinesisFormat,
  RecordTooLargeError,
  windowResult,
  SinkError,
  type WindowResult,
} from '../../../lib/index.ts';
import { safePartitionKey, type KinesisRecordFormat } from '../../../lib/adapters/sinks.ts';
import { clientConfig, fakeClock, fakeSend } from './fake-aws.ts';

const r = (key: string, version = 1): WindowResult =>
  windowResult({
    operator: 'op',
    key,
    window: { start: 0, end: 10 },
    value: { n: version },
    version,
  });
const records = (input: Record<string, unknown>): PutRecordsRequestEntry[] =>
  input['Records'] as PutRecordsRequestEntry[];
const dataOf = (e: PutRecordsRequestEntry): { id: string } =>
  JSON.parse(Buffer.from(e.Data ?? new Uint8Array()).toString()) as { id: string };

describe('KinesisSink', () => {
  it('puts JSON with the result id, partitioned by key', async () => {
    const client = new KinesisClient(clientConfig);
    const calls = fakeSend(client, ({ input }) => ({
      Records: records(input).map(() => ({ SequenceNumber: '1', ShardId: 's' })),
    }));
    const report = await new KinesisSink({
      client,
      streamName: 'out',
      format: windowResultKinesisFormat,
    }).write([r('u1')]);
    expect(report.written).toBe(1);
    const sent = records(calls[0]?.input ?? {});
    expect(sent[0]?.PartitionKey).toBe('u1');
    expect(dataOf(sent[0] as PutRecordsRequestEntry)).toEqual({
      id: 'op/u1/0-10/v1',
      operator: 'op',
      key: 'u1',
      window: { start: 0, end: 10 },
      version: 1,
      value: { n: 1 },
    });
    expect(calls[0]?.input['StreamName']).toBe('out');
  });

  it('re-sends only the entries that failed, after a jittered backoff', async () => {
    const client = new KinesisClient(clientConfig);
    const clock = fakeClock();
    const calls = fakeSend(client, ({ input }, n) => ({
      FailedRecordCount: n === 0 ? 1 : 0,
      Records: records(input).map((_, i) =>
        n === 0 && i === 1
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }
          : { SequenceNumber: '1', ShardId: 's' },
      ),
    }));
    const sink = new KinesisSink({
      client,
      streamName: 'out',
      format: windowResultKinesisFormat,
      retry: { sleep: clock.sleep, random: clock.random },
    });
    const report = await sink.write([r('a'), r('b'), r('c')]);
    expect(report.items.map((i) => [i.index, i.outcome])).toEqual([
      [0, 'written'],
      [1, 'written'],
      [2, 'written'],
    ]);
    expect(calls).toHaveLength(2);
    expect(records(calls[1]?.input ?? {}).map((e) => dataOf(e).id)).toEqual(['op/b/0-10/v1']);
    expect(clock.sleeps).toEqual([12]);
  });

  it('GIVEN entries failing past maxAttempts THEN SinkError carries exactly those items', async () => {
    const client = new KinesisClient(clientConfig);
    const clock = fakeClock();
    fakeSend(client, ({ input }) => ({
      Records: records(input).map((e) =>
        dataOf(e).id.includes('/bad/')
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'x' }
          : { SequenceNumber: '1', ShardId: 's' },
      ),
    }));
    const items = [r('ok'), r('bad'), r('ok2')];
    const sink = new KinesisSink({
      client,
      streamName: 'out',
      format: windowResultKinesisFormat,
      retry: { sleep: clock.sleep, maxAttempts: 4 },
    });
    const e = (await sink.write(items).catch((x: unknown) => x)) as SinkError<WindowResult>;
    expect(e).toBeInstanceOf(SinkError);
    expect(e.unwritten).toEqual([items[1]]);
    expect(e.retryable).toBe(true);
    expect(e.report.written).toBe(2);
    expect(clock.sleeps).toHaveLength(3);
  });

  it('retries a throttled call as a whole and reports a non-retryable call error with every unwritten item', async () => {
    const client = new KinesisClient(clientConfig);
    const clock = fakeClock();
    let n = 0;
    fakeSend(client, ({ input }) => {
      n += 1;
      if (n === 1)
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ProvisionedThroughputExceededException',
          $fault: 'client',
          $metadata: {},
        });
      if (n === 2)
        throw Object.assign(new Error('Stream out not found'), {
          name: 'ResourceNotFoundException',
          $fault: 'client',
          $metadata: {},
        });
      return { Records: records(input).map(() => ({ SequenceNumber: '1' })) };
    });
    const items = [r('a'), r('b')];
    const sink = new KinesisSink({
      client,
      streamName: 'out',
      format: windowResultKinesisFormat,
      retry: { sleep: clock.sleep },
    });
    const e = (await sink.write(items).catch((x: unknown) => x)) as SinkError<WindowResult>;
    expect(e).toBeInstanceOf(SinkError);
    expect(e.retryable).toBe(false);
    expect(e.unwritten).toEqual(items);
    expect(n).toBe(2);
  });

  it('splits into PutRecords calls of at most 500 records and 5 MiB', async () => {
    const client = new KinesisClient(clientConfig);
    const calls = fakeSend(client, ({ input }) => ({
      Records: records(input).map(() => ({ SequenceNumber: '1' })),
    }));
    const big: KinesisRecordFormat<number> = {
      data: (i) => new Uint8Array(i < 0 ? 1 : 900 * 1024),
      partitionKey: (i) => String(i),
    };
    const small: KinesisRecordFormat<number> = { data: () => 'x', partitionKey: (i) => String(i) };
    await new KinesisSink({ client, streamName: 's', format: small }).write(
      Array.from({ length: 1001 }, (_, i) => i),
    );
    expect(calls.map((c) => records(c.input).length)).toEqual([500, 500, 1]);
    calls.length = 0;
    await new KinesisSink({ client, streamName: 's', format: big }).write(
      Array.from({ length: 7 }, (_, i) => i),
    );
    expect(calls.map((c) => records(c.input).length)).toEqual([5, 2]);
  });

  it('writes the others and reports an oversized item as non-retryable RecordTooLargeError', async () => {
    const client = new KinesisClient(clientConfig);
    const calls = fakeSend(client, ({ input }) => ({
      Records: records(input).map(() => ({ SequenceNumber: '1' })),
    }));
    const format: KinesisRecordFormat<number> = {
      data: (n) => new Uint8Array(n),
      partitionKey: () => 'k',
    };
    const e = (await new KinesisSink({ client, streamName: 's', format })
      .write([10, 1024 * 1024, 20])
      .catch((x: unknown) => x)) as SinkError<number>;
    expect(e).toBeInstanceOf(SinkError);
    expect(e.unwritten).toEqual([1024 * 1024]);
    expect(e.retryable).toBe(false);
    expect(e.cause).toBeInstanceOf(RecordTooLargeError);
    expect(e.report.written).toBe(2);
    expect(records(calls[0]?.input ?? {})).toHaveLength(2);
  });

  it('hashes partition keys longer than 256 characters or empty', () => {
    expect(safePartitionKey('k')).toBe('k');
    expect(safePartitionKey('é'.repeat(256))).toBe('é'.repeat(256));
    expect(safePartitionKey('x'.repeat(257))).toMatch(/^[0-9a-f]{64}$/);
    expect(safePartitionKey('')).toMatch(/^[0-9a-f]{64}$/);
  });
});
