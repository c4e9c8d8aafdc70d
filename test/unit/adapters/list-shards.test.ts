/** The one ListShards paginator, with a hand-written fake of KinesisClient.send. */
import { describe, expect, it } from 'vitest';
import type { ListShardsCommand } from '@aws-sdk/client-kinesis';
import {
  kinesisStreamTarget,
  listShards,
  type KinesisListShardsClient,
} from '../../../lib/adapters/kinesis/list-shards.ts';

/** Serves `pages` in order; records every request's input. */
function fakeKinesis(
  pages: readonly { ids: string[]; next?: string }[],
): KinesisListShardsClient & { inputs: ListShardsCommand['input'][] } {
  const inputs: ListShardsCommand['input'][] = [];
  return {
    inputs,
    send: (command) => {
      const page = pages[inputs.push(command.input) - 1];
      if (page === undefined) return Promise.reject(new Error('no more pages'));
      return Promise.resolve({
        $metadata: {},
        Shards: page.ids.map((ShardId) => ({
          ShardId,
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
          SequenceNumberRange: { StartingSequenceNumber: '1' },
        })),
        ...(page.next === undefined ? {} : { NextToken: page.next }),
      });
    },
  };
}

describe('listShards', () => {
  it('GIVEN three pages WHEN listed by name THEN every shard in order, later pages by token alone', async () => {
    const kinesis = fakeKinesis([
      { ids: ['shardId-000000000000'], next: 't1' },
      { ids: ['shardId-000000000001', 'shardId-000000000002'], next: 't2' },
      { ids: ['shardId-000000000003'] },
    ]);
    const shards = await listShards(kinesis, 'clicks');
    expect(shards.map((s) => s.ShardId)).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
      'shardId-000000000002',
      'shardId-000000000003',
    ]);
    expect(kinesis.inputs).toEqual([
      { StreamName: 'clicks' },
      { NextToken: 't1' },
      { NextToken: 't2' },
    ]);
  });

  it('GIVEN an ARN or a target THEN the first page is addressed by it; an empty token ends the listing', async () => {
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks';
    const kinesis = fakeKinesis([{ ids: ['a'], next: '' }]);
    expect(await listShards(kinesis, arn)).toHaveLength(1);
    expect(kinesis.inputs).toEqual([{ StreamARN: arn }]);
    expect(kinesisStreamTarget('clicks')).toEqual({ StreamName: 'clicks' });
    const again = fakeKinesis([{ ids: ['a'] }]);
    await listShards(again, { StreamARN: arn });
    expect(again.inputs).toEqual([{ StreamARN: arn }]);
  });
});
