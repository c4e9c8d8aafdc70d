/**
 * LocalMappingControl on the embedded Kinesis: pause returns only after the
 * running batch has returned, a paused mapping delivers no batch while
 * records arrive, and resume continues each shard from its committed
 * position (every record once, in order, none skipped).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
} from '../../lib/runtime/local/esm/index.ts';
import { LocalMappingControl } from '../../lib/runtime/local/mapping-control.ts';
import { createStream, put, range, sleep } from '../fixtures/handlers/esm-kit.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fixture = useLocalAws();
const running: LocalEventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

const dataOf = (e: KinesisStreamEvent): string[] =>
  e.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString());

describe('LocalMappingControl (embedded Kinesis)', () => {
  it('GIVEN a running batch WHEN paused THEN pause returns after it; WHILE paused no batch is delivered; WHEN resumed THEN delivery continues from the committed position', async () => {
    const stream = uniqueName('pause');
    await createStream(fixture.clients.kinesis, stream, 1);
    const delivered: string[] = [];
    let entered: () => void = () => undefined;
    const enteredSlow = new Promise<void>((r) => (entered = r));
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let slowReturned = false;
    const esm = new LocalEventSourceMapping({
      kinesis: fixture.clients.kinesis,
      streamName: stream,
      invoker: new InProcessHandlerInvoker(async (event: KinesisStreamEvent) => {
        const data = dataOf(event);
        if (data.includes('slow')) {
          entered();
          await released;
          slowReturned = true;
        }
        delivered.push(...data);
        return { batchItemFailures: [] };
      }),
      settings: { startingPosition: 'TRIM_HORIZON', batchSize: 10 },
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 100,
    });
    running.push(esm);
    await esm.start();
    const control = new LocalMappingControl(esm);

    await put(fixture.clients.kinesis, stream, range(5, 'a'));
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect(delivered).toEqual(range(5, 'a'));

    // A batch is running when the pause is asked for: pause resolves only once it has returned.
    await put(fixture.clients.kinesis, stream, ['slow']);
    await enteredSlow;
    const paused = control.pause().then(() => slowReturned);
    release();
    expect(await paused).toBe(true);
    const invocations = esm.stats().invocations;

    // Paused: records arrive, nothing is delivered (observed over 20 poll intervals).
    await put(fixture.clients.kinesis, stream, range(3, 'c'));
    await sleep(1000);
    expect(esm.stats().invocations).toBe(invocations);
    expect(delivered).toEqual([...range(5, 'a'), 'slow']);

    // Resumed: from after the committed position, each record once.
    await control.resume();
    await esm.waitUntilIdle({ timeoutMs: 30_000 });
    expect(delivered).toEqual([...range(5, 'a'), 'slow', ...range(3, 'c')]);
  }, 90_000);
});
