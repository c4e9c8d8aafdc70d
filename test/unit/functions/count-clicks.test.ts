import { describe, expect, it, vi } from 'vitest';
import type { KinesisStreamRecord } from 'aws-lambda';
import { countClicks } from '../../../functions/click-counter/count-clicks.ts';

let seq = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
function rec(shard: string, body: string): KinesisStreamRecord {
  seq += 2n;
  return {
    eventID: `${shard}:${seq}`,
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventName: 'aws:kinesis:record',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/x',
    awsRegion: 'us-east-1',
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'p',
      sequenceNumber: String(seq),
      data: Buffer.from(body).toString('base64'),
      approximateArrivalTimestamp: 1_700_000_000.123,
    },
  };
}

describe('countClicks', () => {
  it('GIVEN clicks on two pages across a minute boundary WHEN counted THEN one group per page and minute', () => {
    const counts = countClicks([
      rec('shardId-000000000000', '{"page":"/a","ts":59999}'),
      rec('shardId-000000000000', '{"page":"/a","ts":60000}'),
      rec('shardId-000000000001', '{"page":"/a","ts":61000}'),
      rec('shardId-000000000001', '{"page":"/b","ts":0}'),
    ]);
    const groups = [...counts.perWindow.values()].map((g) => [g.page, g.minuteStart, g.count]);
    expect(groups).toEqual([
      ['/a', 0, 1],
      ['/a', 60000, 2],
      ['/b', 0, 1],
    ]);
    expect(counts.perShard.get('shardId-000000000001')?.records).toBe(2);
  });

  it('GIVEN malformed records WHEN counted THEN each is dead-lettered with its reason, none dropped', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const counts = countClicks([
      rec('shardId-000000000000', 'not json'),
      rec('shardId-000000000000', '{"page":"/a"}'),
      rec('shardId-000000000000', '[1]'),
      rec('shardId-000000000000', '{"page":"/a","ts":5}'),
    ]);
    const shard = counts.perShard.get('shardId-000000000000');
    expect(shard).toMatchObject({ records: 4, deadLettered: 3 });
    expect(log.mock.calls.map((c) => JSON.parse(String(c[0])).reason)).toEqual([
      expect.stringMatching(/^not JSON/),
      'field "ts" must be epoch milliseconds',
      'field "page" must be a non-empty string',
    ]);
    log.mockRestore();
  });
});
