/**
 * The shard range reader against a hand-written fake of one shard: paging,
 * the inclusive end, stopping at the tip or the end of a closed shard,
 * throttling, and the gap check: a trimmed start is a ReplayGapError, never
 * a silent skip. The fake trims the way kinesalite does (GetRecords drops
 * records older than the retention and returns the next ones without an
 * error), the behaviour the reader must not trust.
 */
import { describe, expect, it } from 'vitest';
import {
  ProvisionedThroughputExceededException,
  type GetRecordsCommand,
  type GetShardIteratorCommand,
} from '@aws-sdk/client-kinesis';
import {
  oldestRetained,
  readShard,
  type KinesisReadClient,
  type ShardStart,
} from '../../../lib/adapters/kinesis/shard-reader.ts';
import { ReplayGapError } from '../../../lib/errors.ts';

const SHARD = 'shardId-000000000000';

/** One shard: records with sequence numbers 1000, 1010, ...; the first `trimmed` are gone. */
function fakeShard(o: {
  count: number;
  trimmed?: number;
  closed?: boolean;
  throttleFirst?: number;
}): KinesisReadClient & { calls: string[] } {
  const seqs = Array.from({ length: o.count }, (_, i) => String(1000 + i * 10));
  const calls: string[] = [];
  let throttles = o.throttleFirst ?? 0;
  const retained = (i: number): boolean => i >= (o.trimmed ?? 0);
  const send = (command: GetShardIteratorCommand | GetRecordsCommand): Promise<unknown> => {
    const name = command.constructor.name;
    calls.push(name);
    if (throttles > 0) {
      throttles -= 1;
      return Promise.reject(
        new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }),
      );
    }
    if (name === 'GetShardIteratorCommand') {
      const input = (command as GetShardIteratorCommand).input;
      const at = input.StartingSequenceNumber;
      let pos = 0;
      if (input.ShardIteratorType === 'AT_SEQUENCE_NUMBER')
        pos = seqs.findIndex((s) => BigInt(s) >= BigInt(at as string));
      if (input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER')
        pos = seqs.findIndex((s) => BigInt(s) > BigInt(at as string));
      if (pos < 0) pos = seqs.length;
      return Promise.resolve({ $metadata: {}, ShardIterator: String(pos) });
    }
    const input = (command as GetRecordsCommand).input;
    let pos = Number(input.ShardIterator);
    while (pos < seqs.length && !retained(pos)) pos += 1; // trimmed: skipped silently
    const end = Math.min(seqs.length, pos + (input.Limit ?? 10_000));
    const Records = seqs.slice(pos, end).map((s) => ({
      SequenceNumber: s,
      PartitionKey: 'pk',
      Data: new TextEncoder().encode(s),
      ApproximateArrivalTimestamp: new Date(0),
    }));
    const atEnd = end >= seqs.length;
    return Promise.resolve({
      $metadata: {},
      Records,
      MillisBehindLatest: atEnd ? 0 : 1000,
      ...(atEnd && o.closed ? {} : { NextShardIterator: String(end) }),
    });
  };
  return { calls, send: send as KinesisReadClient['send'] };
}

async function read(
  client: KinesisReadClient,
  start: ShardStart,
  extra: { end?: string; limit?: number } = {},
): Promise<string[]> {
  const out: string[] = [];
  for await (const page of readShard({
    client,
    stream: { StreamName: 's' },
    shardId: SHARD,
    start,
    retry: { sleep: () => Promise.resolve() },
    ...extra,
  }))
    out.push(...page.records.map((r) => r.SequenceNumber as string));
  return out;
}

describe('readShard', () => {
  it('GIVEN a range AT a sequence number to an inclusive end WHEN read with Limit 2 THEN exactly those records, page by page', async () => {
    const shard = fakeShard({ count: 10 });
    expect(
      await read(
        shard,
        { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '1020' },
        { end: '1060', limit: 2 },
      ),
    ).toEqual(['1020', '1030', '1040', '1050', '1060']);
  });

  it('GIVEN AFTER a sequence number and no end WHEN read THEN every later record up to the tip, then it stops (caught up)', async () => {
    const shard = fakeShard({ count: 5 });
    expect(
      await read(shard, { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '1010' }, { limit: 2 }),
    ).toEqual(['1020', '1030', '1040']);
  });

  it('GIVEN TRIM_HORIZON on a closed shard WHEN read THEN every record, and it stops where the shard ends', async () => {
    const shard = fakeShard({ count: 3, closed: true });
    expect(await read(shard, { type: 'TRIM_HORIZON' })).toEqual(['1000', '1010', '1020']);
  });

  it('GIVEN throttling WHEN read THEN the shared retry policy retries and the records come back', async () => {
    const shard = fakeShard({ count: 3, throttleFirst: 2 });
    expect(
      await read(shard, { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '1000' }, { end: '1020' }),
    ).toEqual(['1000', '1010', '1020']);
    expect(shard.calls.length).toBeGreaterThan(2);
  });

  it('GIVEN a start older than the retention (the service silently starts at the oldest record) WHEN read THEN ReplayGapError with the shard, the stored position and the oldest available one', async () => {
    const shard = fakeShard({ count: 10, trimmed: 4 });
    const err = await read(
      shard,
      { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '1010' },
      { end: '1080' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplayGapError);
    const gap = err as ReplayGapError;
    expect([gap.shardId, gap.wantedSequenceNumber, gap.oldestAvailableSequenceNumber]).toEqual([
      SHARD,
      '1010',
      '1040',
    ]);
    expect(gap.message).toContain('1040');
  });

  it('GIVEN AFTER a trimmed sequence number WHEN read THEN ReplayGapError too', async () => {
    const shard = fakeShard({ count: 10, trimmed: 4 });
    await expect(
      read(shard, { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '1000' }),
    ).rejects.toBeInstanceOf(ReplayGapError);
  });

  it('GIVEN AT a sequence number of a shard that retains nothing WHEN read THEN ReplayGapError without an oldest position', async () => {
    const shard = fakeShard({ count: 3, trimmed: 3 });
    const err = await read(shard, { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '1000' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplayGapError);
    expect((err as ReplayGapError).oldestAvailableSequenceNumber).toBeUndefined();
  });

  it('GIVEN the oldest retained record exactly at the start WHEN read THEN no gap', async () => {
    const shard = fakeShard({ count: 6, trimmed: 2 });
    expect(
      await read(shard, { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '1020' }, { end: '1030' }),
    ).toEqual(['1020', '1030']);
    expect(
      await oldestRetained({ client: shard, stream: { StreamName: 's' }, shardId: SHARD }),
    ).toBe('1020');
  });

  it('GIVEN a Limit outside 1..10000 WHEN read THEN a ConfigError naming it', async () => {
    await expect(
      read(fakeShard({ count: 1 }), { type: 'TRIM_HORIZON' }, { limit: 0 }),
    ).rejects.toThrow(/limit/);
  });
});
