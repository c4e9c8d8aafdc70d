import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  PutRecordsCommand,
  PutRecordsCommandInput,
  PutRecordsCommandOutput,
} from '@aws-sdk/client-kinesis';
import {
  deaggregate,
  putRecords,
  ConfigError,
  RecordTooLargeError,
  shardId as toShardId,
  type ProducerRecord,
} from '../../../lib/index.ts';
import {
  hashKeyOf,
  InvalidRecordError,
  ProducerError,
  type KinesisPutRecordsClient,
  type ProducerProgress,
  type ShardHashRange,
} from '../../../lib/kinesis/index.ts';

const MiB = 1024 * 1024;
type Entry = NonNullable<PutRecordsCommandInput['Records']>[number];
type EntryResult = NonNullable<PutRecordsCommandOutput['Records']>[number];

/**
 * A hand-written fake of KinesisClient.send for PutRecords. `respond` decides,
 * per call, which entries fail (by index in that call) or throws for the whole
 * request. Stored entries get a shard from the key's MD5 (4 shards) and a
 * growing 56-digit sequence number.
 */
class FakeKinesis implements KinesisPutRecordsClient {
  readonly calls: PutRecordsCommandInput[] = [];
  readonly stored: { data: Uint8Array; key: string; shardId: string; seq: string }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private seq = 49590338271490256608559692538361571095921575989136588898n;

  constructor(
    private readonly respond: (
      call: number,
      entries: readonly Entry[],
    ) => Error | Map<number, string> | undefined = () => undefined,
    private readonly latency = 0,
  ) {}

