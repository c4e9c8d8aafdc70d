/**
 * The local runner pieces a local run composes, through the package entry:
 * the ticker loop, ticking until a condition, the on-failure destination of
 * a template mapping, and reading the results table back. (The mapping
 * runner itself runs end to end in test/e2e/demo.test.ts.)
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  S3OnFailureDestination,
  SqsOnFailureDestination,
  TickerLoop,
  onFailureDestinationOf,
  readWindowResults,
  tickUntil,
  type TickReport,
} from '../../../lib/index.ts';
import { clientConfig, fakeSend } from '../adapters/fake-aws.ts';

const report = (watermark: number, fired = 0): TickReport => ({
  watermark,
  closedShards: [],
  accessDenied: 0,
  shardDirectoryFailures: 0,
  fired,
  redriven: 0,
});

describe('TickerLoop', () => {
  it('GIVEN a ticker that fails once WHEN looping THEN it reports the error, goes on ticking, and stop waits for the tick in flight', async () => {
    let calls = 0;
    let inFlight = false;
    const errors: unknown[] = [];
    const reports: TickReport[] = [];
    const loop = new TickerLoop(
      async () => {
        calls++;
        inFlight = true;
        await new Promise((r) => setTimeout(r, 5));
        inFlight = false;
        if (calls === 2) throw new Error('throttled');
        return report(calls);
      },
      { intervalMs: 1, onError: (e) => errors.push(e), onTick: (r) => reports.push(r) },
    );
    loop.start();
    loop.start(); // a second start does not start a second loop
    while (calls < 4) await new Promise((r) => setTimeout(r, 1));
    await loop.stop();
    expect(inFlight).toBe(false);
    const stoppedAt = calls;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(stoppedAt);
    expect(errors).toEqual([new Error('throttled')]);
    expect(reports.map((r) => r.watermark)).toEqual(
      Array.from({ length: stoppedAt }, (_, i) => i + 1).filter((n) => n !== 2),
    );
  });

  it('GIVEN a long interval WHEN stopped between ticks THEN stop does not wait for the interval', async () => {
    const loop = new TickerLoop(() => Promise.resolve(report(0)), { intervalMs: 60_000 });
    loop.start();
    await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await loop.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe('tickUntil', () => {
  it('GIVEN a watermark that rises WHEN ticking until it passes a bound THEN it stops at the first report that does', async () => {
    let w = 0;
    const last = await tickUntil(
      () => Promise.resolve(report((w += 10))),
      (r) => r.watermark >= 30,
      {
        timeoutMs: 10_000,
        intervalMs: 1,
      },
    );
    expect(last?.watermark).toBe(30);
  });

  it('GIVEN a condition never met WHEN the time is up THEN the last report comes back, not an error', async () => {
    const last = await tickUntil(
      () => Promise.resolve(report(7, 1)),
      (r) => r.fired === 0,
      {
        timeoutMs: 20,
        intervalMs: 1,
      },
    );
    expect(last).toEqual(report(7, 1));
  });

  it('GIVEN a failing tick WHEN ticking until THEN the failure rejects', async () => {
    await expect(
      tickUntil(
        () => Promise.reject(new Error('down')),
        () => true,
        { timeoutMs: 1_000 },
      ),
    ).rejects.toThrow('down');
  });
});

describe('onFailureDestinationOf', () => {
  const clients = { s3: new S3Client(clientConfig), sqs: new SQSClient(clientConfig) };

  it('GIVEN the on-failure settings of a template mapping WHEN turned into a local destination THEN S3 and SQS are reproduced and SNS is not', () => {
    const s3 = onFailureDestinationOf(
      {
        type: 's3',
        logicalId: 'B',
        name: 'failures',
        arn: 'arn:aws:s3:::failures',
        url: undefined,
      },
      clients,
    );
    expect(s3).toBeInstanceOf(S3OnFailureDestination);
    expect(s3?.arn).toBe('arn:aws:s3:::failures');

    const sqs = onFailureDestinationOf(
      {
        type: 'sqs',
        logicalId: 'Q',
        name: 'WeirDemo-Q',
        arn: 'arn:aws:sqs:us-east-1:000000000000:WeirDemo-Q',
        url: 'http://127.0.0.1:4566/000000000000/WeirDemo-Q',
      },
      clients,
    );
    expect(sqs).toBeInstanceOf(SqsOnFailureDestination);
    expect(sqs?.arn).toBe('arn:aws:sqs:us-east-1:000000000000:WeirDemo-Q');

    expect(
      onFailureDestinationOf(
        {
          type: 'sns',
          logicalId: 'T',
          name: 'T',
          arn: 'arn:aws:sns:us-east-1:0:T',
          url: undefined,
        },
        clients,
      ),
    ).toBeUndefined();
  });
});

describe('readWindowResults', () => {
  it('GIVEN a results table over two pages with a superseded-session marker WHEN read THEN every result comes back and the marker does not', async () => {
    const client = new DynamoDBClient(clientConfig);
    const item = (key: string, version: number, extra = {}) => ({
      pk: { S: `click-counter#${key}` },
      sk: { S: `0-60000` },
      operator: { S: 'click-counter' },
      key: { S: key },
      windowStart: { N: '0' },
      windowEnd: { N: '60000' },
      version: { N: String(version) },
      id: { S: `id-${key}` },
      value: { S: '3' },
      ...extra,
    });
    const calls = fakeSend(client, (call, n) =>
      n === 0
        ? { Items: [item('/a', 1)], LastEvaluatedKey: { pk: { S: 'x' }, sk: { S: 'y' } } }
        : { Items: [item('/b', 2), item('/c', 1, { supersededBy: { S: '0-90000' } })] },
    );
    const results = await readWindowResults(client, 'results');
    expect(results.map((r) => [r.key, r.version, r.value])).toEqual([
      ['/a', 1, 3],
      ['/b', 2, 3],
    ]);
    expect(calls.map((c) => c.input['ExclusiveStartKey'])).toEqual([
      undefined,
      { pk: { S: 'x' }, sk: { S: 'y' } },
    ]);
  });
});
