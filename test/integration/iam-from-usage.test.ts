/**
 * IAM from usage, proved. The emulators do not enforce IAM, so a missing grant
 * passes every local test and fails on AWS. This test records the AWS API
 * calls each function makes on the embedded AWS and checks them against the
 * roles of the synthesized demo stack, both ways:
 *
 *   - every recorded (action, resource) is allowed by that function's role;
 *   - every granted (action, resource) was recorded, or is on
 *     {@link NOT_REACHED} with the reason the scenarios cannot reach it.
 *
 * Each function talks to the emulators only through its own recording proxy
 * (test/helpers/aws-recording-proxy.ts):
 *
 *   handler workers (functions/click-counter/handler.ts) ─► proxy "handler" ─┐
 *   session-window handler (in-process, same role)      ─► proxy "handler" ─┤
 *   local ESM: Kinesis reads, S3 on-failure records      ─► proxy "esm"     ─┼─► kinesalite, DynamoDB Local, s3rver
 *   ticker (in-process, clock moved by the test)         ─► proxy "ticker"  ─┤
 *   checkpointer (in-process, clock moved by the test)   ─► proxy "checkpointer" ─┘
 *
 * Lambda's event source mapping calls Kinesis and the on-failure destination
 * with the function's role, so the "esm" calls are checked against the
 * operator function's role too.
 *
 * Scenarios, so that every code path with an AWS call of its own runs:
 * batches with dead letters and late data, firing and purging at batch end,
 * shard registration at cold start and by ticks, a batch the ESM gives up on
 * (on-failure record), a result write that fails (outbox, re-driven by a
 * tick), lost conditional writes (the reads that follow them), a reshard whose
 * parent the ticker closes, a backlogged shard the ticker keeps active, and
 * session windows that merge (transactions with deletes), and checkpoints:
 * one cut short by its deadline and resumed, then one more a checkpoint
 * interval later whose retention deletes the first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SplitShardCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clickCounter, type Click } from '../../functions/click-counter/pipeline.ts';
import { count, json, pipeline, seconds, session } from '../../lib/core/index.ts';
import { putRecords, type ProducerRecord } from '../../lib/kinesis/index.ts';
import type { Clock } from '../../lib/ports/clock.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import {
  checkpointerConfigFromEnv,
  createLambdaCheckpointer,
} from '../../lib/runtime/lambda/checkpointer.ts';
import {
  buildKinesisEvent,
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
} from '../../lib/runtime/local/esm/index.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/provision.ts';
import type { LocalResources } from '../../lib/runtime/local/local-resources.ts';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { createAwsClients } from '../../lib/adapters/aws-clients.ts';
import { AwsRecordingProxy, type RecordedCall } from '../helpers/aws-recording-proxy.ts';
import {
  grantsOfRole,
  roleOfFunction,
  weirFunctions,
  type Grant,
  type TemplateJson,
} from '../helpers/iam-policy.ts';
import { checkRole, renderUses, type Use } from '../helpers/iam-usage.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { openShards, waitActive } from '../fixtures/handlers/esm-kit.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MINUTE = 60_000;

/**
 * Grants the code needs but no scenario here can make it use, by role, each
 * with its reason. An entry names an action and the exact resource pattern
 * of the grant, as rendered from the template.
 */
type Role = 'handler' | 'ticker' | 'checkpointer';
type Origin = 'handler' | 'esm' | 'ticker' | 'checkpointer';
const ORIGINS: readonly Origin[] = ['handler', 'esm', 'ticker', 'checkpointer'];

const NOT_REACHED: Readonly<
  Record<Role, readonly { action: string; resource: RegExp; reason: string }[]>