  async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
    const input = command.input;
    const call = this.calls.push(structuredClone(input)) - 1;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.latency));
      const entries = input.Records ?? [];
      const verdict = this.respond(call, entries);
      if (verdict instanceof Error) throw verdict;
      let failed = 0;
      const results = entries.map((e, i): EntryResult => {
        const code = verdict?.get(i);
        if (code !== undefined) {
          failed++;
          return { ErrorCode: code, ErrorMessage: `${code} for entry ${i}` };
        }
        const shard = createHash('md5')
          .update(e.PartitionKey as string)
          .digest()[0] as number;
        const shardId = `shardId-00000000000${shard % 4}`;
        this.seq += 1n;
        this.stored.push({
          data: e.Data as Uint8Array,
          key: e.PartitionKey as string,
          shardId,
          seq: String(this.seq),
        });
        return { ShardId: shardId, SequenceNumber: String(this.seq) };
      });
      return { $metadata: { httpStatusCode: 200 }, FailedRecordCount: failed, Records: results };
    } finally {
      this.inFlight--;
    }
  }
}

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from the fake`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

const records = (n: number, size = 10): ProducerRecord[] =>
  Array.from({ length: n }, (_, i) => ({ data: `${i}`.padEnd(size, '.'), partitionKey: `k${i}` }));

/** No real waiting in unit tests: sleeps are recorded and resolve at once. */
function instantSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: (ms) => (delays.push(ms), Promise.resolve()) };
}

describe('putRecords: batching within Kinesis limits', () => {
  it('GIVEN 1001 records WHEN put THEN requests hold 500, 500 and 1 records', async () => {
    const kinesis = new FakeKinesis();
    const result = await putRecords(kinesis, 'clicks', records(1001));
    expect(kinesis.calls.map((c) => c.Records?.length).sort()).toEqual([1, 500, 500]);
    expect(result.records).toBe(1001);
    expect(result.requests).toBe(3);
    expect(result.positions).toHaveLength(1001);
    expect(kinesis.calls[0]?.StreamName).toBe('clicks');
  });

  it('GIVEN six 1 MiB records (data + key) THEN five fill one 5 MiB request and the sixth goes alone', async () => {
    const kinesis = new FakeKinesis();
    const big = (i: number): ProducerRecord => ({
      data: new Uint8Array(MiB - 2),
      partitionKey: `k${i}`,
    });
    const result = await putRecords(kinesis, 's', [0, 1, 2, 3, 4, 5].map(big), { concurrency: 1 });
    expect(kinesis.calls.map((c) => c.Records?.length)).toEqual([5, 1]);
    expect(result.bytes).toBe(6 * MiB);
  });

  it('counts partition key bytes (UTF-8) toward the 5 MiB request limit', async () => {
    const kinesis = new FakeKinesis();
    // 5 records of data 1 MiB - 2 and a 2-byte key make exactly 5 MiB; a 3-byte key (é + 1) tips the fifth over.
    const recs = [0, 1, 2, 3].map((i) => ({
      data: new Uint8Array(MiB - 2),
      partitionKey: `k${i}`,
    }));
    recs.push({ data: new Uint8Array(MiB - 3), partitionKey: 'é1' });
    recs.push({ data: new Uint8Array(1), partitionKey: 'x' });
    await putRecords(kinesis, 's', recs, { concurrency: 1 });
    expect(kinesis.calls.map((c) => c.Records?.length)).toEqual([5, 1]);
  });

  it('accepts a record of exactly 1 MiB including its key and refuses one byte more', async () => {
    const ok = await putRecords(new FakeKinesis(), 's', [
      { data: new Uint8Array(MiB - 2), partitionKey: 'ab' },
    ]);
    expect(ok.records).toBe(1);
    await expect(
      putRecords(new FakeKinesis(), 's', [{ data: new Uint8Array(MiB - 1), partitionKey: 'ab' }]),
    ).rejects.toThrow(RecordTooLargeError);
  });

  it('honours a raised maxRecordBytes (streams with large records)', async () => {
    const r = await putRecords(
      new FakeKinesis(),
      's',
      [{ data: new Uint8Array(2 * MiB), partitionKey: 'k' }],
      {
        maxRecordBytes: 3 * MiB,
      },
    );
    expect(r.records).toBe(1);
  });

  it('accepts 256-character keys (counted in code points) and refuses 257 or empty', async () => {
    const emoji = '😀'.repeat(256); // 512 UTF-16 units, 256 characters
    const ok = await putRecords(new FakeKinesis(), 's', [
      { data: 'a', partitionKey: 'k'.repeat(256) },
      { data: 'b', partitionKey: emoji },
    ]);
    expect(ok.records).toBe(2);
    const err = await putRecords(new FakeKinesis(), 's', [
      { data: 'a', partitionKey: 'k'.repeat(257) },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRecordError);
    expect((err as Error).message).toBe(
      'Record 0: partitionKey must be 1..256 Unicode characters (given 257)',
    );
    await expect(
      putRecords(new FakeKinesis(), 's', [{ data: 'a', partitionKey: '' }]),
    ).rejects.toThrow(InvalidRecordError);
    await expect(
      putRecords(new FakeKinesis(), 's', [
        { data: 'a', partitionKey: 'k', explicitHashKey: String(1n << 128n) },
      ]),
    ).rejects.toThrow(/explicitHashKey must be a decimal 0..2\^128-1/);
  });

  it('GIVEN record 7 of 10 is oversized THEN records 0..6 are stored, nothing from 7 on is sent, and the error names index 7', async () => {
    const kinesis = new FakeKinesis();
    const input = records(10);
    input[7] = { data: new Uint8Array(MiB), partitionKey: 'big' };
    const err = await putRecords(kinesis, 's', input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect((err as RecordTooLargeError).index).toBe(7);
    expect((err as Error).message).toBe(
      'Record 7 is 1048579 bytes (data + partition key); Kinesis accepts at most 1048576. ' +
        'Split the record or store the payload in S3 and send a reference.',
    );
    expect(kinesis.stored.map((s) => s.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
  });

  it('sends what was read before the input itself failed, then rethrows its error', async () => {
    const kinesis = new FakeKinesis();
    function* input(): Generator<ProducerRecord> {
      yield* records(3);
      throw new Error('disk on fire');
    }
    await expect(putRecords(kinesis, 's', input())).rejects.toThrow('disk on fire');
    expect(kinesis.stored).toHaveLength(3);
  });

  it('uses StreamARN for an ARN', async () => {
    const kinesis = new FakeKinesis();
    await putRecords(kinesis, 'arn:aws:kinesis:us-east-1:123456789012:stream/s', records(1));
    expect(kinesis.calls[0]).toMatchObject({
      StreamARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/s',
    });
    expect(kinesis.calls[0]?.StreamName).toBeUndefined();
  });

  it('rejects bad options naming the field', async () => {
    await expect(
      putRecords(new FakeKinesis(), 's', [], { maxRecordsPerRequest: 501 }),
    ).rejects.toThrow(new ConfigError('maxRecordsPerRequest', 501, 'must be an integer 1..500'));
    await expect(putRecords(new FakeKinesis(), 's', [], { ratePerSecond: 0 })).rejects.toThrow(
      /ratePerSecond/,
    );
  });
});

describe('putRecords: retries', () => {
  it('GIVEN entries 1 and 3 are throttled THEN only those two are re-sent, and every record is stored once', async () => {
    const kinesis = new FakeKinesis((call) =>
      call === 0
        ? new Map([
            [1, 'ProvisionedThroughputExceededException'],
            [3, 'InternalFailure'],
          ])
        : undefined,
    );
    const { sleep, delays } = instantSleep();
    const result = await putRecords(kinesis, 's', records(5), { sleep, random: () => 0.5 });
    expect(kinesis.calls[1]?.Records?.map((r) => r.PartitionKey)).toEqual(['k1', 'k3']);
    expect(kinesis.stored.map((s) => s.key).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(result).toMatchObject({
      records: 5,
      requests: 2,
      retriedEntries: 2,
      retriedRequests: 0,
    });
    expect(delays).toEqual([50]); // 0.5 * min(5000, 100 * 2^0)
    // Positions follow the retried entries to where they were finally stored.
    const byKey = new Map(kinesis.stored.map((s) => [s.key, s]));
    result.positions.forEach((p, i) => {
      expect(p.sequenceNumber).toBe(byKey.get(`k${i}`)?.seq);
      expect(p.shardId).toBe(byKey.get(`k${i}`)?.shardId);
      expect(p.subSequenceNumber).toBe(0);
    });
    const perShardTotal = Object.values(result.perShard).reduce((a, b) => a + b, 0);
    expect(perShardTotal).toBe(5);
  });

  it('GIVEN an entry that always fails THEN it gives up after maxAttempts listing the entry and its code', async () => {
    const kinesis = new FakeKinesis((_call, entries) => {
      const i = entries.findIndex((e) => e.PartitionKey === 'k2');
      return i < 0 ? undefined : new Map([[i, 'KMSAccessDeniedException']]);
    });
    const { sleep } = instantSleep();
    const err = await putRecords(kinesis, 's', records(4), { sleep, maxAttempts: 3 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProducerError);
    const pe = err as ProducerError;
    expect(pe.reason).toBe('exhausted');
    expect(pe.failed).toEqual([
      {
        index: 2,
        errorCode: 'KMSAccessDeniedException',
        errorMessage: 'KMSAccessDeniedException for entry 0',
        attempts: 3,
      },
    ]);
    expect(pe.partial.records).toBe(3);
    expect(pe.partial.retriedEntries).toBe(2);
    expect(pe.message).toBe(
      '1 record(s) still failing after 3 attempts; 3 record(s) stored, 1 failed (#2 KMSAccessDeniedException)',
    );
    expect(kinesis.calls).toHaveLength(3);
  });

  it('retries a whole request after a 500 or throttling, with growing capped jittered delays', async () => {
    const kinesis = new FakeKinesis((call) =>
      call === 0
        ? awsError('InternalFailure', 500)
        : call === 1
          ? awsError('ProvisionedThroughputExceededException', 400)
          : call === 2
            ? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
            : undefined,
    );
    const { sleep, delays } = instantSleep();
    const result = await putRecords(kinesis, 's', records(3), {
      sleep,
      random: () => 0.999,
      baseDelayMs: 100,
      maxDelayMs: 250,
    });
    expect(result).toMatchObject({
      records: 3,
      requests: 4,
      retriedRequests: 3,
      retriedEntries: 0,
    });
    expect(delays).toEqual([99, 199, 249]);
    expect(kinesis.calls.every((c) => c.Records?.length === 3)).toBe(true);
  });

  it('does not retry an error retrying cannot fix', async () => {
    const kinesis = new FakeKinesis(() => awsError('ResourceNotFoundException', 400));
    const err = await putRecords(kinesis, 'nope', records(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerError);
    expect((err as ProducerError).reason).toBe('fatal');
    expect((err as ProducerError).failed.map((f) => [f.index, f.errorCode])).toEqual([
      [0, 'ResourceNotFoundException'],
      [1, 'ResourceNotFoundException'],
    ]);
    expect((err as ProducerError).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(kinesis.calls).toHaveLength(1);
  });

  it('gives up on a request still throttled after maxAttempts', async () => {
    const kinesis = new FakeKinesis(() => awsError('ThrottlingException', 400));
    const { sleep } = instantSleep();
    const err = await putRecords(kinesis, 's', records(2), { sleep, maxAttempts: 4 }).catch(
      (e: unknown) => e,
    );
    expect((err as ProducerError).reason).toBe('exhausted');
    expect(
      (err as ProducerError).failed.every(
        (f) => f.attempts === 4 && f.errorCode === 'ThrottlingException',
      ),
    ).toBe(true);
    expect(kinesis.calls).toHaveLength(4);
  });
});

describe('putRecords: flow control', () => {
  it('never has more than `concurrency` requests in flight', async () => {
    const kinesis = new FakeKinesis(undefined, 5);
    const result = await putRecords(kinesis, 's', records(2000), {
      concurrency: 3,
      maxRecordsPerRequest: 100,
    });
    expect(result.requests).toBe(20);
    expect(kinesis.maxInFlight).toBe(3);
  });

  it('limits records per second with a token bucket on an injected clock', async () => {
    let clock = 0;
    const kinesis = new FakeKinesis();
    const result = await putRecords(kinesis, 's', records(1000), {
      ratePerSecond: 100,
      now: () => clock,
      sleep: (ms) => {
        clock += ms;
        return Promise.resolve();
      },
    });
    expect(result.records).toBe(1000);
    // Requests are capped at the rate; the first 100 ride the initial burst.
    expect(kinesis.calls.every((c) => (c.Records?.length ?? 0) <= 100)).toBe(true);
    expect(clock).toBeGreaterThanOrEqual(9_000);
    expect(clock).toBeLessThan(9_100);
  });

  it('reports monotonic progress ending at the total', async () => {
    const seen: ProducerProgress[] = [];
    await putRecords(new FakeKinesis(), 's', records(1200), {
      total: 1200,
      onProgress: (p) => seen.push(p),
    });
    expect(seen.map((p) => p.sent)).toEqual([...seen.map((p) => p.sent)].sort((a, b) => a - b));
    expect(seen.at(-1)).toMatchObject({ sent: 1200, total: 1200, requests: 3 });
  });

  it('stops reading on abort, finishes what is in flight, and says what was stored', async () => {
    const ac = new AbortController();
    const kinesis = new FakeKinesis();
    function* input(): Generator<ProducerRecord> {
      for (let i = 0; i < 10_000; i++) {
        if (i === 1200) ac.abort();
        yield { data: 'x', partitionKey: `k${i}` };
      }
    }
    const err = await putRecords(kinesis, 's', input(), { signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    expect((err as ProducerError).reason).toBe('aborted');
    expect((err as ProducerError).partial.records).toBe(kinesis.stored.length);
    expect(kinesis.stored.length).toBe(1000);
  });
});

describe('putRecords: KPL aggregation', () => {
  it('packs user records into aggregates and reports each one position with its sub-sequence number', async () => {
    const kinesis = new FakeKinesis();
    const input = records(3000, 200);
    const result = await putRecords(kinesis, 's', input, { aggregate: true });
    expect(result.records).toBe(3000);
    expect(result.kinesisRecords).toBeLessThan(5);
    const users = kinesis.stored.flatMap((s) =>
      deaggregate({ data: s.data, partitionKey: s.key, sequenceNumber: s.seq, shardId: s.shardId }),
    );
    expect(users.map((u) => u.partitionKey)).toEqual(input.map((r) => r.partitionKey));
    users.forEach((u, i) => {
      expect(result.positions[i]).toEqual({
        shardId: u.shardId,
        sequenceNumber: u.sequenceNumber,
        subSequenceNumber: u.subSequenceNumber,
      });
    });
    // Every Kinesis record stays within 1 MiB (data + key).
    expect(kinesis.stored.every((s) => s.data.length + s.key.length <= MiB)).toBe(true);
  });

  it('sends a record too big to aggregate, but valid alone, as a plain record', async () => {
    const kinesis = new FakeKinesis();
    const result = await putRecords(
      kinesis,
      's',
      [
        { data: 'a', partitionKey: 'k0' },
        { data: new Uint8Array(MiB - 10), partitionKey: 'k1' },
        { data: 'c', partitionKey: 'k2' },
      ],
      { aggregate: true, concurrency: 1 },
    );
    expect(result.records).toBe(3);
    const plain = kinesis.stored.find((s) => s.key === 'k1');
    expect(plain?.data.length).toBe(MiB - 10);
    expect(result.positions[1]?.subSequenceNumber).toBe(0);
  });
});

describe('putRecords: shard-aware KPL aggregation', () => {
  const Q = 1n << 126n;
  const quarters: ShardHashRange[] = [0n, 1n, 2n, 3n].map((i) => ({
    shardId: toShardId(`shardId-00000000000${i}`),
    startingHashKey: String(i * Q),
    endingHashKey: String((i + 1n) * Q - 1n),
  }));

  it('hashKeyOf is the MD5 of the partition key as a 128-bit number, or the explicit hash key', () => {
    expect(hashKeyOf({ partitionKey: '' })).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
    expect(hashKeyOf({ partitionKey: 'x', explicitHashKey: '42' })).toBe(42n);
  });

  it('pins each aggregate to one shard and puts every user record in the aggregate of its own shard', async () => {
    const kinesis = new FakeKinesis();
    const input = records(2000, 50);
    const result = await putRecords(kinesis, 's', input, { aggregate: { shards: quarters } });
    expect(result.records).toBe(2000);
    const sent = kinesis.calls.flatMap((c) => c.Records ?? []);
    expect(new Set(sent.map((e) => e.ExplicitHashKey))).toEqual(
      new Set(quarters.map((q) => q.startingHashKey)),
    );
    let users = 0;
    for (const e of sent) {
      const shard = quarters.find((q) => q.startingHashKey === e.ExplicitHashKey) as ShardHashRange;
      for (const u of deaggregate({
        data: e.Data as Uint8Array,
        partitionKey: e.PartitionKey as string,
        sequenceNumber: '1',
      })) {
        const h = hashKeyOf(u);
        expect(h >= BigInt(shard.startingHashKey) && h <= BigInt(shard.endingHashKey)).toBe(true);
        users++;
      }
    }
    expect(users).toBe(2000);
    // Positions still map input index -> (aggregate, sub-sequence).
    expect(
      new Set(result.positions.map((p) => `${p.sequenceNumber}/${p.subSequenceNumber}`)).size,
    ).toBe(2000);
  });

  it('buffers at most one request worth of bytes across shards', async () => {
    const kinesis = new FakeKinesis();
    const eighths: ShardHashRange[] = [...Array(8).keys()].map((i) => ({
      shardId: toShardId(`s${i}`),
      startingHashKey: String(BigInt(i) << 125n),
      endingHashKey: String(((BigInt(i) + 1n) << 125n) - 1n),
    }));
    const result = await putRecords(kinesis, 's', records(3000, 200), {
      aggregate: { shards: eighths },
      maxRequestBytes: 20_000,
    });
    expect(result.records).toBe(3000);
    for (const c of kinesis.calls) {
      const bytes = (c.Records ?? []).reduce(
        (n, e) => n + (e.Data as Uint8Array).length + (e.PartitionKey as string).length,
        0,
      );
      expect(bytes).toBeLessThanOrEqual(20_000);
    }
  });

  it('rejects an empty shard list', async () => {
    await expect(
      putRecords(new FakeKinesis(), 's', records(1), { aggregate: { shards: [] } }),
    ).rejects.toThrow('aggregate.shards must list at least one open shard (given [])');
  });
});
