/**
 * The adapters behind `weir status` on the embedded AWS: the Kinesis lag
 * reader's bounded reads and exactness, and the DynamoDB window counter
 * agreeing with an exact count by scanning the same table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { DynamoDbWindowCounter } from '../../lib/adapters/dynamodb/dynamodb-window-counter.ts';
import { KinesisShardLagReader } from '../../lib/adapters/kinesis/kinesis-shard-lag.ts';
import { ScanningWindowCounter } from '../../lib/adapters/memory/scanning-window-counter.ts';
import { sequenceNumber, shardId } from '../../lib/model/position.ts';
import type { WindowItem } from '../../lib/ports/state-store.ts';
import { splitShard } from '../../lib/kinesis/index.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createStream, openShards, put, range } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

describe('KinesisShardLagReader', () => {
  it('counts records after a position, exactly when its bounded reads reach the tip', async () => {
    const kinesis = fx.clients.kinesis;
    const stream = uniqueName('lag');
    await createStream(kinesis, stream, 1);
    const [shard] = await openShards(kinesis, stream);
    const id = shardId(shard?.id ?? '');
    const seqs = await put(kinesis, stream, range(5));
    const reader = (maxReads: number) =>
      new KinesisShardLagReader({ client: kinesis, stream, maxReads, recordsPerRead: 2 });

    expect(await reader(2).lagAfter(id, null)).toMatchObject({ records: 4, exact: false });
    expect(await reader(3).lagAfter(id, null)).toMatchObject({ records: 5, exact: true });
    expect(await reader(3).lagAfter(id, sequenceNumber(seqs[1] ?? ''))).toMatchObject({
      records: 3,
      exact: true,
      ended: false,
    });
    const caughtUp = await reader(1).lagAfter(id, sequenceNumber(seqs[4] ?? ''));
    expect(caughtUp).toEqual({ records: 0, exact: true, millis: 0, ended: false });

    // A closed shard: everything it holds is still counted, exactly.
    await splitShard(kinesis, stream, id);
    const closed = await new KinesisShardLagReader({ client: kinesis, stream }).lagAfter(id, null);
    expect(closed).toMatchObject({ records: 5, exact: true });
  });
});

describe('DynamoDbWindowCounter', () => {
  let table = '';
  beforeAll(async () => {
    const tables = await provisionTablesFromTemplate(
      await loadDemoTemplate(),
      fx.clients.dynamodb,
      {
        stackName: uniqueName('Counts'),
      },
    );
    table = tables.find((t) => t.globalSecondaryIndexes.includes('due'))?.name ?? '';
  });

  const item = (key: string, start: number, over: Partial<WindowItem> = {}): WindowItem => ({
    key,
    start,
    end: start + 1000,
    accumulator: 1,
    absorbed: {},
    firedVersion: 0,
    pending: true,
    cleanupAt: start + 2000,
    revision: 1,
    purged: false,
    supersedes: [],
    outbox: null,
    ...over,
  });

  it('GIVEN windows in every condition WHEN counted from the indexes THEN the counts equal a full scan, for every operator apart', async () => {
    const store = new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName: table });
    const writes = [];
    for (let k = 0; k < 40; k++) {
      const over: Partial<WindowItem> =
        k % 4 === 0
          ? { pending: false, firedVersion: 1 }
          : k % 4 === 1
            ? {
                pending: false,
                firedVersion: 1,
                outbox: { version: 1, value: k, supersedes: [], firedAt: 5 },
              }
            : k % 4 === 2
              ? { pending: false, purged: true, accumulator: null }
              : {};
      writes.push([
        { kind: 'put' as const, item: item(`k${k}`, k * 1000, over), expectedRevision: null },
      ]);
    }
    expect((await store.write('counted', writes)).every(Boolean)).toBe(true);
    await store.write('other', [[{ kind: 'put', item: item('x', 0), expectedRevision: null }]]);

    const counter = new DynamoDbWindowCounter({ client: fx.clients.dynamodb, tableName: table });
    const scanning = new ScanningWindowCounter(store);
    for (const watermark of [null, 0, 20_000, 1e9]) {
      const exact = await scanning.countWindows('counted', watermark);
      expect(await counter.countWindows('counted', watermark)).toEqual(exact);
    }
    // 10 pending (k % 4 === 3), 10 outbox, 30 open; due up to 20 s: k = 3, 7, 11, 15, 19 (end - 1 <= 20000).
    expect(await counter.countWindows('counted', 20_000)).toEqual({
      open: 30,
      pending: 10,
      due: 5,
      outbox: 10,
      exact: true,
    });
  });
});
