/**
 * The Kinesis shard directory tells the ticker which closed shards are fully
 * consumed, so a split or merged parent stops holding back the watermark.
 */
import { describe, expect, it } from 'vitest';
import { ListShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { KinesisShardDirectory } from '../../lib/adapters/kinesis/kinesis-shard-directory.ts';
import { createStreamAndWait, splitShard } from '../../lib/kinesis/index.ts';
import { sequenceNumber, shardId, type SequenceNumber } from '../../lib/model/position.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();

describe('KinesisShardDirectory', () => {
  it('GIVEN a split parent WHEN consumed to its last record THEN it is consumed, earlier positions and open children are not', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('dir');
    await createStreamAndWait(kinesis, stream, 1);
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: ['a', 'b', 'c'].map((d) => ({ Data: Buffer.from(d), PartitionKey: d })),
      }),
    );
    const seqs = (put.Records ?? []).map((r) => r.SequenceNumber ?? '');
    const seq = (i: number): SequenceNumber => sequenceNumber(seqs[i] ?? '');
    const parent = shardId(put.Records?.[0]?.ShardId ?? '');
    const dir = new KinesisShardDirectory({ client: kinesis, streamName: stream });
    expect(await dir.isConsumed(parent, seq(2))).toBe(false); // open: more may come

    const shard = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards?.[0];
    const mid = (BigInt(shard?.HashKeyRange?.EndingHashKey ?? '0') / 2n).toString();
    await kinesis.send(
      new SplitShardCommand({ StreamName: stream, ShardToSplit: parent, NewStartingHashKey: mid }),
    );
    let shards = await dir.listShards();
    for (let i = 0; i < 50 && shards.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      shards = await dir.listShards();
    }
    expect(shards.find((s) => s.shardId === parent)?.closed).toBe(true);
    const children = shards.filter((s) => s.parentShardId === parent);
    expect(children).toHaveLength(2);
    expect(children.every((c) => !c.closed)).toBe(true);

    expect(await dir.isConsumed(parent, seq(1))).toBe(false);
    expect(await dir.isConsumed(parent, seq(2))).toBe(true);
    expect(await dir.isConsumed(parent, null)).toBe(false);
    expect(await dir.isConsumed(children[0]?.shardId ?? shardId(''), null)).toBe(false);
    // Backlog: records after the position (not idle), none after the last one.
    expect(await dir.hasRecordsAfter(parent, seq(0))).toBe(true);
    expect(await dir.hasRecordsAfter(parent, null)).toBe(true);
    expect(await dir.hasRecordsAfter(parent, seq(2))).toBe(false);
    expect(await dir.hasRecordsAfter(children[0]?.shardId ?? shardId(''), null)).toBe(false);
  });

  it('GIVEN a split well after the last record WHEN checked THEN the parent is consumed (the end shows only on a second read)', async () => {
    const { kinesis } = fx.clients;
    const stream = uniqueName('dir-late');
    await createStreamAndWait(kinesis, stream, 1);
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: ['a', 'b'].map((d) => ({ Data: Buffer.from(d), PartitionKey: d })),
      }),
    );
    const last = sequenceNumber(put.Records?.[1]?.SequenceNumber ?? '');
    const parent = shardId(put.Records?.[0]?.ShardId ?? '');
    // Not a timed assertion: the gap makes the split's EndingSequenceNumber later than the
    // record's, which is what makes kinesalite answer "no records, an iterator" first.
    await new Promise((r) => setTimeout(r, 1_100));
    const { children } = await splitShard(kinesis, stream, parent);
    expect(children).toHaveLength(2);
    const dir = new KinesisShardDirectory({ client: kinesis, streamName: stream });
    expect((await dir.listShards()).find((s) => s.shardId === parent)?.closed).toBe(true);

    expect(await dir.isConsumed(parent, last)).toBe(true);
    expect(await dir.hasRecordsAfter(parent, last)).toBe(false);
    expect(
      await dir.isConsumed(parent, sequenceNumber(put.Records?.[0]?.SequenceNumber ?? '')),
    ).toBe(false);
  });
});