> = {
  handler: [
    {
      action: 'logs:CreateLogStream',
      resource: /^<ClickCounterLogGroup[0-9A-F]{8}\.Arn>$/,
      reason:
        "Lambda's runtime writes the function's output to its log group with the role; no SDK call of the code does",
    },
    {
      action: 'logs:PutLogEvents',
      resource: /^<ClickCounterLogGroup[0-9A-F]{8}\.Arn>$/,
      reason:
        "Lambda's runtime writes the function's output to its log group with the role; no SDK call of the code does",
    },
    {
      action: 'kinesis:DescribeStream',
      resource: /^<[A-Za-z0-9]+\.Arn>$/,
      reason:
        "Lambda's event source mapping reads the stream with the function's role and AWS lists DescribeStream among the permissions it needs; weir's local ESM uses DescribeStreamSummary and ListShards instead",
    },
    {
      action: 's3:ListBucket',
      resource: /^<ClickCounterFailureBucket[0-9A-F]{8}\.Arn>$/,
      reason:
        "AWS documents s3:ListBucket (with s3:PutObject) for an S3 on-failure destination of a stream event source mapping; weir's local ESM writes the object without listing",
    },
  ],
  ticker: [
    {
      action: 'logs:CreateLogStream',
      resource: /^<ClickCounterTickerLogGroup[0-9A-F]{8}\.Arn>$/,
      reason: "Lambda's runtime writes the ticker's output to its log group with the role",
    },
    {
      action: 'logs:PutLogEvents',
      resource: /^<ClickCounterTickerLogGroup[0-9A-F]{8}\.Arn>$/,
      reason: "Lambda's runtime writes the ticker's output to its log group with the role",
    },
  ],
  checkpointer: [
    {
      action: 'logs:CreateLogStream',
      resource: /^<ClickCounterCheckpointLogGroup[0-9A-F]{8}\.Arn>$/,
      reason: "Lambda's runtime writes the checkpointer's output to its log group with the role",
    },
    {
      action: 'logs:PutLogEvents',
      resource: /^<ClickCounterCheckpointLogGroup[0-9A-F]{8}\.Arn>$/,
      reason: "Lambda's runtime writes the checkpointer's output to its log group with the role",
    },
  ],
};

/**
 * SDK commands the adapters construct that no scenario reaches, with the
 * reason (each is authorized by an action that other calls do record).
 */
const COMMANDS_NOT_REACHED: Readonly<Record<string, string>> = {
  DeleteItemCommand:
    'DynamoDbStateStore deletes a lone window item only for a write group of one delete; the core deletes windows only in session merges, which always put the merged window in the same group (a TransactWriteItems, recorded as dynamodb:DeleteItem)',
};

/** The adapters `createLambdaHandlers` wires: every SDK command they construct must be called by some scenario. */
const LAMBDA_ADAPTERS = [
  'lib/adapters/dynamodb/dynamodb-state-store.ts',
  'lib/adapters/dynamodb/dynamodb-result-sink.ts',
  'lib/adapters/s3/s3-sink.ts',
  'lib/adapters/s3/s3-dead-letter.ts',
  'lib/adapters/kinesis/kinesis-shard-directory.ts',
  'lib/adapters/s3/s3-checkpoint-store.ts',
];

const fixture = useLocalAws();
const say = console.log.bind(console);

let template: TemplateJson;
let resources: LocalResources;
const proxies: Partial<Record<Origin, AwsRecordingProxy>> = {};

/** Uses of one origin, rendered against the template's logical ids. */
function usesOf(origin: Origin): Use[] {
  return renderUses(origin, proxies[origin]?.calls() ?? [], resources);
}

function roleGrants(which: Role, t: TemplateJson = template): Grant[] {
  return grantsOfRole(t, roleOfFunction(t, weirFunctions(t)[which]));
}

/** A test-armed fault: answer the next `count` calls matching `when` with `errorType`. */
interface Fault {
  readonly when: (operation: string, input: Readonly<Record<string, unknown>>) => boolean;
  readonly errorType: string;
  remaining: number;
}
function faultHook(faults: Fault[]) {
  return (operation: string, input: Readonly<Record<string, unknown>>): string | undefined => {
    const f = faults.find((x) => x.remaining > 0 && x.when(operation, input));
    if (f === undefined) return undefined;
    f.remaining -= 1;
    return f.errorType;
  };
}
const itemSk = (input: Readonly<Record<string, unknown>>): string =>
  (input['Item'] as Record<string, { S?: string }> | undefined)?.['sk']?.S ?? '';

