/**
 * The package entry alone is enough to define a pipeline and run it, as a
 * user would: no imports of internals.
 */
import { describe, expect, it } from 'vitest';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemoryStateStore,
  ManualClock,
  OperatorRuntime,
  count,
  json,
  minutes,
  pipeline,
  seconds,
  tumbling,
} from '../../lib/index.ts';

describe('package entry', () => {
  it('GIVEN only the package entry WHEN a pipeline runs two Lambda-shaped batches THEN the closed window is emitted once', async () => {
    const clicks = pipeline('clicks')
      .decode(json<{ page: string; ts: number }>())
      .keyBy((c) => c.page)
      .eventTime((c) => c.ts, { maxOutOfOrderness: seconds(1) })
      .window(tumbling(minutes(1)))
      .sideOutputLateData('late')
      .aggregate(count());
    const results = new InMemoryResultSink();
    const runtime = new OperatorRuntime({
      definition: clicks,
      store: new InMemoryStateStore(),
      clock: new ManualClock(0),
      results,
      lateOutputs: { late: new InMemoryLateRecordSink() },
      deadLetter: new InMemoryDeadLetterOutput(),
      log: () => undefined,
    });
    const record = (seq: number, body: object) => ({
      eventID: `shardId-000000000000:${seq}`,
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventName: 'aws:kinesis:record',
      eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
      awsRegion: 'us-east-1',
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'p',
        sequenceNumber: `4959033827149025660855969253836157109592157598913658${seq}`,
        data: Buffer.from(JSON.stringify(body)).toString('base64'),
        approximateArrivalTimestamp: 1_700_000_000.5,
      },
    });
    await runtime.handle({
      Records: [record(10, { page: '/a', ts: 1_000 }), record(11, { page: '/a', ts: 2_000 })],
    });
    await runtime.handle({ Records: [record(12, { page: '/b', ts: 70_000 })] });
    expect(results.results().map((r) => [r.key, r.window.start, r.value, r.version])).toEqual([
      ['/a', 0, 2, 1],
    ]);
  });
});
