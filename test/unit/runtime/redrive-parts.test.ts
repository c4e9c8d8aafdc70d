/**
 * The parts of `weir redrive` below the orchestration: the on-failure
 * documents (raw, inside an SNS notification, malformed), the SQS source
 * (a hand-written fake of SQSClient.send: delete after settle, visible
 * again after release), and the guard of a redriven range (what an item
 * holds of it, and the offsets a later batch preserves for it).
 */
import { describe, expect, it } from 'vitest';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BatchGuard, redriveRange } from '../../../lib/core/guard.ts';
import { encodeOffset, position, shardId, type Position } from '../../../lib/model/position.ts';
import type { SourceRecord } from '../../../lib/model/records.ts';
import {
  FailureRecordFormatError,
  SqsFailedBatches,
  parseFailureDocument,
  type FailedBatch,
} from '../../../lib/runtime/redrive/failed-batches.ts';
import { clientConfig, fakeSend } from '../adapters/fake-aws.ts';

const SHARD = 'shardId-000000000003';
const info = {
  shardId: SHARD,
  startSequenceNumber: '4959',
  endSequenceNumber: '4969',
  approximateArrivalOfFirstRecord: '2026-01-01T00:00:00.000Z',
  approximateArrivalOfLastRecord: '2026-01-01T00:00:01.000Z',
  batchSize: 3,
  streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/clicks',
};
const doc = JSON.stringify({
  requestContext: { condition: 'RetryAttemptsExhausted' },
  KinesisBatchInfo: info,
});

describe('on-failure documents', () => {
  it('GIVEN a failure record, raw or inside an SNS notification WHEN parsed THEN its KinesisBatchInfo and condition', () => {
    const sns = JSON.stringify({ Type: 'Notification', MessageId: 'm', Message: doc });
    for (const text of [doc, sns])
      expect(parseFailureDocument(text, 'x')).toEqual({
        info,
        condition: 'RetryAttemptsExhausted',
      });
  });

  it('GIVEN something else WHEN parsed THEN FailureRecordFormatError saying what is missing', () => {
    expect(() => parseFailureDocument('{', 'm1')).toThrow(
      /m1: not a Kinesis on-failure record \(not JSON\)/,
    );
    expect(() => parseFailureDocument('{"a":1}', 'm2')).toThrow(/no KinesisBatchInfo/);
    const bad = JSON.stringify({ KinesisBatchInfo: { ...info, endSequenceNumber: 'x' } });
    expect(() => parseFailureDocument(bad, 'm3')).toThrow(FailureRecordFormatError);
  });
});

describe('SqsFailedBatches', () => {
  it('GIVEN two messages (one malformed) WHEN listed, one settled and one released THEN the queue is read until empty, the settled one deleted, the others made visible again', async () => {
    const client = new SQSClient(clientConfig);
    let receives = 0;
    const calls = fakeSend(client, (call) => {
      if (call.command !== 'ReceiveMessageCommand') return {};
      receives += 1;
      return receives > 1
        ? { Messages: [] }
        : {
            Messages: [
              { MessageId: 'a', ReceiptHandle: 'ha', Body: doc },
              { MessageId: 'b', ReceiptHandle: 'hb', Body: 'hello' },
            ],
          };
    });
    const source = new SqsFailedBatches({ client, queueUrl: 'http://q' });
    const seen: (FailedBatch | FailureRecordFormatError)[] = [];
    for await (const e of source.list()) seen.push(e);
    expect(seen[1]).toBeInstanceOf(FailureRecordFormatError);
    const first = seen[0] as FailedBatch;
    expect(first.info).toEqual(info);
    await first.settle();
    const done = calls.map((c) => [
      c.command,
      c.input['ReceiptHandle'],
      c.input['VisibilityTimeout'],
    ]);
    expect(done).toEqual([
      ['ReceiveMessageCommand', undefined, 900],
      ['ChangeMessageVisibilityCommand', 'hb', 0],
      ['ReceiveMessageCommand', undefined, 900],
      ['DeleteMessageCommand', 'ha', undefined],
    ]);
  });
});

