/**
 * Parents before children: after SplitShard or MergeShards (both supported
 * by kinesalite), no record of a child shard is delivered before every record
 * of its parent(s); children start at TRIM_HORIZON.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
} from '../../lib/runtime/local/esm/index.ts';
import {
  createStream,
  openShards,
  put,
  range,
  sleep,
  waitActive,
} from '../fixtures/handlers/esm-kit.ts';

const fixture = useLocalAws();
const running: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

/** Delivery log: (shardId, data) in the order the handler saw them. */
async function slowEsm(
  stream: string,
  log: Array<{ shard: string; data: string }>,
): Promise<LocalEventSourceMapping> {
  const esm = new LocalEventSourceMapping({
    kinesis: fixture.clients.kinesis,
    streamName: stream,
    invoker: new InProcessHandlerInvoker(async (e: KinesisStreamEvent) => {
      for (const r of e.Records)
        log.push({
          shard: r.eventID.split(':')[0] ?? '',
          data: Buffer.from(r.kinesis.data, 'base64').toString(),
        });
      await sleep(40); // keeps parents busy while children already exist
    }),
    settings: { batchSize: 5 },
    pollIntervalMs: 50,
    shardDiscoveryIntervalMs: 50,
  });
  running.push(esm);
  await esm.start();
  return esm;
}

describe('resharding', () => {
  it('SplitShard mid-stream: every parent record is delivered before any child record', async () => {
    const stream = uniqueName('esm-split');
    await createStream(fixture.clients.kinesis, stream, 1);
    await put(fixture.clients.kinesis, stream, range(40, 'parent'));
    const log: Array<{ shard: string; data: string }> = [];
    const esm = await slowEsm(stream, log);
    await fixture.clients.kinesis.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(fixture.clients.kinesis, stream);
    const children = await openShards(fixture.clients.kinesis, stream);
    expect(children).toHaveLength(2);
    for (const c of children)
      await put(fixture.clients.kinesis, stream, range(10, `child-${c.id}`), c.start);
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect(log).toHaveLength(60);
    const lastParent = log.map((l) => l.shard === 'shardId-000000000000').lastIndexOf(true);
    const firstChild = log.findIndex((l) => l.shard !== 'shardId-000000000000');
    expect(lastParent).toBeLessThan(firstChild);
    expect(log.slice(0, 40).map((l) => l.data)).toEqual(range(40, 'parent'));
    const shards = esm.stats().shards;
    expect(shards.find((s) => s.shardId === 'shardId-000000000000')?.status).toBe('consumed');
    expect(shards.filter((s) => s.parentShardIds.includes('shardId-000000000000'))).toHaveLength(2);
  });

  it('MergeShards: both parents are consumed before the merged child is read', async () => {
    const stream = uniqueName('esm-merge');
    await createStream(fixture.clients.kinesis, stream, 2);
    const parents = await openShards(fixture.clients.kinesis, stream);
    for (const p of parents) await put(fixture.clients.kinesis, stream, range(20, p.id), p.start);
    const log: Array<{ shard: string; data: string }> = [];
    const esm = await slowEsm(stream, log);
    await fixture.clients.kinesis.send(
      new MergeShardsCommand({
        StreamName: stream,
        ShardToMerge: parents[0]?.id,
        AdjacentShardToMerge: parents[1]?.id,
      }),
    );
    await waitActive(fixture.clients.kinesis, stream);
    const [child] = await openShards(fixture.clients.kinesis, stream);
    await put(fixture.clients.kinesis, stream, range(10, 'merged'), child?.start);
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect(log).toHaveLength(50);
    const parentIds = new Set(parents.map((p) => p.id));
    const lastParent = log.map((l) => parentIds.has(l.shard)).lastIndexOf(true);
    const firstChild = log.findIndex((l) => !parentIds.has(l.shard));
    expect(lastParent).toBeLessThan(firstChild);
    expect(log.filter((l) => !parentIds.has(l.shard)).map((l) => l.data)).toEqual(
      range(10, 'merged'),
    );
  });
});
