/**
 * `weir redrive` on the embedded AWS: the local ESM (finite retries, an S3
 * on-failure destination on s3rver) gives up on a batch whose state writes
 * keep failing, later batches commit past it; then a dry run lists the
 * range and changes nothing, the redrive reads exactly that range back from
 * kinesalite and applies it, and a second run changes nothing.
 *
 * The embedded tier has no SQS, so the destination here is S3; the SQS
 * source is covered by a unit test (test/unit/runtime/redrive-parts.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../lib/adapters/memory/index.ts';
import { count, json, minutes, pipeline, tumbling } from '../../lib/core/index.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import type { WindowWrite } from '../../lib/ports/state-store.ts';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
  S3OnFailureDestination,
} from '../../lib/runtime/local/esm/index.ts';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.ts';
import { S3FailedBatches, kinesisRangeReader, redrive } from '../../lib/runtime/redrive/index.ts';
import { createStream, put } from '../fixtures/handlers/esm-kit.ts';
import { GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { DynamoDbStateStore } from '../../lib/adapters/dynamodb/dynamodb-state-store.ts';
import { provisionTablesFromTemplate } from '../../lib/runtime/local/index.ts';
import { kinesisFailureRecord } from '../../lib/runtime/local/esm/failure-record.ts';
import { shardId } from '../../lib/model/position.ts';
import { runWeir } from '../helpers/run-weir.ts';

const fixture = useLocalAws();
const running: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

const OP = 'redrive-it';
interface Ev {
  readonly k: string;
  readonly t: number;
}
const definition = pipeline(OP)
  .decode(json<Ev>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { maxOutOfOrderness: 0 })
  .window(tumbling(minutes(10)))
  .allowedLateness(minutes(60))
  .sideOutputLateData('late')
  .aggregate(count());

/** A state store whose writes are throttled while `failing`. */
class ThrottledStore extends InMemoryStateStore {
  failing = false;
  override write(
    operator: string,
    groups: readonly (readonly WindowWrite[])[],
  ): Promise<readonly boolean[]> {
    if (this.failing)
      return Promise.reject(
        Object.assign(new Error('throttled (simulated)'), {
          name: 'ProvisionedThroughputExceededException',
        }),
      );
    return super.write(operator, groups, 0);
  }
}

