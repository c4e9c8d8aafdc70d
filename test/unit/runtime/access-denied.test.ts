/**
 * A refused AWS call is a deployment bug, never only a warning: the emulators
 * do not enforce IAM, so on AWS a grant missing from the role shows up only
 * as AccessDenied. The runtime's best-effort shard steps log it at ERROR,
 * count it in the batch or tick report, and a tick then fails so Lambda's
 * Errors metric shows it. Passing faults (throttling) stay warnings.
 */
import { describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemoryStateStore,
  count,
  json,
  pipeline,
  tumbling,
  ManualClock,
  OperatorRuntime,
  shardId as toShardId,
  type ShardDirectory,
} from '../../../lib/index.ts';
import type { ShardInfo } from '../../../lib/ports/shard-directory.ts';
import { AccessDeniedError, isAuthorizationError } from '../../../lib/runtime/authorization.ts';
import { buildKinesisEvent } from '../../../lib/runtime/local/esm/kinesis-event.ts';

const SHARD = toShardId('shardId-000000000000');
const PARENT = toShardId('shardId-000000000001');

const definition = pipeline('op')
  .decode(json<{ k: string; t: number }>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { idleTimeout: 1000, idleAdvance: true })
  .window(tumbling(10))
  .sideOutputLateData('late')
  .aggregate(count());

