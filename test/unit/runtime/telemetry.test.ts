/**
 * The runtime's reports as EMF metrics: the names, units and dimension sets
 * of lib/runtime/metrics-names.ts, one flush per invocation, the batch
 * accounting reconciled, dead letters split by reason in their own
 * documents, refused calls counted even when the tick then fails; and the
 * log lines through Powertools Logger.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
} from '../../../lib/adapters/memory/in-memory-sinks.ts';
import { InMemoryStateStore } from '../../../lib/adapters/memory/in-memory-state-store.ts';
import { count, json, pipeline, tumbling } from '../../../lib/core/index.ts';
import { shardId as toShardId } from '../../../lib/model/position.ts';
import { ManualClock } from '../../../lib/ports/clock.ts';
import type { ShardDirectory, ShardInfo } from '../../../lib/ports/shard-directory.ts';
import type { StateStore } from '../../../lib/ports/state-store.ts';
import { buildKinesisEvent } from '../../../lib/runtime/local/esm/kinesis-event.ts';
import { WEIR_METRICS_NAMESPACE, WeirMetric } from '../../../lib/runtime/metrics-names.ts';
import { OperatorRuntime } from '../../../lib/runtime/operator-runtime.ts';
import {
  COUNTS_OF,
  EmfCollector,
  EmfMetricsWriter,
  InvocationFigures,
  countStateWrites,
  deadLetterMetricReason,
  operatorLogger,
  parseEmfLine,
  runtimeLogOf,
} from '../../../lib/runtime/telemetry/index.ts';

/** A whole second near now: EMF timestamps CloudWatch accepts are within 14 days of the wall clock. */
const T0 = Math.floor(Date.now() / 1000) * 1000;
const SHARD = toShardId('shardId-000000000000');
const PARENT = toShardId('shardId-000000000001');
const OP = { Operator: 'op' };

const definition = pipeline('op')
  .decode(json<{ k: string; t: number }>())
  .keyBy((e) => e.k)
  .eventTime((e) => e.t, { maxOutOfOrderness: 0, idleTimeout: 1000, idleAdvance: true })
  .window(tumbling(10))
  .sideOutputLateData('late')
  .aggregate(count());

let seq = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
function event(payloads: readonly (string | Uint8Array)[]): KinesisStreamEvent {
  return buildKinesisEvent(
    payloads.map((p, i) => ({
      SequenceNumber: String((seq += 10n)),
      PartitionKey: `pk${i}`,
      Data: typeof p === 'string' ? Buffer.from(p) : p,
      ApproximateArrivalTimestamp: new Date(T0),
    })),
    {
      shardId: SHARD,
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
      awsRegion: 'us-east-1',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
    },
  );
}
const click = (k: string, t: number): string => JSON.stringify({ k, t });

