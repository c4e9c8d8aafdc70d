/**
 * KinesisShardLagReader against a hand-written fake of the Kinesis client,
 * for what kinesalite never answers: a `MillisBehindLatest` above 0 (real
 * Kinesis behind the tip) and reads that stop at their bound.
 */
import { describe, expect, it } from 'vitest';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisShardLagReader } from '../../../lib/adapters/kinesis/kinesis-shard-lag.ts';
import { sequenceNumber, shardId } from '../../../lib/model/position.ts';
import { fakeSend, type Call } from './fake-aws.ts';

const T0 = Date.UTC(2026, 11, 1);
const rec = (n: number, at: number) => ({
  SequenceNumber: String(n),
  PartitionKey: 'k',
  Data: new Uint8Array(),
  ApproximateArrivalTimestamp: new Date(at),
});

function reader(
  pages: readonly object[],
  options: { maxReads?: number; recordsPerRead?: number; stream?: string } = {},
): { reader: KinesisShardLagReader; calls: Call[] } {
  const client = new KinesisClient({ region: 'us-east-1' });
  let page = 0;
  const calls = fakeSend(client, (call) =>
    call.command === 'GetShardIteratorCommand' ? { ShardIterator: 'it-0' } : pages[page++],
  );
  return {
    reader: new KinesisShardLagReader({ client, stream: options.stream ?? 's', ...options }),
    calls,
  };
}

describe('KinesisShardLagReader', () => {
  it('stops at maxReads behind the tip: a lower bound, the lag of the first record read', async () => {
    const { reader: r, calls } = reader(
      [
        {
          Records: [rec(1, T0), rec(2, T0 + 1000)],
          MillisBehindLatest: 9000,
          NextShardIterator: 'a',
        },
        {
          Records: [rec(3, T0 + 2000), rec(4, T0 + 3000)],
          MillisBehindLatest: 6000,
          NextShardIterator: 'b',
        },
      ],
      { maxReads: 2, recordsPerRead: 2 },
    );
    const lag = await r.lagAfter(shardId('shard-1'), sequenceNumber('7'));
    // The tip is 6 s after record 4, which arrived 3 s after record 1.
    expect(lag).toEqual({ records: 4, exact: false, millis: 9000, ended: false });
    expect(calls[0]?.input).toMatchObject({
      StreamName: 's',
      ShardId: 'shard-1',
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '7',
    });
    expect(calls.slice(1).map((c) => c.input['Limit'])).toEqual([2, 2]);
  });

  it('empty pages behind the tip are read on; the tip makes the count exact', async () => {
    const { reader: r } = reader([
      { Records: [], MillisBehindLatest: 4000, NextShardIterator: 'a' },
      { Records: [rec(1, T0)], MillisBehindLatest: 0, NextShardIterator: 'b' },
    ]);
    expect(await r.lagAfter(shardId('s1'), null)).toEqual({
      records: 1,
      exact: true,
      millis: 0,
      ended: false,
    });
  });

  it('the end of a closed shard: exact, ended, and no lag once nothing is left', async () => {
    const ended = reader([{ Records: [rec(1, T0), rec(2, T0 + 500)], MillisBehindLatest: 70_000 }]);
    expect(await ended.reader.lagAfter(shardId('s1'), null)).toEqual({
      records: 2,
      exact: true,
      millis: 70_500,
      ended: true,
    });
    const drained = reader([{ Records: [], MillisBehindLatest: 70_000 }]);
    expect(await drained.reader.lagAfter(shardId('s1'), sequenceNumber('2'))).toEqual({
      records: 0,
      exact: true,
      millis: 0,
      ended: true,
    });
  });

  it('an ARN addresses the stream by ARN; a null position reads from TRIM_HORIZON', async () => {
    const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/clicks';
    const { reader: r, calls } = reader(
      [{ Records: [], MillisBehindLatest: 0, NextShardIterator: 'a' }],
      {
        stream: arn,
      },
    );
    await r.lagAfter(shardId('s1'), null);
    expect(calls[0]?.input).toEqual({
      StreamARN: arn,
      ShardId: 's1',
      ShardIteratorType: 'TRIM_HORIZON',
    });
  });

  it('rejects out-of-range bounds', () => {
    const client = new KinesisClient({ region: 'us-east-1' });
    expect(() => new KinesisShardLagReader({ client, stream: 's', maxReads: 0 })).toThrow(
      'maxReads must be an integer 1..100 (given 0)',
    );
  });
});
