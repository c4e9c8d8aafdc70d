/**
 * LambdaMappingControl against a real Lambda API: LocalStack's. Runs only
 * when AWS_ENDPOINT_URL is set (`npm run test:localstack`, docs/localstack.md);
 * the embedded tier has no Lambda, so without the variable the suite is
 * skipped and starts nothing.
 *
 * A function (a zip built here: one `index.mjs` answering no failures) and a
 * Kinesis event source mapping from a fresh stream are created; the control
 * pauses the mapping (returning once it reports Disabled), pauses it again
 * (at once), resumes it (Enabled); `findMappingUuid` finds it by function and
 * stream; a mapping that does not exist fails with MappingControlError. No
 * record is put: LocalStack never has to run the function in a container.
 */
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  DeleteEventSourceMappingCommand,
  DeleteFunctionCommand,
  GetEventSourceMappingCommand,
  LambdaClient,
  waitUntilFunctionActiveV2,
} from '@aws-sdk/client-lambda';
import { DeleteStreamCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAwsClients,
  endpointsFromEnv,
  type AwsClients,
} from '../../lib/adapters/aws-clients.ts';
import { LambdaMappingControl } from '../../lib/adapters/lambda/lambda-mapping-control.ts';
import { createStreamAndWait } from '../../lib/kinesis/index.ts';
import { MappingControlError } from '../../lib/ports/mapping-control.ts';
import { findMappingUuid } from '../../lib/runtime/restore/index.ts';
import { sleep } from '../../lib/util/sleep.ts';
import { uniqueName } from '../helpers/local-aws.ts';

/**
 * A zip archive of one file, stored (not compressed): the smallest package
 * Lambda accepts, without a zip library.
 */
function zipOneFile(name: string, content: string): Uint8Array {
  const file = Buffer.from(name);
  const data = Buffer.from(content);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); // local file header
  local.writeUInt16LE(20, 4); // version needed: 2.0
  local.writeUInt16LE(0x21, 12); // date: 1980-01-01
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); // compressed size (stored)
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(file.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); // central directory header
  central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0 (so the mode below counts)
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x21, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(file.length, 28);
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // -rw-r--r--
  central.writeUInt32LE(0, 42); // the local header's offset
  const centralOffset = local.length + file.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + file.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, file, data, central, file, end]);
}

const endpoint = process.env['AWS_ENDPOINT_URL'] ?? '';

describe.runIf(endpoint !== '')('LambdaMappingControl (LocalStack)', () => {
  const region = process.env['AWS_REGION'] ?? 'us-east-1';
  const credentials = {
    accessKeyId: process.env['AWS_ACCESS_KEY_ID'] ?? 'test',
    secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'] ?? 'test',
  };
  let clients: AwsClients;
  let lambda: LambdaClient;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeAll(() => {
    clients = createAwsClients({ region, endpoints: endpointsFromEnv(process.env), credentials });
    lambda = new LambdaClient({
      region,
      endpoint: process.env['AWS_ENDPOINT_URL_LAMBDA'] ?? endpoint,
      credentials,
    });
  });
  afterAll(async () => {
    for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
    lambda.destroy();
    clients.destroy();
  });

  /** A function and a mapping from a new one-shard stream to it, Enabled. */
  async function functionWithMapping(): Promise<{ fn: string; streamArn: string; uuid: string }> {
    const stream = uniqueName('esm-control');
    await createStreamAndWait(clients.kinesis, stream, 1);
    cleanup.push(() => clients.kinesis.send(new DeleteStreamCommand({ StreamName: stream })));
    const streamArn = (
      await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))
    ).StreamDescriptionSummary?.StreamARN as string;

    const fn = uniqueName('esm-control');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: fn,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        // LocalStack does not enforce IAM: any role ARN of the account's form is accepted.
        Role: 'arn:aws:iam::000000000000:role/weir-test-lambda',
        Code: {
          ZipFile: zipOneFile(
            'index.mjs',
            'export const handler = async () => ({ batchItemFailures: [] });\n',
          ),
        },
      }),
    );
    cleanup.push(() => lambda.send(new DeleteFunctionCommand({ FunctionName: fn })));
    await waitUntilFunctionActiveV2(
      { client: lambda, maxWaitTime: 120, minDelay: 1 },
      { FunctionName: fn },
    );

    const created = await lambda.send(
      new CreateEventSourceMappingCommand({
        FunctionName: fn,
        EventSourceArn: streamArn,
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10,
      }),
    );
    const uuid = created.UUID as string;
    cleanup.push(() => lambda.send(new DeleteEventSourceMappingCommand({ UUID: uuid })));
    for (let i = 0; i < 120; i++) {
      const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      if (m.State === 'Enabled') break;
      await sleep(500);
    }
    return { fn, streamArn, uuid };
  }

  it('GIVEN a Kinesis mapping WHEN paused, paused again and resumed THEN each call returns once the mapping reports Disabled, Disabled, Enabled; findMappingUuid finds it', async () => {
    const { fn, streamArn, uuid } = await functionWithMapping();
    expect(await findMappingUuid(lambda, fn, streamArn)).toBe(uuid);
    const control = new LambdaMappingControl({
      client: lambda,
      uuid,
      pollMs: 250,
      maxWaitMs: 60_000,
    });
    expect(await control.state()).toBe('Enabled');

    await control.pause();
    expect(await control.state()).toBe('Disabled');
    await control.pause(); // already Disabled: returns without an update
    expect(await control.state()).toBe('Disabled');

    await control.resume();
    expect(await control.state()).toBe('Enabled');
  }, 300_000);

  it('GIVEN a mapping UUID that does not exist WHEN paused or resumed THEN MappingControlError names it and the cause, without waiting out maxWaitMs', async () => {
    const uuid = randomUUID();
    const control = new LambdaMappingControl({
      client: lambda,
      uuid,
      pollMs: 250,
      maxWaitMs: 60_000,
    });
    const paused = await control.pause().catch((e: unknown) => e);
    expect(paused).toBeInstanceOf(MappingControlError);
    expect(paused).toMatchObject({ mapping: uuid });
    expect((paused as Error).message).toMatch(/disabling failed: ResourceNotFoundException/);
    const resumed = await control.resume().catch((e: unknown) => e);
    expect(resumed).toBeInstanceOf(MappingControlError);
    expect((resumed as Error).message).toMatch(/enabling failed: ResourceNotFoundException/);
  }, 120_000);
});