const pos = (seq: number): Position => position(SHARD, String(seq));
const rec = (seq: number): SourceRecord => ({
  position: pos(seq),
  data: new Uint8Array(0),
  partitionKey: 'pk',
  approximateArrivalTimestamp: 0,
});
const enc = (seq: number): string => encodeOffset(pos(seq));

describe('the guard of a redriven range', () => {
  it('GIVEN an item written by a given-up attempt WHEN a later batch raises it while the shard is still committed below the range THEN the old offset is kept under a skipped: key', () => {
    // committed 10, the range 20..30 was given up; the next batch starts at 40.
    const live = new BatchGuard(shardId(SHARD), [rec(40), rec(50)], enc(10));
    live.admit(0);
    const out = live.absorbedWith({ [SHARD]: enc(25) }, enc(50));
    expect(out).toEqual({ [SHARD]: enc(50), [`skipped:${SHARD}@${enc(25)}`]: enc(25) });
    // A normal update (the old offset at or below the committed position) keeps nothing.
    expect(live.absorbedWith({ [SHARD]: enc(10) }, enc(50))).toEqual({ [SHARD]: enc(50) });
  });

  it('GIVEN an item written by a given-up attempt WHEN a later batch raises it after the shard committed past the range THEN the old offset is kept only when it lies in a failing range', () => {
    // The range 20..30 was given up; a batch committed 40; the next starts at 50.
    const failing = [{ start: '20', end: '30' }];
    const live = new BatchGuard(shardId(SHARD), [rec(50), rec(60)], enc(40), undefined, failing);
    live.admit(0);
    expect(live.absorbedWith({ [SHARD]: enc(25) }, enc(60))).toEqual({
      [SHARD]: enc(60),
      [`skipped:${SHARD}@${enc(25)}`]: enc(25),
    });
    // Outside the failing ranges (a committed batch wrote it): nothing kept.
    expect(live.absorbedWith({ [SHARD]: enc(35) }, enc(60))).toEqual({ [SHARD]: enc(60) });
    // Without the failing ranges the guard cannot tell (the gap this closes).
    const blind = new BatchGuard(shardId(SHARD), [rec(50), rec(60)], enc(40));
    blind.admit(0);
    expect(blind.absorbedWith({ [SHARD]: enc(25) }, enc(60))).toEqual({ [SHARD]: enc(60) });
  });

  it('GIVEN a redriven range with a replayed span WHEN admitted THEN the records in the span are skipped like committed ones', () => {
    const range = {
      ...redriveRange(shardId(SHARD), '20', '40'),
      replayed: [{ after: enc(25), upTo: enc(35), done: true }],
    };
    const g = new BatchGuard(shardId(SHARD), [rec(20), rec(30), rec(35), rec(40)], null, range);
    expect([0, 1, 2, 3].map((i) => g.admit(i))).toEqual([true, false, false, true]);
  });

  it('GIVEN items holding parts of a range in every way WHEN a redrive guard asks THEN the highest offset inside the range counts, offsets outside do not', () => {
    const range = redriveRange(shardId(SHARD), '20', '30');
    expect(range.source).toBe(`redrive:${SHARD}:20`);
    const g = new BatchGuard(shardId(SHARD), [rec(20), rec(25), rec(30)], null, range);
    for (let i = 0; i < 3; i++) g.admit(i);
    expect(g.absorbedBy({ absorbed: { [SHARD]: enc(50) } })).toBeUndefined();
    expect(g.absorbedBy({ absorbed: { [SHARD]: enc(25) } })).toBe(enc(25));
    expect(
      g.absorbedBy({ absorbed: { [SHARD]: enc(50), [`skipped:${SHARD}@${enc(20)}`]: enc(20) } }),
    ).toBe(enc(20));
    expect(g.absorbedBy({ absorbed: { [SHARD]: enc(50), [range.source]: enc(30) } })).toBe(enc(30));
    expect(g.holds({ absorbed: { [range.source]: enc(25) } }, 1)).toBe(true);
    expect(g.holds({ absorbed: { [range.source]: enc(25) } }, 2)).toBe(false);
    // Its writes go to its own source, and never preserve anything.
    expect(g.absorbedWith({ [SHARD]: enc(50) }, enc(30))).toEqual({
      [SHARD]: enc(50),
      [range.source]: enc(30),
    });
  });
});
