/**
 * S3CheckpointStore on the embedded AWS (s3rver), or LocalStack when
 * AWS_ENDPOINT_URL is set: the CheckpointStore contract, the S3 specifics
 * (listing across pages, a missing bucket), and checkpoints of a few
 * thousand items taken from DynamoDB Local (the state table of the demo
 * template) with several scan segments: read back and compared with the
 * table, taken while writes go on, and taken over several calls.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { S3CheckpointStore } from '../../lib/adapters/s3/s3-checkpoint-store.ts';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import {
  CheckpointTaker,
  applyRetention,
  listCheckpoints,
  readCheckpointItems,
  verifyCheckpoint,
} from '../../lib/core/checkpoint/index.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import { shardId as toShardId } from '../../lib/model/position.ts';
import type { ShardProgress } from '../../lib/model/progress.ts';
import type {
  ScannableStateStore,
  WindowItem,
  WindowRef,
  WindowScanPage,
  WindowScanRequest,
  WindowWrite,
  OutboxAck,
  StoredProgress,
} from '../../lib/ports/state-store.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/provision.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { describeCheckpointStoreContract } from '../contract/checkpoint-store.contract.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

async function createBucket(): Promise<string> {
  const name = uniqueName('ckpt').toLowerCase();
  await fx.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

let bucket = '';
let tableName = '';
beforeAll(async () => {
  bucket = await createBucket();
  const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), fx.clients.dynamodb, {
    stackName: uniqueName('Checkpoint'),
  });
  const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
  if (state === undefined) throw new Error('the demo template has no state table');
  tableName = state.name;
});

describeCheckpointStoreContract('S3CheckpointStore (s3rver)', () => {
  const s3 = fx.clients.s3;
  const store = new S3CheckpointStore({ client: s3, bucket, prefix: 'weir' });
  return Promise.resolve({
    store,
    read: async (key) => {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await out.Body?.transformToByteArray();
      } catch (e) {
        if ((e as { name?: string }).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    write: async (key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    remove: async (key) => {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
  });
});

describe('S3CheckpointStore on S3', () => {
  it('GIVEN more checkpoint objects than one listing page WHEN listed THEN every folder is found, newest first', async () => {
    const store = new S3CheckpointStore({ client: fx.clients.s3, bucket, prefix: 'many/' });
    const op = 'paged';
    const ids = Array.from(
      { length: 12 },
      (_, i) => `${String(1_767_225_600_000 + i).padStart(16, '0')}-0000abcd`,
    );
    // 12 folders x 100 parts = 1,200 objects: two ListObjectsV2 pages.
    for (const id of ids) {
      await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          store.writePart({ operator: op, checkpointId: id, index, segment: 0, lines: ['{}'] }),
        ),
      );
    }
    const listed = await store.list(op);
    expect(listed.map((f) => f.id)).toEqual([...ids].reverse());
    expect(listed.every((f) => f.objects === 100 && !f.complete)).toBe(true);
    expect(store.keyOf(op, ids[0] as string, 'manifest.json')).toBe(
      `many/paged/checkpoints/${ids[0]}/manifest.json`,
    );
    expect(await store.latestId(op)).toBeUndefined();
  });

  it('GIVEN no bucket WHEN read THEN a CheckpointStorageError names bucket and key, not a missing checkpoint', async () => {
    const store = new S3CheckpointStore({
      client: fx.clients.s3,
      bucket: 'no-such-bucket-weir',
      retry: { maxAttempts: 1 },
    });
    await expect(store.latestId('op')).rejects.toThrow(
      /s3:\/\/no-such-bucket-weir\/weir\/op\/checkpoints\//,
    );
  });
});

const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks';
const T0 = 1_767_225_600_000;
const offset = (n: number): string =>
  `${(49590338271490256608559692538361571095921575989136588898n + BigInt(n)).toString().padStart(128, '0')}.${'0'.padStart(10, '0')}`;

function item(i: number): WindowItem {
  return {
    key: `user-${i % 997}/${i}`,
    start: Math.floor(i / 997) * 60_000,
    end: Math.floor(i / 997) * 60_000 + 60_000,
    accumulator: { count: i, sum: i * 0.1 },
    absorbed: { 'shardId-000000000000': offset(i), 'shardId-000000000001': offset(2 * i) },
    firedVersion: i % 3 === 0 ? 1 : 0,
    pending: i % 3 !== 0,
    cleanupAt: Math.floor(i / 997) * 60_000 + 89_999,
    revision: 1,
    purged: i % 11 === 0,
    supersedes: [],
    outbox: null,
  };
}

/** Runs a hook before every scan page of a real store (hand-written delegation). */
class Hooked implements ScannableStateStore {
  onScan: (() => Promise<void> | void) | undefined;
  constructor(readonly inner: DynamoDbStateStore) {}
  async scanWindows(operator: string, request: WindowScanRequest): Promise<WindowScanPage> {
    await this.onScan?.();
    return this.inner.scanWindows(operator, request);
  }
  readProgress(operator: string): Promise<StoredProgress> {
    return this.inner.readProgress(operator);
  }
  writeShardProgress(operator: string, progress: ShardProgress, g: number): Promise<boolean> {
    return this.inner.writeShardProgress(operator, progress, g);
  }
  advanceWatermark(operator: string, watermark: number, g: number): Promise<number> {
    return this.inner.advanceWatermark(operator, watermark, g);
  }
  getWindows(
    operator: string,
    refs: readonly WindowRef[],
    g: number,
  ): Promise<readonly (WindowItem | undefined)[]> {
    return this.inner.getWindows(operator, refs, g);
  }
  readSessionHeads(
    operator: string,
    keys: readonly string[],
    g: number,
  ): Promise<readonly number[]> {
    return this.inner.readSessionHeads(operator, keys, g);
  }
  listKeyWindows(
    operator: string,
    keys: readonly string[],
    g: number,
  ): Promise<ReadonlyMap<string, readonly WindowItem[]>> {
    return this.inner.listKeyWindows(operator, keys, g);
  }
  write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
    g: number,
  ): Promise<readonly boolean[]> {
    return this.inner.write(operator, groups, g);
  }
  listDue(operator: string, w: number, limit: number, g: number): Promise<readonly WindowItem[]> {
    return this.inner.listDue(operator, w, limit, g);
  }
  listExpired(
    operator: string,
    w: number,
    limit: number,
    g: number,
  ): Promise<readonly WindowItem[]> {
    return this.inner.listExpired(operator, w, limit, g);
  }
  listOutbox(operator: string, limit: number, g: number): Promise<readonly WindowItem[]> {
    return this.inner.listOutbox(operator, limit, g);
  }
  ackOutbox(operator: string, acks: readonly OutboxAck[], g: number): Promise<readonly boolean[]> {
    return this.inner.ackOutbox(operator, acks, g);
  }
}

