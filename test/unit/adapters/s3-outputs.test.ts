/** S3Sink and S3DeadLetterOutput against a hand-written fake S3: key layouts, determinism, error translation. */
import { describe, expect, it } from 'vitest';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import {
  S3DeadLetterOutput,
  S3Sink,
  lateRecordS3Format,
  windowResultS3Format,
  DeadLetterKind,
  LateReason,
  position,
  windowResult,
  DeadLetterError,
  SinkError,
  type WindowResult,
} from '../../../lib/index.ts';
import { clientConfig, fakeClock, fakeSend } from './fake-aws.ts';

const r = (key: string, version = 1): WindowResult =>
  windowResult({
    operator: 'clicks/v2',
    key,
    window: { start: 1_700_000_000_000, end: 1_700_000_060_000 },
    value: 1,
    version,
  });

describe('S3Sink', () => {
  it('writes results at deterministic keys with identical bytes on a re-drive', async () => {
    const client = new S3Client(clientConfig);
    const calls = fakeSend(client, () => ({}));
    const sink = new S3Sink({ client, bucket: 'b', prefix: 'weir/', format: windowResultS3Format });
    await sink.write([r('a/b c', 2)]);
    await sink.write([r('a/b c', 2)]);
    expect(calls[0]?.input['Key']).toBe(
      'weir/clicks%2Fv2/results/window_end=2023-11-14T22:14:20.000Z/a%2Fb%20c/1700000000000-1700000060000-v2.json',
    );
    expect(calls[1]?.input).toEqual(calls[0]?.input);
  });

  it('keys late records by output, shard and offset', () => {
    const sink = new S3Sink({
      client: new S3Client(clientConfig),
      bucket: 'b',
      format: lateRecordS3Format,
    });
    const key = sink.keyOf({
      operator: 'op',
      output: 'late',
      position: position('shardId-000000000001', '123', 4),
      data: new Uint8Array([1]),
      eventTime: 5,
      windows: [{ start: 0, end: 10 }],
      watermark: 100,
      reason: LateReason.WINDOW_CLOSED,
    });
    expect(key).toBe(
      `op/late/late/shardId-000000000001/${'123'.padStart(128, '0')}.0000000004-0-10.json`,
    );
  });

  it('retries SlowDown and reports failed items in a SinkError', async () => {
    const client = new S3Client(clientConfig);
    const clock = fakeClock();
    fakeSend(client, ({ input }) => {
      if (String(input['Key']).includes('/bad/')) {
        throw new S3ServiceException({
          name: 'SlowDown',
          $fault: 'server',
          message: 'Please reduce your request rate',
          $metadata: { httpStatusCode: 503 },
        });
      }
      return {};
    });
    const items = [r('ok'), r('bad')];
    const sink = new S3Sink({
      client,
      bucket: 'b',
      format: windowResultS3Format,
      retry: { sleep: clock.sleep, maxAttempts: 3 },
    });
    const e = (await sink.write(items).catch((x: unknown) => x)) as SinkError<WindowResult>;
    expect(e).toBeInstanceOf(SinkError);
    expect(e.unwritten).toEqual([items[1]]);
    expect(e.report.items).toEqual([{ index: 0, outcome: 'written' }]);
    expect(clock.sleeps).toHaveLength(2);
  });
});

describe('S3DeadLetterOutput', () => {
  it('translates a failed PutObject into DeadLetterError with the unsent entries', async () => {
    const client = new S3Client(clientConfig);
    fakeSend(client, () => {
      throw new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'Access Denied',
        $metadata: { httpStatusCode: 403 },
      });
    });
    const entry = {
      operator: 'op',
      position: position('shardId-000000000000', '1'),
      data: new Uint8Array([0xff]),
      reason: 'x',
      kind: DeadLetterKind.Other,
      at: 0,
    };
    const e = (await new S3DeadLetterOutput({ client, bucket: 'b' })
      .send([entry])
      .catch((x: unknown) => x)) as DeadLetterError;
    expect(e).toBeInstanceOf(DeadLetterError);
    expect(e.unsent).toEqual([entry]);
    expect(e.message).toContain('Access Denied');
  });
});