describe('weir redrive on the embedded AWS', () => {
  it('GIVEN a batch the local ESM gave up on and later batches committed WHEN redriven THEN the range is applied once, a dry run and a second run change nothing', async () => {
    const { kinesis, s3 } = fixture.clients;
    const stream = uniqueName('redrive');
    const bucket = uniqueName('redrive-failures').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await createStream(kinesis, stream, 1);
    // 15 records in one window; the second batch of 5 holds the record whose batch keeps failing.
    const events = Array.from({ length: 15 }, (_, i) => ({
      k: `k${i % 3}`,
      t: 1_000 + i,
      fail: i === 7,
    }));
    const seqs = await put(
      kinesis,
      stream,
      events.map((e) => JSON.stringify(e)),
    );

    const clock = new ManualClock(1_767_225_600_000);
    const store = new ThrottledStore();
    const results = new InMemoryResultSink();
    const late = new InMemoryLateRecordSink();
    const dead = new InMemoryDeadLetterOutput();
    const runtime = new OperatorRuntime({
      definition,
      store,
      clock,
      results,
      lateOutputs: { late },
      deadLetter: dead,
      log: () => undefined,
    });
    const handler = async (e: KinesisStreamEvent): Promise<unknown> => {
      const data = e.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());
      store.failing = data.some((d) => d.includes('"fail":true'));
      try {
        const { batchItemFailures } = await runtime.handle(e);
        return { batchItemFailures };
      } finally {
        store.failing = false;
      }
    };
    const esm = new LocalEventSourceMapping({
      kinesis,
      streamName: stream,
      invoker: new InProcessHandlerInvoker(handler),
      settings: { batchSize: 5, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false },
      onFailure: new S3OnFailureDestination({ client: s3, bucket }),
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 100,
      retryDelayMs: 0,
    });
    running.push(esm);
    await esm.start();
    await esm.waitUntilIdle({ timeoutMs: 15_000 });
    expect(esm.stats()).toMatchObject({ failuresSent: 1, recordsDiscarded: 5 });

    const counts = (): Record<string, unknown> =>
      Object.fromEntries(store.allItems(OP).map((it) => [it.key, it.accumulator]));
    // Records 5..9 were skipped: the live state counts 10 of 15.
    expect(counts()).toEqual({ k0: 3, k1: 4, k2: 3 });
    const snapshot = async (): Promise<string> =>
      JSON.stringify({
        items: store.allItems(OP),
        progress: await store.readProgress(OP),
        late: late.items(),
        dead: dead.entries(),
      });
    const options = {
      operator: OP,
      runtime,
      store,
      readRange: kinesisRangeReader(kinesis),
      clock,
    };

    // A dry run lists the range and changes nothing.
    const before = await snapshot();
    const dry = await redrive({
      ...options,
      failures: new S3FailedBatches({ client: s3, bucket }),
      dryRun: true,
    });
    expect(
      dry.ranges.map((r) => [r.status, r.startSequenceNumber, r.endSequenceNumber, r.batchSize]),
    ).toEqual([['would-redrive', seqs[5], seqs[9], 5]]);
    expect(await snapshot()).toBe(before);

    // The redrive reads exactly the range back and applies it.
    const report = await redrive({
      ...options,
      failures: new S3FailedBatches({ client: s3, bucket }),
    });
    expect(report.failed).toBe(0);
    expect(report.ranges[0]).toMatchObject({
      status: 'applied',
      balanced: true,
      counts: { kinesisRecords: 5, records: 5, inState: 5, late: 0, deadLettered: 0 },
    });
    expect(counts()).toEqual({ k0: 5, k1: 5, k2: 5 });

    // The S3 record stays; a second run finds the range done and changes nothing.
    const after = await snapshot();
    const again = await redrive({
      ...options,
      failures: new S3FailedBatches({ client: s3, bucket }),
    });
    expect(again.ranges.map((r) => r.status)).toEqual(['already-redriven']);
    expect(await snapshot()).toBe(after);
  });

  it('GIVEN an S3 on-failure record and the DynamoDB state table WHEN `weir redrive` runs (dry run, run, rerun) THEN it lists, applies the range through the pipeline module, then finds it done', async () => {
    const { kinesis, s3, dynamodb } = fixture.clients;
    const tables = await provisionTablesFromTemplate(await loadDemoTemplate(), dynamodb, {
      stackName: uniqueName('Redrive'),
    });
    const state = tables.find((t) => t.globalSecondaryIndexes.includes('due'));
    const resultsTable = tables.find((t) => t !== state);
    if (state === undefined || resultsTable === undefined) throw new Error('no tables');
    const stream = uniqueName('redrive-cli');
    const failures = uniqueName('redrive-cli-failures').toLowerCase();
    const output = uniqueName('redrive-cli-out').toLowerCase();
    for (const b of [failures, output]) await s3.send(new CreateBucketCommand({ Bucket: b }));
    await createStream(kinesis, stream, 1);
    const clicks = Array.from({ length: 6 }, (_, i) => ({
      page: `/p${i % 2}`,
      user: 'u',
      ts: 60_000 + i,
    }));
    await put(
      kinesis,
      stream,
      clicks.map((c) => JSON.stringify(c)),
    );
    // The records as Lambda read them, then the document it writes when it gives up on them.
    const start = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: start.ShardIterator }));
    const records = (page.Records ?? []).map((r) => ({
      SequenceNumber: r.SequenceNumber as string,
      PartitionKey: r.PartitionKey as string,
      Data: r.Data as Uint8Array,
      ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp as Date,
    }));
    expect(records).toHaveLength(6);
    await new S3OnFailureDestination({ client: s3, bucket: failures }).send({
      esmUuid: 'u-1',
      shardId: shardId('shardId-000000000000'),
      event: { Records: [] },
      record: kinesisFailureRecord({
        requestId: 'r',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:clicks',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
        response: { functionError: true },
        timestampMs: Date.now(),
        shardId: shardId('shardId-000000000000'),
        streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
        records,
      }),
    });
    const env = {
      ...fixture.aws.env(),
      WEIR_STATE_TABLE: state.name,
      WEIR_RESULTS_TABLE: resultsTable.name,
      WEIR_OUTPUT_BUCKET: output,
    };
    interface Report {
      ranges: { status: string; counts: { inState: number } }[];
    }
    const runCli = async (extra: string[]): Promise<{ code: number; report: Report }> => {
      const args = ['redrive', '--operator', 'click-counter', '--source', `s3://${failures}`];
      const { code, text } = await runWeir(env, [...args, '--json', ...extra]);
      return { code, report: JSON.parse(text.slice(text.indexOf('{'))) as Report };
    };
    const pipelineArgs = ['--pipeline', 'functions/click-counter/pipeline.ts'];
    const dry = await runCli(['--dry-run']);
    expect([dry.code, dry.report.ranges.map((r) => r.status)]).toEqual([0, ['would-redrive']]);
    const store = new DynamoDbStateStore({ client: dynamodb, tableName: state.name });
    expect((await store.readProgress('click-counter')).shards).toEqual([]);
    const run = await runCli(pipelineArgs);
    expect([run.code, run.report.ranges.map((r) => [r.status, r.counts.inState])]).toEqual([
      0,
      [['applied', 6]],
    ]);
    const progress = await store.readProgress('click-counter');
    expect(progress.shards.map((p) => [p.shardId.split(':')[0], p.closed])).toEqual([
      ['redrive', true],
    ]);
    const again = await runCli(pipelineArgs);
    expect([again.code, again.report.ranges.map((r) => r.status)]).toEqual([
      0,
      ['already-redriven'],
    ]);
  }, 60_000);

  it('GIVEN weir redrive with an unknown flag, without --operator, or --help THEN exit 2 with the usage, or 0', async () => {
    const a = await runWeir({}, ['redrive', '--bogus']);
    expect(a.code).toBe(2);
    expect(a.text).toContain('unknown option --bogus');
    expect(a.text).toContain('Usage: weir redrive');
    const b = await runWeir({}, ['redrive', '--source', 's3://b']);
    expect(b.code).toBe(2);
    expect(b.text).toContain('--operator is required');
    const c = await runWeir({}, ['redrive', '--help']);
    expect(c.code).toBe(0);
    expect(c.text).toContain('Exit codes');
  });
});
