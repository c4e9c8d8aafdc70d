/**
 * The simulated ESM is driven by EventSourceMappingSettings and the shared
 * state machine: with finite retries or a record age it gives up as Lambda
 * does, reporting the shard and sequence range like the local ESM.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ConfigError, InMemoryOnFailureDestination, ManualClock } from '../../../lib/index.ts';
import {
  FaultPlan,
  SimulatedEsm,
  SimulatedKinesis,
  type SimulatedEsmOptions,
} from '../../../lib/testing/index.ts';

/** A stream with one shard of `n` records and a function that answers `respond`. */
function setup(
  n: number,
  respond: (event: KinesisStreamEvent) => KinesisStreamBatchResponse,
  options: Partial<SimulatedEsmOptions> = {},
) {
  const clock = new ManualClock(1_700_000_000_000);
  const kinesis = new SimulatedKinesis(clock);
  const shard = kinesis.createShard();
  for (let i = 0; i < n; i++) kinesis.put(shard.shardId, `r${i}`);
  const onFailure = new InMemoryOnFailureDestination();
  let invocations = 0;
  const esm = new SimulatedEsm({
    kinesis,
    clock,
    plan: new FaultPlan({ seed: 1, rate: 0 }),
    random: () => 0.999, // every poll takes a full batch
    makeFunction: () => ({
      handle: (event) => (invocations++, Promise.resolve(respond(event))),
      tick: () => Promise.resolve(),
      redriveOutbox: () => Promise.resolve(0),
    }),
    onFailure,
    ...options,
  });
  return { clock, kinesis, shard, esm, onFailure, invocations: () => invocations };
}

const invalid = (): KinesisStreamBatchResponse => ({ batchItemFailures: [{ itemIdentifier: '' }] });

describe('SimulatedEsm driven by EventSourceMappingSettings', () => {
  it('GIVEN maximumRetryAttempts 1 and a batch that keeps failing WHEN delivered THEN 1 + 1 invocations, then an on-failure record with the shard and sequence range, and the checkpoint moves past it', async () => {
    const { esm, shard, onFailure, invocations } = setup(4, invalid, {
      settings: { batchSize: 4, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false },
    });
    expect(await esm.deliverNext()).toBe(true);
    expect(invocations()).toBe(2);
    expect(esm.stats.discarded).toBe(4);
    expect(esm.checkpoints.get(shard.shardId)).toBe(4);
    expect(onFailure.sent).toHaveLength(1);
    const record = onFailure.sent[0]?.record;
    expect(record?.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
    });
    // The function returned (an invalid partial response): no functionError.
    expect(record?.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(record?.KinesisBatchInfo).toMatchObject({
      shardId: shard.shardId,
      startSequenceNumber: shard.records[0]?.SequenceNumber,
      endSequenceNumber: shard.records[3]?.SequenceNumber,
      batchSize: 4,
    });
    expect(esm.drained()).toBe(true);
  });

  it('GIVEN bisectBatchOnFunctionError and one poison record THEN only it is given up', async () => {
    const isPoison = (data: string): boolean => Buffer.from(data, 'base64').toString() === 'r2';
    const { esm, shard, onFailure } = setup(
      4,
      (event) =>
        event.Records.some((r) => isPoison(r.kinesis.data)) ? invalid() : { batchItemFailures: [] },
      { settings: { batchSize: 4, maximumRetryAttempts: 0, bisectBatchOnFunctionError: true } },
    );
    const poison = shard.records[2]?.SequenceNumber;
    await esm.drain();
    expect(esm.stats.bisects).toBe(2);
    expect(onFailure.sent.map((f) => f.record.KinesisBatchInfo.startSequenceNumber)).toEqual([
      poison,
    ]);
    expect(esm.stats.discarded).toBe(1);
    expect(esm.drained()).toBe(true);
  });

  it('GIVEN maximumRecordAgeInSeconds 60 and records 61 s old THEN they are given up before any invocation', async () => {
    const { esm, clock, onFailure, invocations } = setup(3, () => ({ batchItemFailures: [] }), {
      settings: { batchSize: 3, maximumRecordAgeInSeconds: 60 },
    });
    clock.advance(61_000);
    await esm.drain();
    expect(invocations()).toBe(0);
    expect(onFailure.sent[0]?.record.requestContext).toMatchObject({
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 0,
    });
    expect(onFailure.sent[0]?.record.responseContext).toBeUndefined();
  });

  it('GIVEN invalid settings THEN it fails fast with the shared validation', () => {
    expect(() => setup(1, invalid, { settings: { batchSize: 0 } })).toThrow(ConfigError);
  });
});