/** An AWS SDK error as the SDK throws it: a `name` and HTTP metadata. */
function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from the service`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

/** A hand-written shard directory whose Kinesis reads can be refused. */
class Shards implements ShardDirectory {
  readError: Error | undefined;
  listError: Error | undefined;
  constructor(private readonly shards: readonly ShardInfo[]) {}
  listShards(): Promise<readonly ShardInfo[]> {
    return this.listError ? Promise.reject(this.listError) : Promise.resolve(this.shards);
  }
  isConsumed(): Promise<boolean> {
    return this.readError ? Promise.reject(this.readError) : Promise.resolve(true);
  }
  hasRecordsAfter(): Promise<boolean> {
    return this.readError ? Promise.reject(this.readError) : Promise.resolve(false);
  }
}

let seq = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
function event(t: number): KinesisStreamEvent {
  seq += 10n;
  return buildKinesisEvent(
    [
      {
        SequenceNumber: String(seq),
        PartitionKey: 'pk',
        Data: Buffer.from(JSON.stringify({ k: 'a', t })),
        ApproximateArrivalTimestamp: new Date(1_700_000_000_000),
      },
    ],
    {
      shardId: SHARD,
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
    },
  );
}

function setup(shards: Shards) {
  const logs: Record<string, unknown>[] = [];
  const clock = new ManualClock(0);
  const runtime = new OperatorRuntime({
    definition,
    store: new InMemoryStateStore(),
    clock,
    results: new InMemoryResultSink(),
    lateOutputs: { late: new InMemoryLateRecordSink() },
    deadLetter: new InMemoryDeadLetterOutput(),
    shards,
    log: (e) => logs.push(e),
  });
  return { runtime, logs, clock };
}

describe('isAuthorizationError', () => {
  it.each([
    ['AccessDeniedException', 400],
    ['AccessDenied', 403],
    ['KMSAccessDeniedException', 400],
    ['UnrecognizedClientException', 400],
    ['SomethingElse', 403],
  ])('GIVEN %s (HTTP %i) WHEN checked THEN it is an authorization failure', (name, status) => {
    expect(isAuthorizationError(awsError(name, status))).toBe(true);
  });

  it('GIVEN a refused call wrapped as the cause of a domain error WHEN checked THEN it is found', () => {
    const wrapped = new Error('state store failed', {
      cause: awsError('AccessDeniedException', 400),
    });
    expect(isAuthorizationError(wrapped)).toBe(true);
  });

  it.each([
    ['ProvisionedThroughputExceededException', 400],
    ['ThrottlingException', 400],
    ['InternalFailure', 500],
  ])('GIVEN %s WHEN checked THEN it is a passing fault, not authorization', (name, status) => {
    expect(isAuthorizationError(awsError(name, status))).toBe(false);
    expect(isAuthorizationError('AccessDenied')).toBe(false);
  });
});

describe('OperatorRuntime and refused AWS calls', () => {
  it('GIVEN ListShards refused WHEN a batch arrives THEN it is applied, the refusal is logged at ERROR and counted in the report', async () => {
    const shards = new Shards([{ shardId: SHARD, closed: false }]);
    shards.listError = awsError('AccessDeniedException', 400);
    const { runtime, logs } = setup(shards);
    const out = await runtime.handle(event(1));
    expect(out.batchItemFailures).toEqual([]);
    expect(out.reports[0]).toMatchObject({ accessDenied: 1, counts: { inState: 1 } });
    expect(logs.find((e) => e['level'] === 'ERROR')).toMatchObject({
      msg: 'shard registration failed: access denied',
      error: 'AccessDeniedException: AccessDeniedException from the service',
    });
    expect(logs.find((e) => e['msg'] === 'batch')).toMatchObject({ accessDenied: 1 });
  });

  it('GIVEN ListShards throttled WHEN a batch arrives THEN it stays a warning and counts nothing', async () => {
    const shards = new Shards([{ shardId: SHARD, closed: false }]);
    shards.listError = awsError('ProvisionedThroughputExceededException', 400);
    const { runtime, logs } = setup(shards);
    const out = await runtime.handle(event(1));
    expect(out.reports[0]?.accessDenied).toBe(0);
    expect(logs.filter((e) => e['level'] === 'ERROR')).toEqual([]);
    expect(logs.find((e) => e['level'] === 'WARN')).toMatchObject({
      msg: 'shard registration failed',
    });
  });

  it('GIVEN GetRecords refused for the end-of-shard and backlog checks WHEN the ticker runs THEN it finishes its work, logs each at ERROR and fails with AccessDeniedError', async () => {
    const shards = new Shards([
      { shardId: SHARD, closed: false },
      { shardId: PARENT, closed: true },
    ]);
    const { runtime, logs, clock } = setup(shards);
    await runtime.handle(event(1));
    shards.readError = awsError('AccessDeniedException', 400);
    clock.set(800); // past half the idle timeout: the backlog check runs for the open shard
    const failure = await runtime.tick().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(AccessDeniedError);
    expect((failure as AccessDeniedError).refused.map((r) => [r.step, r.shardId])).toEqual([
      ['end-of-shard check', PARENT],
      ['backlog check', SHARD],
    ]);
    expect((failure as Error).message).toMatch(
      /operator op: 2 AWS call\(s\) refused for lack of permission .*end-of-shard check of shardId-000000000001: AccessDeniedException/,
    );
    expect(logs.filter((e) => e['level'] === 'ERROR').map((e) => e['msg'])).toEqual([
      'end-of-shard check failed: access denied',
      'backlog check failed: access denied',
    ]);
    // The tick still did its work and reported it before failing.
    expect(logs.find((e) => e['msg'] === 'tick')).toMatchObject({ accessDenied: 2 });
  });

  it('GIVEN the shard checks throttled WHEN the ticker runs THEN the tick succeeds with warnings', async () => {
    const shards = new Shards([
      { shardId: SHARD, closed: false },
      { shardId: PARENT, closed: true },
    ]);
    const { runtime, logs, clock } = setup(shards);
    await runtime.handle(event(1));
    shards.readError = awsError('ProvisionedThroughputExceededException', 400);
    clock.set(800);
    const report = await runtime.tick();
    expect(report.accessDenied).toBe(0);
    expect(logs.filter((e) => e['level'] === 'WARN').map((e) => e['msg'])).toEqual([
      'end-of-shard check failed',
      'backlog check failed',
    ]);
  });
});
