/**
 * The producer against the embedded Kinesis (kinesalite): everything sent is
 * read back with GetRecords exactly once, partial failures injected by a
 * loopback proxy are retried entry by entry, and KPL aggregates de-aggregate
 * to the user records with their sub-sequence numbers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../lib/adapters/aws-clients.ts';
import {
  createStreamAndWait,
  deaggregate,
  hashKeyOf,
  listShardHashRanges,
  putRecords,
  readWholeStream,
  type ProducerRecord,
  type StoredRecord,
} from '../../lib/kinesis/index.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import {
  startFaultyKinesisProxy,
  type FaultPlan,
  type FaultyKinesisProxy,
} from '../helpers/faulty-kinesis-proxy.ts';

const fx = useLocalAws();

/** ~200-byte JSON records with a unique id. */
function jsonRecords(n: number, prefix = 'r'): ProducerRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const body = {
      id: `${prefix}-${i}`,
      user: `user-${i % 97}`,
      event: 'click',
      ts: 1_700_000_000_000 + i,
      pad: '',
    };
    const json = JSON.stringify(body);
    body.pad = 'x'.repeat(Math.max(0, 200 - json.length));
    return { data: JSON.stringify(body), partitionKey: body.user };
  });
}

function idOf(data: Uint8Array): string {
  return (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id;
}

function expectExactlyOnce(stored: readonly StoredRecord[], n: number, prefix = 'r'): void {
  const ids = stored.map((s) => idOf(s.data));
  expect(ids).toHaveLength(n);
  expect(new Set(ids).size).toBe(n);
  for (let i = 0; i < n; i++) expect(ids).toContain(`${prefix}-${i}`);
}

let proxy: FaultyKinesisProxy | undefined;
let proxyClients: AwsClients | undefined;
afterEach(async () => {
  proxyClients?.destroy();
  proxyClients = undefined;
  await proxy?.close();
  proxy = undefined;
});

/** A client that goes through the fault proxy, with SDK retries off so every retry is the producer's. */
async function throughProxy(
  plan: FaultPlan,
): Promise<{ proxy: FaultyKinesisProxy; clients: AwsClients }> {
  proxy = await startFaultyKinesisProxy(fx.aws.endpoints.kinesis, plan);
  proxyClients = createAwsClients({
    region: fx.aws.region,
    credentials: fx.aws.credentials,
    endpoints: { kinesis: proxy.endpoint },
    maxAttempts: 1,
  });
  return { proxy, clients: proxyClients };
}

describe('putRecords on the embedded Kinesis', () => {
  it('GIVEN 4 shards WHEN 3000 records are put THEN each is read back exactly once, at the reported position', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('produce');
    await createStreamAndWait(kinesis, stream, 4);
    const input = jsonRecords(3000);
    const result = await putRecords(kinesis, stream, input);
    expect(result).toMatchObject({ records: 3000, kinesisRecords: 3000, retriedEntries: 0 });
    expect(Object.keys(result.perShard)).toHaveLength(4);

    const stored = await readWholeStream(kinesis, stream);
    expectExactlyOnce(stored, 3000);
    const where = new Map(stored.map((s) => [idOf(s.data), s]));
    result.positions.forEach((p, i) => {
      const s = where.get(`r-${i}`);
      expect([p.shardId, p.sequenceNumber]).toEqual([s?.shardId, s?.sequenceNumber]);
    });
    const counted: Record<string, number> = {};
    for (const s of stored) counted[s.shardId] = (counted[s.shardId] ?? 0) + 1;
    expect(counted).toEqual(result.perShard);
  });

  it('GIVEN the proxy throttles chosen entries WHEN put THEN exactly those are retried and all are stored once', async () => {
    const stream = uniqueName('partial');
    await createStreamAndWait(fx.clients.kinesis, stream, 4);
    const input = jsonRecords(1000);
    // Entries whose id ends in 3 fail once; ids divisible by 50 + 7 fail twice.
    const failures = new Map<string, number>();
    for (let i = 0; i < input.length; i++) {
      if (i % 10 === 3) failures.set(`r-${i}`, 1);
      if (i % 50 === 7) failures.set(`r-${i}`, 2);
    }
    const expectedRetries = [...failures.values()].reduce((a, b) => a + b, 0);
    const failedSoFar = new Map<string, number>();
    const { proxy, clients } = await throughProxy(({ entries }) => {
      const indices: number[] = [];
      entries.forEach((e, i) => {
        const id = idOf(Buffer.from(e.Data, 'base64'));
        const done = failedSoFar.get(id) ?? 0;
        if (done < (failures.get(id) ?? 0)) {
          failedSoFar.set(id, done + 1);
          indices.push(i);
        }
      });
      return indices.length > 0 ? { kind: 'fail-entries', indices } : { kind: 'pass' };
    });

    const result = await putRecords(clients.kinesis, stream, input, {
      baseDelayMs: 5,
      maxDelayMs: 20,
    });

    expect(result.retriedEntries).toBe(expectedRetries);
    expect(result.records).toBe(1000);
    // Retry requests carried exactly the failed entries, nothing else.
    const resent = proxy.calls
      .slice(0)
      .flatMap((c) => c.entries.map((e) => idOf(Buffer.from(e.Data, 'base64'))));
    const sentCount = new Map<string, number>();
    for (const id of resent) sentCount.set(id, (sentCount.get(id) ?? 0) + 1);
    for (let i = 0; i < input.length; i++) {
      expect(sentCount.get(`r-${i}`)).toBe(1 + (failures.get(`r-${i}`) ?? 0));
    }
    const stored = await readWholeStream(fx.clients.kinesis, stream);
    expectExactlyOnce(stored, 1000);
  });

  it('GIVEN whole-request 500 and throttling answers WHEN put THEN the requests are retried and nothing is duplicated', async () => {
    const stream = uniqueName('whole');
    await createStreamAndWait(fx.clients.kinesis, stream, 2);
    const { proxy, clients } = await throughProxy(({ n }) =>
      n === 0
        ? { kind: 'status', status: 500, errorType: 'InternalFailure' }
        : n === 2
          ? { kind: 'status', status: 400, errorType: 'ProvisionedThroughputExceededException' }
          : n === 3
            ? { kind: 'status', status: 503, errorType: 'ServiceUnavailable' }
            : { kind: 'pass' },
    );
    const result = await putRecords(clients.kinesis, stream, jsonRecords(1200), {
      concurrency: 1,
      baseDelayMs: 5,
      maxDelayMs: 20,
    });
    expect(result).toMatchObject({
      records: 1200,
      retriedRequests: 3,
      retriedEntries: 0,
      requests: 6,
    });
    expect(proxy.calls).toHaveLength(6);
    expectExactlyOnce(await readWholeStream(fx.clients.kinesis, stream), 1200);
  });

  it('GIVEN an entry that keeps failing WHEN attempts run out THEN the error lists it and the rest are stored', async () => {
    const stream = uniqueName('exhaust');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const { clients } = await throughProxy(({ entries }) => {
      const i = entries.findIndex((e) => idOf(Buffer.from(e.Data, 'base64')) === 'r-5');
      return i < 0
        ? { kind: 'pass' }
        : { kind: 'fail-entries', indices: [i], errorCode: 'InternalFailure' };
    });
    const err = await putRecords(clients.kinesis, stream, jsonRecords(10), {
      maxAttempts: 3,
      baseDelayMs: 1,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProducerError', reason: 'exhausted' });
    expect((err as { failed: unknown }).failed).toEqual([
      {
        index: 5,
        errorCode: 'InternalFailure',
        errorMessage: expect.any(String) as unknown,
        attempts: 3,
      },
    ]);
    const stored = await readWholeStream(fx.clients.kinesis, stream);
    expect(stored.map((s) => idOf(s.data)).sort()).toEqual(
      ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-6', 'r-7', 'r-8', 'r-9'].sort(),
    );
  });

  it('GIVEN aggregate: true WHEN put and read raw THEN deaggregation yields the user records and sub-sequence numbers', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('kpl');
    await createStreamAndWait(kinesis, stream, 4);
    const input = jsonRecords(8000, 'agg');
    const result = await putRecords(kinesis, stream, input, { aggregate: true });
    expect(result.records).toBe(8000);
    expect(result.kinesisRecords).toBeLessThan(10);

    const raw = await readWholeStream(kinesis, stream);
    expect(raw).toHaveLength(result.kinesisRecords);
    const users = raw.flatMap((r) => deaggregate(r));
    expect(users).toHaveLength(8000);
    expect(users.every((u) => u.aggregated)).toBe(true);
    const byId = new Map(users.map((u) => [idOf(u.data), u]));
    input.forEach((rec, i) => {
      const u = byId.get(`agg-${i}`);
      expect(u?.partitionKey).toBe(rec.partitionKey);
      expect(Buffer.from(u?.data ?? []).toString()).toBe(rec.data);
      expect(result.positions[i]).toEqual({
        shardId: u?.shardId,
        sequenceNumber: u?.sequenceNumber,
        subSequenceNumber: u?.subSequenceNumber,
      });
    });
    // Sub-sequence numbers are 0..n-1 within each aggregate.
    for (const r of raw) {
      expect(deaggregate(r).map((u) => u.subSequenceNumber)).toEqual([
        ...Array(deaggregate(r).length).keys(),
      ]);
    }
  });

  it('GIVEN shard-aware aggregation WHEN read back THEN every user record sits on the shard its own key hashes to', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('kpl-shards');
    await createStreamAndWait(kinesis, stream, 4);
    const shards = await listShardHashRanges(kinesis, stream);
    expect(shards).toHaveLength(4);
    const input = jsonRecords(4000, 'sa');
    const result = await putRecords(kinesis, stream, input, { aggregate: { shards } });
    expect(result.records).toBe(4000);
    const raw = await readWholeStream(kinesis, stream);
    const users = raw.flatMap((r) => deaggregate(r));
    expect(users).toHaveLength(4000);
    for (const u of users) {
      const range = shards.find((s) => s.shardId === u.shardId);
      const h = hashKeyOf(u);
      expect(range && h >= BigInt(range.startingHashKey) && h <= BigInt(range.endingHashKey)).toBe(
        true,
      );
    }
    expect(Object.keys(result.perShard).sort()).toEqual(shards.map((s) => s.shardId).sort());
  });

  it('measures PutRecords and GetRecords throughput (20,000 ~200-byte records, 4 shards)', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('bench');
    await createStreamAndWait(kinesis, stream, 4);
    const input = jsonRecords(20_000, 'b');
    const t0 = performance.now();
    const result = await putRecords(kinesis, stream, input, { recordPositions: false });
    const putMs = performance.now() - t0;
    const t1 = performance.now();
    const stored = await readWholeStream(kinesis, stream);
    const getMs = performance.now() - t1;
    expect(result.records).toBe(20_000);
    expect(stored).toHaveLength(20_000);
    // Not asserted: printed for the record.
    console.log(
      `[measure] PutRecords: ${Math.round(20_000 / (putMs / 1000))} records/s (${putMs.toFixed(0)} ms, ${result.requests} requests); ` +
        `GetRecords drain: ${Math.round(20_000 / (getMs / 1000))} records/s (${getMs.toFixed(0)} ms)`,
    );
  });
});