beforeAll(async () => {
  // The in-process ticker and handler log a JSON line per tick and batch.
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('{"level":"INFO"')) return;
    say(...args);
  });
  const { aws, clients } = fixture;
  const stackName = `Iam${(process.pid % 10_000).toString(36)}${Date.now().toString(36).slice(-5)}`;
  const streamName = uniqueName('iam');
  // The embedded tier has no SQS: the on-failure destination is the S3 bucket (the SQS and SNS grants are pinned by test/cdk).
  const cfn = await loadDemoTemplate({
    stackName,
    streamName,
    shardCount: 2,
    onFailure: 's3',
    eventSourceMapping: { batchSize: 25 },
  });
  template = cfn;
  resources = await provisionFromTemplate(cfn, clients, { stackName });
  const mapping = resources.mappings[0]!;
  const tickerDef = resources.tickers[0]!;
  const stateTable = mapping.environment['WEIR_STATE_TABLE']!;
  const resultsTable = mapping.environment['WEIR_RESULTS_TABLE']!;

  const handlerFaults: Fault[] = [];
  const tickerFaults: Fault[] = [];
  const targets = aws.endpoints;
  proxies.handler = await AwsRecordingProxy.start({
    name: 'handler',
    targets,
    fail: faultHook(handlerFaults),
  });
  proxies.esm = await AwsRecordingProxy.start({ name: 'esm', targets });
  proxies.ticker = await AwsRecordingProxy.start({
    name: 'ticker',
    targets,
    fail: faultHook(tickerFaults),
  });
  proxies.checkpointer = await AwsRecordingProxy.start({ name: 'checkpointer', targets });

  const handlerEnv = { ...aws.env(), ...mapping.environment, ...proxies.handler.endpointEnv() };
  const invoker = new ProcessHandlerInvoker({
    handler: `${mapping.handlerEntry}#${mapping.handlerExport}`,
    env: handlerEnv,
    cwd: ROOT,
    functionName: mapping.functionLogicalId,
    onLog: () => undefined,
  });
  const esmClients = createAwsClients({
    region: aws.region,
    credentials: aws.credentials,
    endpoints: { kinesis: proxies.esm.url, s3: proxies.esm.url },
  });
  const startEsm = async (): Promise<LocalEventSourceMapping> => {
    const esm = new LocalEventSourceMapping({
      kinesis: esmClients.kinesis,
      streamName: mapping.streamName,
      invoker,
      // No retries: a crashed batch goes to the on-failure destination at once.
      settings: { ...mapping.settings, maximumRetryAttempts: 0, bisectBatchOnFunctionError: false },
      onFailure: new S3OnFailureDestination({
        client: esmClients.s3,
        bucket: mapping.onFailure!.name,
      }),
      functionName: mapping.functionLogicalId,
      pollIntervalMs: 100,
      shardDiscoveryIntervalMs: 200,
    });
    await esm.start();
    return esm;
  };

  let offsetMs = 0;
  const tickerClock: Clock = { now: () => Date.now() + offsetMs };
  const ticker = createLambdaHandlers(
    clickCounter,
    lambdaConfigFromEnv({
      ...aws.env(),
      ...tickerDef.environment,
      ...proxies.ticker.endpointEnv(),
    }),
    { clock: tickerClock, log: () => undefined },
  ).ticker;

  const base = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;
  const click = (i: number, dt: number): ProducerRecord => ({
    data: JSON.stringify({ page: `/p/${i % 5}`, user: `u${i}`, ts: base + dt } satisfies Click),
    partitionKey: `u${i}`,
  });
  const produce = (records: readonly ProducerRecord[]) =>
    putRecords(clients.kinesis, mapping.streamName, records, { concurrency: 1 });

  const esm = await startEsm();
  try {
    // 1. Batches: registration at cold start, state, firing and purging at batch end, dead letters.
    //    The first progress write loses its condition (the store reads the item and retries); the
    //    first result write fails (the result stays in the outbox for a tick to re-drive); the
    //    second loses its condition without the old item, as dynalite answers (the sink reads it).
    const results = (op: string, input: Readonly<Record<string, unknown>>): boolean =>
      op === 'PutItem' && input['TableName'] === resultsTable;
    handlerFaults.push(
      {
        when: (op, input) =>
          op === 'PutItem' && input['TableName'] === stateTable && itemSk(input).startsWith('P#'),
        errorType: 'ConditionalCheckFailedException',
        remaining: 1,
      },
      { when: results, errorType: 'ValidationException', remaining: 1 },
    );
    const main: ProducerRecord[] = [];
    for (let i = 0; i < 240; i++) main.push(click(i, Math.floor((i / 240) * 4 * MINUTE)));
    main.splice(60, 0, { data: 'not json at all', partitionKey: 'bad-1' });
    main.splice(120, 0, {
      data: JSON.stringify({ page: '/p/0', user: 'x' }),
      partitionKey: 'bad-2',
    });
    await produce(main.slice(0, 150));
    await esm.waitUntilIdle({ timeoutMs: 120_000 });
    handlerFaults.push({
      when: results,
      errorType: 'ConditionalCheckFailedException',
      remaining: 1,
    });
    await produce(main.slice(150));
    await esm.waitUntilIdle({ timeoutMs: 120_000 });
    // 2. Late data: the first minutes closed long ago.
    await produce([click(1000, 5_000), click(1001, 65_000)]);
    await esm.waitUntilIdle({ timeoutMs: 60_000 });

    // 3. A tick: registration (nothing new), the outbox re-drive of the failed result, whose write
    //    loses its condition without the old item: the sink reads it.
    tickerFaults.push({
      when: results,
      errorType: 'ConditionalCheckFailedException',
      remaining: 1,
    });
    const t1 = await ticker();
    say(`iam: tick 1 ${JSON.stringify(t1)}`);

    // 4. A reshard: the ESM reads the parent to its end, then a tick registers the children and
    //    closes the parent (end-of-shard check); that progress write loses its condition once.
    const [parent, other] = await openShards(clients.kinesis, mapping.streamName);
    await clients.kinesis.send(
      new SplitShardCommand({
        StreamName: mapping.streamName,
        ShardToSplit: parent!.id,
        NewStartingHashKey: ((parent!.start + parent!.end + 1n) / 2n).toString(),
      }),
    );
    await waitActive(clients.kinesis, mapping.streamName);
    await produce(Array.from({ length: 10 }, (_, i) => click(3000 + i, 4 * MINUTE + 10_000)));
    await esm.waitUntilIdle({ timeoutMs: 60_000 });
    tickerFaults.push({
      when: (op, input) =>
        op === 'PutItem' &&
        input['TableName'] === stateTable &&
        itemSk(input) === `P#${parent!.id}`,
      errorType: 'ConditionalCheckFailedException',
      remaining: 1,
    });
    // One minute later every shard is idle and nothing waits on any: idleAdvance moves the
    // watermark, and the tick fires and purges windows.
    offsetMs = MINUTE;
    const t2 = await ticker();
    say(`iam: tick 2 ${JSON.stringify(t2)}`);
    expect(t2.closedShards).toEqual([parent!.id]);
    // Closing the parent ticks inside the runtime; what that fires leaves through the outbox re-drive.
    expect(t2.watermark).toBeGreaterThan(t1.watermark);
    expect(t2.fired + t2.redriven).toBeGreaterThan(0);

    // 5. A batch the ESM gives up on (the function crashes, no retries): its range goes to the
    //    on-failure bucket, and its record stays after the shard's committed position.
    invoker.killDuringNextInvocation({ afterMs: 0 });
    await produce([
      { ...click(2000, 4 * MINUTE + 15_000), explicitHashKey: other!.start.toString() },
    ]);
    await esm.waitUntilIdle({ timeoutMs: 60_000 });
    say(`iam: ESM ${JSON.stringify({ ...esm.stats(), shards: undefined })}`);
    expect(esm.stats().failuresSent).toBe(1);

    // 6. That shard is backlogged: Lambda does not deliver its record. A tick past half the idle
    //    timeout finds it and refreshes the shard's last activity, so it is not judged idle.
    await esm.stop();
    offsetMs = 2 * MINUTE;
    const before = proxies.ticker.calls().length;
    const t3 = await ticker();
    say(`iam: tick 3 ${JSON.stringify(t3)}`);
    const refreshed = proxies.ticker
      .calls()
      .slice(before)
      .filter((c) => c.operation === 'PutItem' && itemSk(c.input ?? {}) === `P#${other!.id}`);
    expect(refreshed.length).toBeGreaterThan(0);
  } finally {
    await esm.stop();
    await invoker.close();
    esmClients.destroy();
  }

  // 7. The same runtime with a session-window pipeline (the construct serves any pipeline):
  //    sessions that touch merge, a transaction of deletes and a put. Its own operator name
  //    keeps its state apart; it writes nothing to S3.
  const sessions = pipeline('iam-sessions')
    .decode(json<{ user: string; ts: number }>())
    .keyBy((e) => e.user)
    .eventTime((e) => e.ts)
    .window(session(seconds(5)))
    .sideOutputLateData('late')
    .aggregate(count());
  const sessionHandler = createLambdaHandlers(
    sessions,
    lambdaConfigFromEnv({ ...handlerEnv, WEIR_OPERATOR: 'iam-sessions' }),
    { log: () => undefined },
  ).handler;
  const shardArn = resources.streams[0]!.arn;
  let seq = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
  const event = (times: readonly number[]): KinesisStreamEvent =>
    buildKinesisEvent(
      times.map((t) => {
        seq += 10n;
        return {
          SequenceNumber: String(seq),
          PartitionKey: 's',
          Data: Buffer.from(JSON.stringify({ user: 'session-user', ts: base + t })),
          ApproximateArrivalTimestamp: new Date(),
        };
      }),
      {
        shardId: 'shardId-000000000001',
        streamArn: shardArn,
        awsRegion: aws.region,
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/iam-sessions',
      },
    );
  await sessionHandler(event([0, 10_000]));
  const merged = await sessionHandler(event([5_000]));
  expect(merged.batchItemFailures).toEqual([]);

  // 8. Checkpoints, as the checkpoint function takes them: one cut short by its deadline (an
  //    invocation with no time left saves its cursors), resumed by the next call; one interval
  //    later another, after which retention (keep 1 here) deletes the first.
  const checkpointDef = resources.checkpointers[0]!;
  let checkpointOffsetMs = 0;
  const config = checkpointerConfigFromEnv({
    ...aws.env(),
    ...checkpointDef.environment,
    ...proxies.checkpointer.endpointEnv(),
  });
  const checkpointer = createLambdaCheckpointer(
    clickCounter,
    { ...config, schedule: { ...config.schedule, retain: 1 } },
    { clock: { now: () => Date.now() + checkpointOffsetMs }, log: () => undefined },
  );
  const cut = await checkpointer.checkpointer({}, { getRemainingTimeInMillis: () => 0 });
  expect(cut.run?.status).toBe('in-progress');
  const resumed = await checkpointer.checkpointer({});
  expect([resumed.action, resumed.run?.status, resumed.id]).toEqual([
    'resumed',
    'complete',
    cut.id,
  ]);
  checkpointOffsetMs = config.schedule.intervalMs;
  const next = await checkpointer.checkpointer({});
  expect(next.action).toBe('took');
  expect(next.retention?.deleted).toEqual([cut.id]);
  checkpointer.clients.destroy();
}, 400_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(Object.values(proxies).map((p) => p?.close()));
});

