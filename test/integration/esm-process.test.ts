/**
 * Handlers in separate worker processes: event shape as received by the
 * handler, warm reuse, env, crash (from outside and inside) and timeout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import {
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
} from '../../lib/runtime/local/esm/index.ts';
import { createStream, put, range, record } from '../fixtures/handlers/esm-kit.ts';

const fixture = useLocalAws();
const HANDLER = 'test/fixtures/handlers/recording-handler.ts#handler';

interface Line {
  pid: number;
  loadedAt: number;
  awsRequestId: string;
  functionName: string;
  remainingMs: number;
  env: Record<string, string | undefined>;
  raw: string;
}

let dir = '';
const cleanups: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weir-esm-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function lines(): Line[] {
  const file = join(dir, 'invocations.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function setup(
  stream: string,
  opts: { sleepMs?: number; timeoutMs?: number; batchSize?: number } = {},
) {
  const invoker = new ProcessHandlerInvoker({
    handler: HANDLER,
    functionName: 'recorder',
    env: {
      ...fixture.aws.env(),
      WEIR_TEST_DIR: dir,
      WEIR_TEST_VAR: 'hello',
      WEIR_TEST_SLEEP_MS: String(opts.sleepMs ?? 0),
    },
  });
  const esm = new LocalEventSourceMapping({
    kinesis: fixture.clients.kinesis,
    streamName: stream,
    invoker,
    functionName: 'recorder',
    settings: {
      batchSize: opts.batchSize ?? 5,
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: 3,
    },
    functionTimeoutMs: opts.timeoutMs ?? 10_000,
    pollIntervalMs: 50,
    shardDiscoveryIntervalMs: 100,
    retryDelayMs: 0,
  });
  cleanups.push(async () => {
    await esm.stop();
    await invoker.close();
  });
  await esm.start();
  return { invoker, esm };
}

describe('ProcessHandlerInvoker behind the local ESM', () => {
  it('delivers the exact Lambda event to a handler in another process, with a Lambda-like context and env', async () => {
    const stream = uniqueName('esm-shape');
    await createStream(fixture.clients.kinesis, stream, 1);
    const payloads = [
      Buffer.from('{"click":1}'),
      Buffer.from([0, 1, 2, 250, 255]),
      Buffer.from('é ✓'),
    ];
    const seqs: string[] = [];
    for (const p of payloads)
      seqs.push(...(await put(fixture.clients.kinesis, stream, [p.toString('latin1')])));
    // Read what Kinesis stores, to compare field by field.
    const it0 = await fixture.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const stored =
      (
        await fixture.clients.kinesis.send(
          new GetRecordsCommand({ ShardIterator: it0.ShardIterator }),
        )
      ).Records ?? [];
    const { esm } = await setup(stream, { batchSize: 10 });
    const events = record(esm);
    await esm.waitUntilIdle({ timeoutMs: 20_000 });
    const [line] = lines();
    expect(line).toBeDefined();
    const event = JSON.parse(line?.raw ?? '{}') as KinesisStreamEvent;
    expect(event.Records).toHaveLength(3);
    for (const [i, r] of event.Records.entries()) {
      const s = stored[i];
      expect(Object.keys(r)).toEqual([
        'kinesis',
        'eventSource',
        'eventVersion',
        'eventID',
        'eventName',
        'invokeIdentityArn',
        'awsRegion',
        'eventSourceARN',
      ]);
      expect(Object.keys(r.kinesis)).toEqual([
        'kinesisSchemaVersion',
        'partitionKey',
        'sequenceNumber',
        'data',
        'approximateArrivalTimestamp',
      ]);
      expect(r).toEqual({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: s?.PartitionKey,
          sequenceNumber: seqs[i],
          data: Buffer.from(s?.Data ?? []).toString('base64'),
          approximateArrivalTimestamp: (s?.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-000000000000:${seqs[i]}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/weir-local-esm',
        awsRegion: 'us-east-1',
        eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
      });
      // base64 round trip: the handler gets back exactly the bytes that were put.
      expect(Buffer.from(r.kinesis.data, 'base64')).toEqual(
        Buffer.from(payloads[i]?.toString('latin1') ?? ''),
      );
      // Seconds with a millisecond fraction, not milliseconds.
      expect(r.kinesis.approximateArrivalTimestamp).toBeGreaterThan(1e9);
      expect(r.kinesis.approximateArrivalTimestamp).toBeLessThan(1e10);
    }
    const start = events.find((e) => e.type === 'batch-start');
    expect(line?.awsRequestId).toBe(start?.type === 'batch-start' ? start.requestId : 'missing');
    expect(line?.functionName).toBe('recorder');
    expect(line?.remainingMs).toBeGreaterThan(0);
    expect(line?.remainingMs).toBeLessThanOrEqual(10_000);
    expect(line?.env).toEqual({
      WEIR_TEST_VAR: 'hello',
      AWS_ENDPOINT_URL_KINESIS: fixture.aws.endpoints.kinesis,
    });
  });

  it('reuses one warm worker across invocations (module imported once)', async () => {
    const stream = uniqueName('esm-warm');
    await createStream(fixture.clients.kinesis, stream, 1);
    await put(fixture.clients.kinesis, stream, range(15));
    const { esm, invoker } = await setup(stream, { batchSize: 5 });
    await esm.waitUntilIdle({ timeoutMs: 20_000 });
    const ls = lines();
    expect(ls).toHaveLength(3);
    expect(new Set(ls.map((l) => l.pid)).size).toBe(1);
    expect(new Set(ls.map((l) => l.loadedAt)).size).toBe(1);
    expect(invoker.stats().coldStarts).toBe(1);
  });

  it('kill -9 of the worker mid-batch: the batch is retried in a new worker and processed; no worker survives close()', async () => {
    const stream = uniqueName('esm-kill');
    await createStream(fixture.clients.kinesis, stream, 1);
    const seqs = await put(fixture.clients.kinesis, stream, range(10));
    const { esm, invoker } = await setup(stream, { sleepMs: 300, batchSize: 10 });
    invoker.killDuringNextInvocation({ afterMs: 100 });
    const events = record(esm);
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    const errors = events.filter((e) => e.type === 'batch-error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.type === 'batch-error' && errors[0].outcome.kind).toBe('crash');
    const ls = lines();
    expect(ls).toHaveLength(1);
    expect(
      (JSON.parse(ls[0]?.raw ?? '{}') as KinesisStreamEvent).Records.map(
        (r) => r.kinesis.sequenceNumber,
      ),
    ).toEqual(seqs);
    expect(invoker.stats()).toMatchObject({ coldStarts: 2, crashes: 1 });
    const pids = invoker.workerPids();
    expect(pids).toHaveLength(1);
    await esm.stop();
    await invoker.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('process.exit inside the handler is a crash: retried in a fresh worker', async () => {
    const stream = uniqueName('esm-exit');
    await createStream(fixture.clients.kinesis, stream, 1);
    writeFileSync(join(dir, 'exit-once'), '');
    await put(fixture.clients.kinesis, stream, range(3));
    const { esm, invoker } = await setup(stream);
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect(lines()).toHaveLength(1);
    expect(invoker.stats()).toMatchObject({ crashes: 1, coldStarts: 2 });
  });

  it('a handler past its timeout is killed with its worker and the batch retried', async () => {
    const stream = uniqueName('esm-timeout');
    await createStream(fixture.clients.kinesis, stream, 1);
    writeFileSync(join(dir, 'hang-once'), '');
    await put(fixture.clients.kinesis, stream, range(3));
    const { esm, invoker } = await setup(stream, { timeoutMs: 800 });
    const events = record(esm);
    let hungPid: number | undefined;
    esm.on((e) => {
      if (e.type === 'batch-start' && hungPid === undefined) hungPid = invoker.workerPids()[0];
    });
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    const errors = events.filter((e) => e.type === 'batch-error');
    expect(errors.map((e) => (e.type === 'batch-error' ? e.outcome.kind : ''))).toEqual([
      'timeout',
    ]);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]?.pid).not.toBe(hungPid);
    expect(hungPid !== undefined && isAlive(hungPid)).toBe(false);
    expect(invoker.stats()).toMatchObject({ timeouts: 1, coldStarts: 2 });
  });
});
