/** SqsDeadLetterOutput against a hand-written fake SQS: batching, size limits, FIFO ids, partial failures. */
import { describe, expect, it } from 'vitest';
import { SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import {
  SqsDeadLetterOutput,
  DeadLetterKind,
  position,
  DeadLetterError,
  type DeadLetter,
} from '../../../lib/index.ts';
import { fromDeadLetterDocument, type DeadLetterDocument } from '../../../lib/adapters/sinks.ts';
import { DeadLetterTooLargeError } from '../../../lib/ports/index.ts';
import { clientConfig, fakeClock, fakeSend } from './fake-aws.ts';

const entry = (i: number, size = 10): DeadLetter => ({
  operator: 'op',
  position: position(
    'shardId-000000000000',
    `4959033827149025660855969253836157109592157598913658${String(1000 + i)}`,
    0,
  ),
  data: new Uint8Array(size).fill(i % 256),
  reason: 'bad json',
  kind: DeadLetterKind.Decode,
  at: 1,
});
const entriesOf = (input: Record<string, unknown>): SendMessageBatchRequestEntry[] =>
  input['Entries'] as SendMessageBatchRequestEntry[];
const allOk = ({ input }: { input: Record<string, unknown> }): unknown => ({
  Successful: entriesOf(input).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: '' })),
  Failed: [],
});

describe('SqsDeadLetterOutput', () => {
  it('sends batches of at most 10 messages whose bodies decode back to the entries', async () => {
    const client = new SQSClient(clientConfig);
    const calls = fakeSend(client, allOk);
    const sent = Array.from({ length: 23 }, (_, i) => entry(i));
    await new SqsDeadLetterOutput({
      client,
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/1/dlq',
    }).send(sent);
    expect(calls.map((c) => entriesOf(c.input).length)).toEqual([10, 10, 3]);
    const bodies = calls.flatMap((c) =>
      entriesOf(c.input).map((e) =>
        fromDeadLetterDocument(JSON.parse(e.MessageBody ?? '') as DeadLetterDocument),
      ),
    );
    expect(bodies).toEqual(sent);
    expect(entriesOf(calls[0]?.input ?? {})[0]).not.toHaveProperty('MessageDeduplicationId');
  });

  it('keeps each batch within maxMessageBytes', async () => {
    const client = new SQSClient(clientConfig);
    const calls = fakeSend(client, allOk);
    // ~100 KiB of base64 per message: two fit in 256 KiB, three do not.
    await new SqsDeadLetterOutput({ client, queueUrl: 'q' }).send(
      Array.from({ length: 5 }, (_, i) => entry(i, 75 * 1024)),
    );
    expect(calls.map((c) => entriesOf(c.input).length)).toEqual([2, 2, 1]);
    for (const c of calls) {
      expect(
        entriesOf(c.input).reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0),
      ).toBeLessThanOrEqual(256 * 1024);
    }
  });

  it('sets deterministic deduplication and group ids on a FIFO queue', async () => {
    const client = new SQSClient(clientConfig);
    const calls = fakeSend(client, allOk);
    const dl = new SqsDeadLetterOutput({ client, queueUrl: 'https://sqs/1/dlq.fifo' });
    await dl.send([entry(1)]);
    await dl.send([{ ...entry(1), at: 999 }]);
    const [a, b] = calls.map((c) => entriesOf(c.input)[0]);
    expect(a?.MessageGroupId).toBe('shardId-000000000000');
    expect(a?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(b?.MessageDeduplicationId).toBe(a?.MessageDeduplicationId);
  });

  it('GIVEN an entry larger than a message WHEN sent THEN nothing is sent and the error names S3DeadLetterOutput', async () => {
    const client = new SQSClient(clientConfig);
    const calls = fakeSend(client, allOk);
    const all = [entry(1), entry(2, 300 * 1024)];
    const e = (await new SqsDeadLetterOutput({ client, queueUrl: 'q' })
      .send(all)
      .catch((x: unknown) => x)) as DeadLetterTooLargeError;
    expect(e).toBeInstanceOf(DeadLetterTooLargeError);
    expect(e).toBeInstanceOf(DeadLetterError);
    expect(e.message).toContain('S3DeadLetterOutput');
    expect(e.limitBytes).toBe(256 * 1024);
    expect(e.retryable).toBe(false);
    expect(e.unsent).toEqual(all);
    expect(calls).toHaveLength(0);
  });

  it('re-sends only failed entries, and reports the unsent ones when retries run out', async () => {
    const client = new SQSClient(clientConfig);
    const clock = fakeClock();
    const calls = fakeSend(client, ({ input }) => {
      const es = entriesOf(input);
      const bad = es.filter((e) =>
        (e.MessageBody ?? '').includes(
          '"sequenceNumber":"49590338271490256608559692538361571095921575989136581002"',
        ),
      );
      return {
        Successful: es
          .filter((e) => !bad.includes(e))
          .map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: '' })),
        Failed: bad.map((e) => ({
          Id: e.Id,
          Code: 'InternalError',
          SenderFault: false,
          Message: 'try again',
        })),
      };
    });
    const all = [entry(1), entry(2), entry(3)];
    const e = (await new SqsDeadLetterOutput({
      client,
      queueUrl: 'q',
      retry: { sleep: clock.sleep, maxAttempts: 3 },
    })
      .send(all)
      .catch((x: unknown) => x)) as DeadLetterError;
    expect(e).toBeInstanceOf(DeadLetterError);
    expect(e.unsent).toEqual([all[1]]);
    expect(e.retryable).toBe(true);
    expect(calls.map((c) => entriesOf(c.input).length)).toEqual([3, 1, 1]);
  });

  it('stops at a sender fault and marks it non-retryable', async () => {
    const client = new SQSClient(clientConfig);
    fakeSend(client, ({ input }) => ({
      Successful: [],
      Failed: entriesOf(input).map((e) => ({
        Id: e.Id,
        Code: 'InvalidParameterValue',
        SenderFault: true,
        Message: 'bad',
      })),
    }));
    const e = (await new SqsDeadLetterOutput({ client, queueUrl: 'q' })
      .send([entry(1)])
      .catch((x: unknown) => x)) as DeadLetterError;
    expect(e).toBeInstanceOf(DeadLetterError);
    expect(e.retryable).toBe(false);
    expect(e.unsent).toHaveLength(1);
  });

  it('validates maxMessageBytes', () => {
    const client = new SQSClient(clientConfig);
    expect(
      () => new SqsDeadLetterOutput({ client, queueUrl: 'q', maxMessageBytes: 2 * 1024 * 1024 }),
    ).toThrow('maxMessageBytes must be an integer 1024..1048576 (given 2097152)');
  });
});