const byRef = (a: WindowItem, b: WindowItem): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start || a.end - b.end;

describe('checkpoints of DynamoDB Local state in s3rver', () => {
  const N = 3000;
  const operator = uniqueName('ckpt').replace(/[^a-z0-9-]/gi, '');
  let state: Hooked;
  let items: WindowItem[];

  beforeAll(async () => {
    state = new Hooked(
      new DynamoDbStateStore({ client: fx.clients.dynamodb, tableName, concurrency: 32 }),
    );
    items = Array.from({ length: N }, (_, i) => item(i));
    await state.write(
      operator,
      items.map((it) => [{ kind: 'put', item: it, expectedRevision: null }]),
      0,
    );
    // Another operator in the same table: the scan reads past it.
    await state.write('other', [[{ kind: 'put', item: item(1), expectedRevision: null }]], 0);
    for (const [i, id] of ['shardId-000000000000', 'shardId-000000000001'].entries()) {
      await state.writeShardProgress(
        operator,
        {
          shardId: toShardId(id),
          committed: offset(N * (i + 1)),
          watermark: 100_000 + i,
          lastActivity: T0 - i,
          closed: false,
        },
        0,
      );
    }
    await state.advanceWatermark(operator, 100_000, 0);
  });

  const checkpointsIn = (prefix: string): S3CheckpointStore =>
    new S3CheckpointStore({ client: fx.clients.s3, bucket, prefix });

  async function readAll(checkpoints: S3CheckpointStore, id: string): Promise<WindowItem[]> {
    const manifest = await checkpoints.readManifest(operator, id);
    const out: WindowItem[] = [];
    for await (const it of readCheckpointItems(checkpoints, manifest)) out.push(it);
    return out.sort(byRef);
  }

  it(`GIVEN ${N} window items and progress WHEN a checkpoint is taken with 4 segments THEN it holds every item and the positions, and verifies`, async () => {
    const checkpoints = checkpointsIn('whole');
    const clock = new ManualClock(T0);
    const started = performance.now();
    const run = await new CheckpointTaker({
      state,
      checkpoints,
      clock,
      operator,
      streamArn: STREAM,
      totalSegments: 4,
      pageSize: 250,
      partMaxItems: 500,
    }).take();
    const seconds = (performance.now() - started) / 1000;
    if (run.status !== 'complete') throw new Error('expected a complete checkpoint');
    const m = run.manifest;
    console.log(
      `checkpoint of ${m.items} items: ${seconds.toFixed(2)} s, ${m.parts.length} parts, ${m.bytes} bytes stored (${(m.bytes / m.items).toFixed(1)} B/item), ${run.stats.pages} scan pages`,
    );
    expect(m.items).toBe(N);
    expect(new Set(m.parts.map((p) => p.segment))).toEqual(new Set([0, 1, 2, 3]));
    const { generation: _g, ...positions } = await state.readProgress(operator);
    expect(m.progress).toEqual(positions);
    expect(await readAll(checkpoints, m.id)).toEqual([...items].sort(byRef));
    const v = await verifyCheckpoint(checkpoints, operator, m.id);
    expect([v.ok, v.itemsVerified, v.partsVerified]).toEqual([true, N, m.parts.length]);
  });

  it('GIVEN writes that go on during the scan WHEN a checkpoint is taken THEN its positions are the ones read before, and it holds every item once', async () => {
    const checkpoints = checkpointsIn('fuzzy');
    const { generation: _g, ...before } = await state.readProgress(operator);
    let n = 0;
    state.onScan = async () => {
      n++;
      const [current] = await state.getWindows(operator, [items[n] as WindowItem], 0);
      const it = current as WindowItem;
      await state.write(
        operator,
        [
          [
            {
              kind: 'put',
              item: { ...it, accumulator: { touched: n }, revision: it.revision + 1 },
              expectedRevision: it.revision,
            },
          ],
        ],
        0,
      );
      await state.writeShardProgress(
        operator,
        {
          ...(before.shards[0] as ShardProgress),
          committed: offset(10 * N + n),
          lastActivity: T0 + n,
        },
        0,
      );
    };
    try {
      const run = await new CheckpointTaker({
        state,
        checkpoints,
        clock: new ManualClock(T0),
        operator,
        streamArn: STREAM,
        totalSegments: 3,
        pageSize: 200,
      }).take();
      if (run.status !== 'complete') throw new Error('expected a complete checkpoint');
      expect(run.manifest.progress).toEqual(before);
      const got = await readAll(checkpoints, run.manifest.id);
      expect(got.map((it) => `${it.key}@${it.start}`)).toEqual(
        [...items].sort(byRef).map((it) => `${it.key}@${it.start}`),
      );
      expect(got.some((it) => JSON.stringify(it.accumulator).includes('touched'))).toBe(true);
    } finally {
      state.onScan = undefined;
    }
  });

  it('GIVEN a deadline every few pages WHEN the checkpoint is resumed call after call THEN it completes with every item, and retention keeps the newest', async () => {
    const checkpoints = checkpointsIn('resumed');
    const clock = new ManualClock(T0);
    state.onScan = () => void clock.advance(1);
    try {
      const taker = new CheckpointTaker({
        state,
        checkpoints,
        clock,
        operator,
        streamArn: STREAM,
        totalSegments: 4,
        concurrency: 2,
        pageSize: 300,
        partMaxItems: 600,
      });
      let run = await taker.take({ deadline: clock.now() + 3 });
      let calls = 1;
      while (run.status === 'in-progress') {
        run = await taker.takeOrResume({ deadline: clock.now() + 3 });
        calls++;
      }
      expect(calls).toBeGreaterThan(1);
      const live = (await readAll(checkpoints, run.manifest.id)).map(
        (it) => `${it.key}@${it.start}`,
      );
      expect(live).toEqual([...items].sort(byRef).map((it) => `${it.key}@${it.start}`));

      clock.advance(1000);
      const second = await taker.take();
      if (second.status !== 'complete') throw new Error('expected a complete checkpoint');
      expect(second.manifest.previousId).toBe(run.manifest.id);
      const report = await applyRetention(checkpoints, operator, { keep: 1 }, clock);
      expect([report.kept, report.deleted]).toEqual([[second.manifest.id], [run.manifest.id]]);
      expect(
        (await listCheckpoints(checkpoints, operator, { verify: true })).map((c) => c.status),
      ).toEqual(['complete']);
    } finally {
      state.onScan = undefined;
    }
  });
});
