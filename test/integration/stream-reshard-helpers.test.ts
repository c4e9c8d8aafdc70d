/**
 * splitShard / mergeShards (the public reshard helpers for local tests) on
 * the embedded Kinesis: the parents close, the children cover their hash
 * keys, records put afterwards land on the children, and bad requests fail
 * with a message naming the problem.
 */
import { describe, expect, it } from 'vitest';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  createStreamAndWait,
  listShards,
  mergeShards,
  splitShard,
} from '../../lib/kinesis/index.ts';
import { splitShard as publicSplitShard } from '../../lib/index.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();
const MAX_HASH = 2n ** 128n - 1n;

describe('reshard helpers on the embedded Kinesis', () => {
  it('are exported from the package entry', () => {
    expect(publicSplitShard).toBe(splitShard);
  });

  it('GIVEN a 1-shard stream WHEN split at the midpoint and the children merged THEN the shard tree is parent -> 2 children -> 1', async () => {
    const kinesis = fx.clients.kinesis;
    const stream = uniqueName('reshard');
    await createStreamAndWait(kinesis, stream, 1);
    const [root] = (await listShards(kinesis, stream)).map((s) => s.ShardId as string);

    const split = await splitShard(kinesis, stream, root as string);
    expect(split.parents).toEqual([root]);
    expect(split.children).toHaveLength(2);
    const shards = await listShards(kinesis, stream);
    const byId = new Map(shards.map((s) => [s.ShardId, s]));
    expect(byId.get(root)?.SequenceNumberRange?.EndingSequenceNumber).toBeDefined();
    const [low, high] = split.children.map((id) => byId.get(id));
    expect(low?.HashKeyRange?.StartingHashKey).toBe('0');
    expect(BigInt(high?.HashKeyRange?.StartingHashKey ?? '0')).toBe((MAX_HASH + 1n) / 2n);
    expect(high?.HashKeyRange?.EndingHashKey).toBe(MAX_HASH.toString());
    expect(low?.ParentShardId).toBe(root);

    // A record after the split lands on the child that owns its hash key.
    const put = await kinesis.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: 'k',
        ExplicitHashKey: MAX_HASH.toString(),
        Data: new TextEncoder().encode('x'),
      }),
    );
    expect(put.ShardId).toBe(split.children[1]);

    const merged = await mergeShards(
      kinesis,
      stream,
      split.children[0] as string,
      split.children[1] as string,
    );
    expect(merged.parents).toEqual(split.children);
    expect(merged.children).toHaveLength(1);
    const after = await listShards(kinesis, stream);
    const open = after.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
    expect(open.map((s) => s.ShardId)).toEqual(merged.children);
    expect(open[0]?.HashKeyRange).toEqual({
      StartingHashKey: '0',
      EndingHashKey: MAX_HASH.toString(),
    });
  });

  it('a split at an explicit hash key, by stream name; bad requests name the problem', async () => {
    const kinesis = fx.clients.kinesis;
    const stream = uniqueName('reshard-bad');
    await createStreamAndWait(kinesis, stream, 2);
    const [a, b] = (await listShards(kinesis, stream)).map((s) => s.ShardId as string);
    await expect(splitShard(kinesis, stream, 'shardId-000000000099')).rejects.toThrow(
      /has no shard shardId-000000000099/,
    );
    await expect(
      splitShard(kinesis, stream, a as string, { newStartingHashKey: '0' }),
    ).rejects.toThrow(/newStartingHashKey must lie in/);
    const split = await splitShard(kinesis, stream, a as string, { newStartingHashKey: '1000' });
    expect(
      (await listShards(kinesis, stream)).find((s) => s.ShardId === split.children[1])?.HashKeyRange
        ?.StartingHashKey,
    ).toBe('1000');
    await expect(splitShard(kinesis, stream, a as string)).rejects.toThrow(/is closed/);
    // The low child (0..999) and b (the upper half) are not neighbours.
    await expect(
      mergeShards(kinesis, stream, split.children[0] as string, b as string),
    ).rejects.toThrow(/are not adjacent/);
  });
});
