/**
 * `weir restore --function-name F` with the pause, run in process through
 * `main` with the real SDK over HTTP: the embedded AWS for the stream, the
 * tables and the checkpoints, and a fake of the Lambda API for the event
 * source mapping (test/helpers/fake-lambda-api.ts: Lambda's paths, JSON and
 * error headers; a mapping goes Enabled ─► Disabling ─► Disabled over a few
 * polls, and back through Enabling).
 *
 *   weir restore ─ LambdaClient ─► AWS_ENDPOINT_URL_LAMBDA = FakeLambdaApi   (List, Get, Update)
 *                ─ S3, DynamoDB, Kinesis clients ─► embedded AWS
 *   journal: the fake's answers and the restore's progress lines, in the order they happened
 *
 * Cases: a restore that pauses (the state untouched until Lambda reports
 * Disabled), replays and resumes (exit 0); a mapping that stays Disabling
 * past the CLI's wait (exit 1, nothing touched; the wait is 5 minutes and no
 * option shortens it, so the test moves `Date.now` on by 150 s at each poll
 * of the stuck mapping); a missing mapping, by function and by UUID (exit 1,
 * the function or the mapping named). Then the Lambda calls the fake recorded
 * are checked against `WeirOperator.grantRestore`'s Lambda grants both ways,
 * so a new Lambda call in `weir restore` fails here.
 */
import { randomUUID } from 'node:crypto';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { synthesizeTemplate } from '../../cdk/synthesize.ts';
import { WeirDemoStack } from '../../cdk/stacks/weir-demo-stack.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { shardId } from '../../lib/model/position.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import { buildKinesisEvent } from '../../lib/runtime/local/esm/index.ts';
import type { LocalResources } from '../../lib/runtime/local/local-resources.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/provision.ts';
import {
  FakeLambdaApi,
  type FakeLambdaApiOptions,
  type LambdaRequest,
} from '../helpers/fake-lambda-api.ts';
import { grantsOfRole, type TemplateJson } from '../helpers/iam-policy.ts';
import { checkRole, type Use } from '../helpers/iam-usage.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { runWeir, type WeirRun } from '../helpers/run-weir.ts';

const fx = useLocalAws();
const OP = 'click-counter';
const PIPELINE = 'functions/click-counter/pipeline.ts';
/** The operator function's name in the fake (any name: weir finds the mapping by it). */
const FN = 'weir-demo-click-counter';
const T = Date.UTC(2026, 0, 1);

interface World {
  readonly cfn: TemplateJson;
  readonly resources: LocalResources;
  readonly env: Record<string, string>;
  readonly streamArn: string;
}
let world: World | undefined;
const fakes: FakeLambdaApi[] = [];
/** Every Lambda request of every case, for the grant check. */
const recorded: LambdaRequest[] = [];
/** The ARNs of the operator's mapping (the one from its stream to FN) in each case's fake. */
const operatorMappings = new Set<string>();

afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