describe('IAM from usage (embedded AWS, recording proxies)', () => {
  it('GIVEN the recorded calls WHEN listed THEN every call was answered by the emulators or by an injected fault, and every resource is one of the template', () => {
    const lines = ORIGINS.map((o) => {
      const uses = usesOf(o);
      const distinct = [
        ...new Set(
          uses.map(
            (u) =>
              `${u.action} ${u.resource.replace(/(\.Arn>\/[^/]+\/[^/]+\/[^/]+\/).*/, '$1...')}`,
          ),
        ),
      ].sort();
      return `${o} (${proxies[o]?.calls().length} calls):\n    ${distinct.join('\n    ')}`;
    });
    say(`iam: recorded\n  ${lines.join('\n  ')}`);
    for (const o of ORIGINS) {
      const calls = proxies[o]!.calls();
      expect(calls.length).toBeGreaterThan(0);
      const unanswered = calls.filter((c: RecordedCall) => c.status === 0 || c.status === 502);
      expect(unanswered).toEqual([]);
      expect(usesOf(o).filter((u) => u.resource.startsWith('?'))).toEqual([]);
    }
  });

  it("GIVEN the operator function's role WHEN checked against what its code and its ESM called THEN nothing is missing and nothing unused is unexplained", () => {
    const result = checkRole(
      roleGrants('handler'),
      [...usesOf('handler'), ...usesOf('esm')],
      NOT_REACHED.handler,
    );
    expect(result).toEqual({ missing: [], unused: [] });
  });

  it("GIVEN the ticker's role WHEN checked against what the ticker called THEN nothing is missing and nothing unused is unexplained", () => {
    const result = checkRole(roleGrants('ticker'), usesOf('ticker'), NOT_REACHED.ticker);
    expect(result).toEqual({ missing: [], unused: [] });
  });

  it("GIVEN the checkpoint function's role WHEN checked against what the checkpointer called THEN nothing is missing and nothing unused is unexplained", () => {
    const result = checkRole(
      roleGrants('checkpointer'),
      usesOf('checkpointer'),
      NOT_REACHED.checkpointer,
    );
    expect(result).toEqual({ missing: [], unused: [] });
  });

  it('GIVEN the adapters the Lambda handlers wire WHEN their SDK commands are listed THEN each one was called by a scenario (or is explained)', () => {
    const constructed = new Set<string>();
    for (const file of LAMBDA_ADAPTERS) {
      const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
      for (const m of source.matchAll(/new (\w+)Command\(/g)) constructed.add(`${m[1]}Command`);
    }
    const called = new Set(
      (['handler', 'ticker', 'checkpointer'] as const).flatMap((o) =>
        proxies[o]!.calls().map((c) => `${c.operation}Command`),
      ),
    );
    const missing = [...constructed].filter((c) => !called.has(c) && !(c in COMMANDS_NOT_REACHED));
    expect(missing).toEqual([]);
    expect([...constructed].length).toBeGreaterThanOrEqual(10);
  });

  it('GIVEN a grant removed from the synthesized template WHEN checked THEN the call that needs it is reported missing', () => {
    const mutated = structuredClone(template) as TemplateJson & {
      Resources: Record<string, { Properties?: Record<string, unknown> }>;
    };
    const role = roleOfFunction(mutated, weirFunctions(mutated).ticker);
    for (const r of Object.values(mutated.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties?.['Roles']).includes(role))
        continue;
      const doc = r.Properties?.['PolicyDocument'] as {
        Statement: { Action: string | string[] }[];
      };
      for (const st of doc.Statement)
        st.Action = ([] as string[]).concat(st.Action).filter((a) => a !== 'kinesis:GetRecords');
    }
    const result = checkRole(roleGrants('ticker', mutated), usesOf('ticker'), NOT_REACHED.ticker);
    expect(result.unused).toEqual([]);
    expect(result.missing.length).toBeGreaterThan(0);
    expect(result.missing.every((m) => m.startsWith('kinesis:GetRecords <'))).toBe(true);
  });

  it('GIVEN an unused grant added to the synthesized template WHEN checked THEN it is reported unused', () => {
    const mutated = structuredClone(template) as TemplateJson & {
      Resources: Record<string, { Properties?: Record<string, unknown> }>;
    };
    const role = roleOfFunction(mutated, weirFunctions(mutated).handler);
    const policy = Object.values(mutated.Resources).find(
      (r) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.['Roles']).includes(role),
    )!;
    const doc = policy.Properties!['PolicyDocument'] as { Statement: Record<string, unknown>[] };
    const stateTable = resources.tables.find((t) =>
      t.logicalId.startsWith('ClickCounterStateTable'),
    )!;
    doc.Statement.push({
      Effect: 'Allow',
      Action: ['dynamodb:Scan', 'dynamodb:BatchWriteItem'],
      Resource: { 'Fn::GetAtt': [stateTable.logicalId, 'Arn'] },
    });
    const result = checkRole(
      roleGrants('handler', mutated),
      [...usesOf('handler'), ...usesOf('esm')],
      NOT_REACHED.handler,
    );
    expect(result).toEqual({
      missing: [],
      unused: [
        `dynamodb:BatchWriteItem <${stateTable.logicalId}.Arn>`,
        `dynamodb:Scan <${stateTable.logicalId}.Arn>`,
      ],
    });
  });
});