/** A hand-written shard directory whose Kinesis reads can fail. */
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

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from the service`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

/** A runtime on in-memory adapters, with the Lambda wiring's telemetry: figures, a counting store, an EMF writer into a collector. */
function setup(shards?: Shards, store: StateStore = new InMemoryStateStore()) {
  const clock = new ManualClock(T0);
  const emf = new EmfCollector();
  const handler = new InvocationFigures('handler', () => clock.now());
  const ticker = new InvocationFigures('ticker', () => clock.now());
  const state = countStateWrites(store);
  const writer = new EmfMetricsWriter({
    operator: 'op',
    now: () => clock.now(),
    output: emf.collect,
  });
  const runtime = new OperatorRuntime({
    definition,
    store: state.store,
    clock,
    results: new InMemoryResultSink(),
    lateOutputs: { late: new InMemoryLateRecordSink() },
    deadLetter: new InMemoryDeadLetterOutput(),
    ...(shards ? { shards } : {}),
    log: () => undefined,
    telemetry: {
      batch: (r) => handler.batch(r),
      batchFailed: (s, e) => handler.batchFailed(s, e),
      tick: (r) => ticker.tick(r),
    },
  });
  const flush = (figures: InvocationFigures): void => {
    const { writes, conflicts } = state.take();
    figures.stateWrites(writes, conflicts);
    writer.write(figures.take());
  };
  return { runtime, clock, emf, handler, ticker, flush };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('EMF metrics of a batch', () => {
  it('GIVEN good, late, undecodable, bad-time and non-base64 records WHEN one invocation is flushed THEN RecordsIn equals applied + late + dead-lettered + filtered + skipped and each reason has its own document', async () => {
    const { runtime, clock, emf, handler, flush } = setup();
    await runtime.handle(event([click('a', T0 + 25)]));
    flush(handler);
    emf.clear();
    clock.set(T0 + 1000);
    const ev = event([
      click('a', T0 + 26),
      click('b', T0 + 27),
      click('a', T0 + 3), // late: its window [T0, T0+10) closed at watermark T0+25
      '{not json',
      click('c', Number.NaN).replace('null', '"x"'),
    ]);
    const last = ev.Records.at(-1);
    if (!last) throw new Error('no records');
    ev.Records.push({
      ...last,
      eventID: `${SHARD}:${String((seq += 10n))}`,
      kinesis: { ...last.kinesis, sequenceNumber: String(seq), data: '%%% not base64 %%%' },
    });
    const out = await runtime.handle(ev);
    flush(handler);

    const [report] = out.reports;
    expect(report?.counts).toMatchObject({ inState: 2, late: 1, deadLettered: 2 });
    expect(emf.sum('RecordsIn', OP)).toBe(6);
    expect(emf.sum('RecordsApplied', OP)).toBe(2);
    expect(emf.sum('RecordsLate', OP)).toBe(1);
    expect(emf.sum('RecordsDeadLettered', OP)).toBe(3);
    expect(emf.sum('RecordsFiltered', OP)).toBe(0);
    expect(emf.sum('RecordsSkippedCommitted', OP)).toBe(0);
    expect(
      emf.sum('RecordsApplied', OP) +
        emf.sum('RecordsLate', OP) +
        emf.sum('RecordsDeadLettered', OP) +
        emf.sum('RecordsFiltered', OP) +
        emf.sum('RecordsSkippedCommitted', OP),
    ).toBe(emf.sum('RecordsIn', OP));
    expect(emf.deadLettersByReason('op')).toEqual({
      'decode-failed': 1,
      'invalid-event-time': 1,
      'invalid-base64': 1,
    });
    expect(emf.sum('StateWrites', OP)).toBeGreaterThan(0);
    expect(emf.sum('StateWriteConflicts', OP)).toBe(0);
    expect(emf.max('WatermarkLagMs', OP)).toBe(1000 - 27);
    expect(emf.sum('BatchFailures', OP)).toBe(0);
    // One document for the operator, one per reason: the total is never counted twice.
    expect(emf.documents()).toHaveLength(4);
  });

  it('GIVEN a flush WHEN the EMF document is read THEN it has namespace Weir, the Operator dimension alone (no Powertools service dimension) and the units of metrics-names.ts', async () => {
    const { runtime, emf, handler, flush } = setup();
    await runtime.handle(event([click('a', T0 + 1), '{bad']));
    flush(handler);
    const [main, byReason] = emf.documents();
    expect(main?.timestamp).toBe(T0);
    expect(main?.directives).toHaveLength(1);
    const d = main?.directives[0];
    expect(d?.Namespace).toBe(WEIR_METRICS_NAMESPACE);
    expect(d?.Dimensions).toEqual([['Operator']]);
    expect(main?.members['Operator']).toBe('op');
    expect(main?.members).not.toHaveProperty('service');
    expect(d?.Metrics.map((m) => m.Name).sort()).toEqual(
      [...COUNTS_OF.handler, 'WatermarkLagMs'].sort(),
    );
    for (const m of d?.Metrics ?? [])
      expect(m.Unit).toBe(WeirMetric[m.Name as keyof typeof WeirMetric].unit);
    expect(byReason?.directives[0]?.Dimensions).toEqual([['Operator', 'Reason']]);
    expect(byReason?.directives[0]?.Metrics).toEqual([
      { Name: 'RecordsDeadLettered', Unit: 'Count' },
    ]);
    expect(byReason?.members).toMatchObject({
      Operator: 'op',
      Reason: 'decode-failed',
      RecordsDeadLettered: 1,
    });
  });

  it('GIVEN a retried batch WHEN flushed THEN its records count as skipped, and the next invocation starts from zero', async () => {
    const { runtime, emf, handler, flush } = setup();
    const ev = event([click('a', T0 + 1), click('a', T0 + 2)]);
    await runtime.handle(ev);
    flush(handler);
    const first = emf.documents().length;
    await runtime.handle(ev);
    flush(handler);
    const second = emf.documents().slice(first);
    expect(second[0]?.members).toMatchObject({
      RecordsIn: 2,
      RecordsSkippedCommitted: 2,
      RecordsApplied: 0,
      StateWrites: 0,
    });
  });

  it('GIVEN ListShards refused, then failing for another reason WHEN batches arrive THEN AccessDenied counts the refusal and ShardRegistrationFailures both', async () => {
    const shards = new Shards([{ shardId: SHARD, closed: false }]);
    shards.listError = awsError('AccessDeniedException', 400);
    const { runtime, emf, handler, flush } = setup(shards);
    await runtime.handle(event([click('a', T0 + 1)]));
    shards.listError = awsError('ProvisionedThroughputExceededException', 400);
    await runtime.handle(event([click('a', T0 + 2)]));
    flush(handler);
    expect(emf.sum('AccessDenied', OP)).toBe(1);
    expect(emf.sum('ShardRegistrationFailures', OP)).toBe(2);
    expect(emf.sum('RecordsApplied', OP)).toBe(2);
  });

  it('GIVEN the result sink down WHEN a batch fires THEN BatchFailures counts it', async () => {
    const { runtime, emf, handler, flush, clock } = setup();
    await runtime.handle(event([click('a', T0 + 1)]));
    const sink = (runtime as unknown as { options: { results: InMemoryResultSink } }).options
      .results;
    vi.spyOn(sink, 'write').mockRejectedValue(new Error('sink down'));
    clock.set(T0 + 5000);
    await runtime.handle(event([click('a', T0 + 50)]));
    flush(handler);
    expect(emf.sum('BatchFailures', OP)).toBe(1);
    expect(emf.sum('AccessDenied', OP)).toBe(0);
  });

  it('GIVEN a state write refused for lack of permission WHEN the batch fails THEN BatchFailures and AccessDenied count it', async () => {
    const store = new InMemoryStateStore();
    const { runtime, emf, handler, flush } = setup(undefined, store);
    vi.spyOn(store, 'write').mockRejectedValue(awsError('AccessDeniedException', 400));
    const out = await runtime.handle(event([click('a', T0 + 1)]));
    flush(handler);
    expect(out.batchItemFailures).toHaveLength(1);
    expect(emf.sum('BatchFailures', OP)).toBe(1);
    expect(emf.sum('AccessDenied', OP)).toBe(1);
  });
});

describe('EMF metrics of a tick', () => {
  it('GIVEN the end-of-shard and backlog checks refused WHEN the tick fails with AccessDeniedError THEN its figures are still flushed', async () => {
    const shards = new Shards([
      { shardId: SHARD, closed: false },
      { shardId: PARENT, closed: true },
    ]);
    const { runtime, clock, emf, ticker, flush } = setup(shards);
    await runtime.handle(event([click('a', T0 + 1)]));
    shards.readError = awsError('AccessDeniedException', 400);
    clock.set(T0 + 800);
    await expect(runtime.tick()).rejects.toThrow(/refused for lack of permission/);
    flush(ticker);
    expect(emf.sum('AccessDenied', OP)).toBe(2);
    expect(emf.sum('ShardDirectoryFailures', OP)).toBe(2);
    const [doc] = emf.documents();
    expect(doc?.directives[0]?.Metrics.map((m) => m.Name).sort()).toEqual(
      [...COUNTS_OF.ticker, 'WatermarkLagMs'].sort(),
    );
  });

  it('GIVEN due windows WHEN ticks fire them THEN WindowsFired equals the results and the lag is processing time minus the watermark', async () => {
    const { runtime, clock, emf, ticker, flush } = setup();
    await runtime.handle(event([click('a', T0 + 1), click('b', T0 + 2)]));
    clock.set(T0 + 5000); // the only shard is idle: the watermark advances by processing time
    const a = await runtime.tick();
    const b = await runtime.tick();
    flush(ticker);
    expect(a.fired + b.fired).toBe(2);
    expect(emf.sum('WindowsFired', OP)).toBe(2);
    expect(emf.sum('OutboxBacklog', OP)).toBe(0);
    expect(emf.max('WatermarkLagMs', OP)).toBe(T0 + 5000 - b.watermark);
  });
});

describe('which function writes which metric', () => {
  it.each(['handler', 'ticker'] as const)(
    'GIVEN the %s WHEN its counts are listed THEN they and the lag are exactly the metrics metrics-names.ts says it writes',
    (role) => {
      const written = Object.values(WeirMetric)
        .filter((m) => m.writtenBy === role || m.writtenBy === 'both')
        .map((m) => m.name)
        .sort();
      expect([...COUNTS_OF[role], 'WatermarkLagMs'].sort()).toEqual(written);
    },
  );
});

describe('countStateWrites', () => {
  it('GIVEN a store refusing one group of two WHEN written THEN one group counts its items and the other one conflict; other methods pass through', async () => {
    const inner = new InMemoryStateStore();
    const write = vi.spyOn(inner, 'write').mockResolvedValue([true, false]);
    const counted = countStateWrites(inner);
    const item = {
      key: 'k',
      start: 0,
      end: 10,
      accumulator: 1,
      absorbed: {},
      firedVersion: 0,
      pending: true,
      cleanupAt: 10,
      revision: 1,
      purged: false,
      supersedes: [],
      outbox: null,
    };
    const put = { kind: 'put' as const, item, expectedRevision: null };
    await counted.store.write('op', [[put, put], [put]]);
    expect(write).toHaveBeenCalledOnce();
    expect(counted.take()).toEqual({ writes: 2, conflicts: 1 });
    expect(counted.take()).toEqual({ writes: 0, conflicts: 0 });
    await expect(counted.store.readProgress('op')).resolves.toMatchObject({ shards: [] });
  });
});

describe('parseEmfLine and deadLetterMetricReason', () => {
  it('GIVEN plain log lines and broken JSON WHEN parsed THEN they are not EMF', () => {
    expect(parseEmfLine('{"level":"INFO","msg":"batch"}')).toBeUndefined();
    expect(parseEmfLine('{"_aws": nope')).toBeUndefined();
    expect(parseEmfLine('{"_aws":{"Timestamp":"x","CloudWatchMetrics":[]}}')).toBeUndefined();
    expect(parseEmfLine('hello')).toBeUndefined();
  });

  it('GIVEN dead letters without an operator code WHEN counted THEN they get the reason of their kind', () => {
    expect(deadLetterMetricReason({ kind: 'kpl' })).toBe('kpl-aggregate-broken');
    expect(deadLetterMetricReason({ kind: 'decode' })).toBe('invalid-base64');
    expect(deadLetterMetricReason({ kind: 'decode', code: 'decode-failed' })).toBe('decode-failed');
  });
});

describe('log lines through Powertools Logger', () => {
  it('GIVEN an invocation context WHEN the runtime logs THEN the JSON line starts with level and msg and carries operator, request id, cold start and the fields', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand'); // as Lambda sets it; the cold-start flag reads it
    const logger = operatorLogger('op');
    logger.addContext({
      awsRequestId: 'req-1',
      functionName: 'fn',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
      memoryLimitInMB: '128',
    } as Context);
    const log = runtimeLogOf(logger);
    log({ level: 'INFO', msg: 'batch', operator: 'op', shardId: SHARD, counts: { received: 1 } });
    log({ level: 'ERROR', msg: 'shard registration failed: access denied', error: 'x' });
    vi.restoreAllMocks();
    const [info, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]?.startsWith('{"level":"INFO","msg":"batch",')).toBe(true);
    expect(info).toMatchObject({
      operator: 'op',
      function_request_id: 'req-1',
      cold_start: true,
      shardId: SHARD,
      counts: { received: 1 },
    });
    expect(error).toMatchObject({ level: 'ERROR', cold_start: true, error: 'x' });
  });
});