/** The state table, every item, in a stable order. */
async function scanState(): Promise<string[]> {
  const out = await fx.clients.documentClient.send(
    new ScanCommand({ TableName: world!.env['WEIR_STATE_TABLE'], ConsistentRead: true }),
  );
  return (out.Items ?? []).map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

/** Runs `weir <argv>` in process; each stderr line also goes to `journal` as it is written. */
function weir(env: Record<string, string>, journal: string[], ...argv: string[]): Promise<WeirRun> {
  return runWeir(env, argv, (s) => {
    for (const line of s.split('\n')) {
      const phase = /^restore: (\w+)/.exec(line)?.[1];
      if (phase !== undefined) journal.push(`phase ${phase}`);
    }
  });
}

/** A fake Lambda API whose answers go to `journal` (`Get Disabling`, `Update false -> Disabling`, ...). */
async function fakeLambda(
  journal: string[],
  options: Omit<FakeLambdaApiOptions, 'region' | 'beforeReply'>,
  beforeReply?: (r: LambdaRequest) => Promise<void>,
): Promise<FakeLambdaApi> {
  const api = await FakeLambdaApi.start({
    ...options,
    region: fx.aws.region,
    beforeReply: async (r) => {
      recorded.push(r);
      const op = r.operation.replace(/EventSourceMappings?$/, '');
      const enabled =
        r.operation === 'UpdateEventSourceMapping' ? ` ${String(r.input['Enabled'])} ->` : '';
      journal.push(`${op}${enabled} ${r.state ?? r.errorType ?? r.status}`);
      await beforeReply?.(r);
    },
  });
  fakes.push(api);
  return api;
}

/** The restore command line with the given mapping flags. */
const restore = (...mapping: string[]) => [
  'restore',
  '--operator',
  OP,
  '--pipeline',
  PIPELINE,
  ...mapping,
];

describe('weir restore --function-name against a fake Lambda API (embedded AWS)', () => {
  beforeAll(async () => {
    const { aws, clients } = fx;
    const stackName = `RestoreLm${(process.pid % 10_000).toString(36)}${Date.now().toString(36).slice(-5)}`;
    const cfn = (await synthesizeTemplate(stackName, (app) => {
      const stack = new WeirDemoStack(app, stackName, {
        streamName: uniqueName('restore-lm'),
        shardCount: 1,
        onFailure: 's3',
      });
      stack.clickCounter.grantRestore(
        new iam.Role(stack, 'RestoreRole', { assumedBy: new iam.AccountRootPrincipal() }),
      );
    })) as TemplateJson & Awaited<ReturnType<typeof synthesizeTemplate>>;
    const resources = await provisionFromTemplate(cfn, clients, { stackName });
    const env = { ...aws.env(), ...resources.mappings[0]!.environment };
    const stream = resources.streams[0]!;
    world = { cfn, resources, env, streamArn: stream.arn };

    // Two batches through the operator's handler, a checkpoint between them: the state has a
    // window and progress that the restore replaces.
    const { handler } = createLambdaHandlers(clickCounter, lambdaConfigFromEnv(env), {
      log: () => undefined,
      metricsOutput: () => undefined,
    });
    const applyBatch = async (ts: readonly number[]) => {
      const data = ts.map((t) => JSON.stringify({ page: '/p', user: 'u', ts: t }));
      const put = await clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: stream.name,
          Records: data.map((d) => ({ Data: Buffer.from(d), PartitionKey: 'p' })),
        }),
      );
      const records = (put.Records ?? []).map((r, i) => ({
        SequenceNumber: r.SequenceNumber ?? '',
        PartitionKey: 'p',
        Data: Buffer.from(data[i] ?? ''),
        ApproximateArrivalTimestamp: new Date(),
      }));
      const out = await handler(
        buildKinesisEvent(records, {
          shardId: shardId(put.Records?.[0]?.ShardId ?? ''),
          streamArn: stream.arn,
          awsRegion: aws.region,
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/x',
        }),
      );
      expect(out.batchItemFailures).toEqual([]);
    };
    await applyBatch([T + 200_000]);
    const taken = await weir(env, [], 'checkpoint', '--operator', OP);
    expect(taken.code, taken.err).toBe(0);
    await applyBatch([T + 210_000, T + 220_000]);
  }, 60_000);

  it('GIVEN an Enabled mapping WHEN `weir restore --function-name F` runs THEN it finds the mapping, disables it and waits for Disabled before touching the state, restores and replays, enables it and waits for Enabled (exit 0)', async () => {
    const { env, streamArn } = world!;
    const journal: string[] = [];
    const before = await scanState();
    const duringPause: string[][] = [];
    const lambda = await fakeLambda(
      journal,
      {
        mappings: [
          { functionName: FN, eventSourceArn: streamArn },
          // The same stream to another function, and another stream to F: not the operator's.
          { functionName: 'another-consumer', eventSourceArn: streamArn },
          { functionName: FN, eventSourceArn: `${streamArn}-other` },
        ],
      },
      async () => {
        // Until the restore reports its next phase, the state must be as it was.
        if (!journal.includes('phase checking')) duringPause.push(await scanState());
      },
    );
    const [uuid] = lambda.uuids();
    operatorMappings.add(lambda.mappingArn(uuid!));

    const r = await weir(
      { ...env, ...lambda.endpointEnv() },
      journal,
      ...restore('--function-name', FN),
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    expect(journal).toEqual([
      'List 200',
      'phase pausing',
      'Get Enabled',
      'Update false -> Disabling',
      'Get Disabling',
      'Get Disabling',
      'Get Disabled',
      'phase checking',
      'phase restoring',
      'phase replaying',
      'phase firing',
      'phase retracting',
      'phase resuming',
      'Get Disabled',
      'Update true -> Enabling',
      'Get Enabling',
      'Get Enabling',
      'Get Enabled',
      'phase done',
    ]);
    expect(
      lambda
        .requests()
        .filter((q) => q.operation !== 'ListEventSourceMappings')
        .map((q) => q.resource),
    ).toEqual(Array(10).fill(lambda.mappingArn(uuid!)));
    expect(lambda.requests()[0]!.input).toEqual({ FunctionName: FN, EventSourceArn: streamArn });
    expect(lambda.state(uuid!)).toBe('Enabled');
    expect(lambda.hookErrors()).toEqual([]);
    // The state was untouched through the pause (List, Get, Update, Get x3), and the restore changed it.
    expect(duringPause).toHaveLength(6);
    for (const scan of duringPause) expect(scan).toEqual(before);
    expect(await scanState()).not.toEqual(before);
    const summary = JSON.parse(r.out) as {
      paused: boolean;
      generation: number;
      replay: { inState: number; skipped: number };
    };
    expect(summary).toMatchObject({
      paused: true,
      generation: 1,
      replay: { inState: 2, skipped: 1 },
    });
  }, 60_000);

  it('GIVEN a mapping that stays Disabling WHEN `weir restore --function-name F` waits past its bound THEN it exits 1 naming the mapping and its last state, and the state is untouched', async () => {
    const { env, streamArn } = world!;
    const journal: string[] = [];
    const before = await scanState();
    // The CLI waits up to 5 minutes (LambdaMappingControl's default; no option or variable
    // shortens it): each poll of the stuck mapping is answered as if 150 s had passed.
    const realNow = Date.now.bind(Date);
    let skew = 0;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew);
    const lambda = await fakeLambda(
      journal,
      { mappings: [{ functionName: FN, eventSourceArn: streamArn }] },
      (q) => {
        if (q.operation === 'GetEventSourceMapping' && q.state === 'Disabling') skew += 150_000;
        return Promise.resolve();
      },
    );
    const [uuid] = lambda.uuids();
    operatorMappings.add(lambda.mappingArn(uuid!));
    lambda.hold(uuid!);
    let r: Awaited<ReturnType<typeof weir>>;
    try {
      r = await weir(
        { ...env, ...lambda.endpointEnv() },
        journal,
        ...restore('--function-name', FN),
      );
    } finally {
      now.mockRestore();
    }
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `MappingStateTimeoutError: event source mapping ${uuid} did not report Disabled within \\d+ ms \\(last state: Disabling\\)`,
      ),
    );
    expect(r.err).toContain(`aws lambda get-event-source-mapping --uuid ${uuid}`);
    // A RestoreFailedError: the state is untouched, and how to resume unchanged is printed.
    expect(r.err).toContain('failed while pausing');
    expect(r.err).toMatch(/the state is untouched\.\nNext: .*resume the mapping unchanged: /);
    expect(journal).toEqual([
      'List 200',
      'phase pausing',
      'Get Enabled',
      'Update false -> Disabling',
      'Get Disabling',
      'Get Disabling',
    ]);
    expect(lambda.state(uuid!)).toBe('Disabling');
    expect(await scanState()).toEqual(before);
  }, 60_000);

  it('GIVEN no mapping from the stream to F, two of them, or an unknown UUID WHEN `weir restore` runs THEN it exits 1 before pausing anything: the function (or the UUID, with the ResourceNotFoundException Lambda answered) is named', async () => {
    const { env, streamArn } = world!;
    const before = await scanState();
    const journal: string[] = [];
    const lambda = await fakeLambda(journal, {
      mappings: [
        { functionName: FN, eventSourceArn: `${streamArn}-other` },
        { functionName: 'twice', eventSourceArn: streamArn },
        { functionName: 'twice', eventSourceArn: streamArn },
      ],
      pageSize: 1, // the two mappings of 'twice' come on two pages
    });
    const lambdaEnv = { ...env, ...lambda.endpointEnv() };

    const none = await weir(lambdaEnv, journal, ...restore('--function-name', FN));
    expect(none.code).toBe(1);
    expect(none.err).toContain(
      `event source mapping of function ${FN}: none reads ${streamArn}; check --function-name, or name the mapping with --mapping-uuid`,
    );

    const two = await weir(lambdaEnv, journal, ...restore('--function-name', 'twice'));
    expect(two.code).toBe(1);
    const [, u1, u2] = lambda.uuids();
    expect(two.err).toContain(
      `event source mapping of function twice: 2 of them read ${streamArn} (${u1}, ${u2}); name one with --mapping-uuid`,
    );

    const unknown = randomUUID();
    const gone = await weir(lambdaEnv, journal, ...restore('--mapping-uuid', unknown));
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(
      `event source mapping ${unknown}: disabling failed: ResourceNotFoundException: The resource you requested does not exist.`,
    );

    expect(journal).toEqual([
      'List 200',
      'List 200',
      'List 200',
      'phase pausing',
      'Get ResourceNotFoundException',
    ]);
    expect(lambda.requests().map((q) => [q.operation, q.input['Marker'] === undefined])).toEqual([
      ['ListEventSourceMappings', true],
      ['ListEventSourceMappings', true],
      ['ListEventSourceMappings', false],
      ['GetEventSourceMapping', true],
    ]);
    expect(lambda.requests()[3]).toMatchObject({
      status: 404,
      resource: lambda.mappingArn(unknown),
    });
    expect(await scanState()).toEqual(before);
  }, 60_000);

  it('GIVEN the Lambda calls the restores made WHEN checked against grantRestore THEN each is granted and each Lambda grant was used', () => {
    const { cfn, resources } = world!;
    const mapping = resources.mappings[0]!;
    const role = Object.keys(cfn.Resources).find((id) => id.startsWith('RestoreRole'));
    if (role === undefined) throw new Error('no RestoreRole in the template');
    // The calls on the operator's mapping (its UUID is, in the template, the mapping's Ref), the
    // listings, and anything the fake does not know (rendered `?...`: never granted).
    const uses: Use[] = recorded
      .filter(
        (q) => q.resource === '*' || q.resource.startsWith('?') || operatorMappings.has(q.resource),
      )
      .map((q) => ({
        origin: 'restore (Lambda)',
        operation: q.operation,
        action: q.action,
        resource: operatorMappings.has(q.resource)
          ? `arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:event-source-mapping:<${mapping.logicalId}>`
          : q.resource,
      }));
    expect(new Set(recorded.map((q) => q.operation))).toEqual(
      new Set(['ListEventSourceMappings', 'GetEventSourceMapping', 'UpdateEventSourceMapping']),
    );
    const lambdaGrants = grantsOfRole(cfn, role).filter((g) => g.action.startsWith('lambda:'));
    expect(checkRole(lambdaGrants, uses, [])).toEqual({ missing: [], unused: [] });
  });
});
