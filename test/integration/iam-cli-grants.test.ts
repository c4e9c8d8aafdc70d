/**
 * IAM from usage for the CLI grants: what `WeirOperator.grantRedrive` and
 * `grantStatus` give a principal is checked against the AWS calls `weir
 * redrive` and `weir status` make, both ways, as
 * test/integration/iam-from-usage.test.ts does for the functions.
 *
 *   weir redrive (in process) ─► recording proxy "redrive" ─► kinesalite, DynamoDB Local, s3rver
 *   grantRedrive(role) on the synthesized demo stack ─► the role's (action, resource) pairs
 *
 * Scenario (S3 on-failure destination: the embedded tier has no SQS): a batch
 * moves the operator's watermark to T+200s; then the on-failure record of a
 * range holding a record of an allowed-late window (re-fired: a result
 * write), a record past the allowed lateness (late output) and a record that
 * is not JSON (a dead letter) is redriven; a rerun finds it done.
 *
 * The recovery commands, `grantCheckpoint`, `grantReadCheckpoints` and
 * `grantRestore` on three roles, each command through a proxy of its own:
 * a batch opens a window; `weir checkpoint` (stream by ARN), `weir checkpoint
 * --stream NAME --retain 1` (a describe, a retention delete), `weir
 * checkpoints --verify`; then a batch with an allowed-late record, a late one
 * and a dead letter, and `weir restore --no-pause` from the checkpoint, which
 * clears and loads the state and replays that batch (the window fires again
 * under the new generation). The check uses only what was recorded: a call
 * a change to these commands adds fails it as missing. The restore's Lambda
 * calls (no Lambda on the embedded AWS) are proved by
 * test/cdk/weir-operator-recovery-grants.test.ts.
 */
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDemoTemplate } from '../../cdk/synth.ts';
import { synthesizeTemplate } from '../../cdk/synthesize.ts';
import { WeirDemoStack } from '../../cdk/stacks/weir-demo-stack.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { shardId } from '../../lib/model/position.ts';
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import { buildKinesisEvent, S3OnFailureDestination } from '../../lib/runtime/local/esm/index.ts';
import { kinesisFailureRecord } from '../../lib/runtime/local/esm/failure-record.ts';
import type { LocalResources } from '../../lib/runtime/local/local-resources.ts';
import { provisionFromTemplate } from '../../lib/runtime/local/provision.ts';
import { AwsRecordingProxy } from '../helpers/aws-recording-proxy.ts';
import { grantsOfRole, type TemplateJson } from '../helpers/iam-policy.ts';
import { checkRole, renderUses, type NotReached } from '../helpers/iam-usage.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';
import { runWeir, type WeirRun } from '../helpers/run-weir.ts';

const fixture = useLocalAws();
const T = Date.UTC(2026, 0, 1);
const proxies: AwsRecordingProxy[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

/** Grants of `grantRedrive` no call of this scenario can use, with the reason. */
const REDRIVE_NOT_REACHED: readonly NotReached[] = [
  {
    action: 'dynamodb:GetItem',
    resource: /^<ClickCounterStateTable[0-9A-F]{8}\.Arn>$/,
    reason:
      'the read after a lost conditional state write (a concurrent writer); the same runtime code is reached with injected faults by iam-from-usage.test.ts',
  },
  {
    action: 'dynamodb:DeleteItem',
    resource: /^<ClickCounterStateTable[0-9A-F]{8}\.Arn>$/,
    reason: 'session merges delete merged windows; the click counter has tumbling windows',
  },
  {
    action: 'dynamodb:GetItem',
    resource: /^<ClickCounterResultsTable[0-9A-F]{8}\.Arn>$/,
    reason:
      'the result sink reads the stored version only after a lost conditional put; reached with injected faults by iam-from-usage.test.ts',
  },
];

/** Grants of `grantRestore` no call of the restore scenario can use, with the reason. */
const RESTORE_NOT_REACHED: readonly NotReached[] = [
  ...['ListEventSourceMappings', 'GetEventSourceMapping', 'UpdateEventSourceMapping'].map(
    (a): NotReached => ({
      action: `lambda:${a}`,
      resource: /^(\*|arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:event-source-mapping:<.+>)$/,
      reason:
        'the embedded AWS has no Lambda (the restore runs with --no-pause); test/cdk/weir-operator-recovery-grants.test.ts runs the mapping code against a recording client and checks these',
    }),
  ),
  {
    action: 'dynamodb:GetItem',
    resource: /^<ClickCounterResultsTable[0-9A-F]{8}\.Arn>$/,
    reason:
      'the result sink reads the stored version only after a lost conditional put; reached with injected faults by iam-from-usage.test.ts',
  },
];

/** Runs `weir <argv>` in process with `env`; the exit code and stdout and stderr together (`text`). */
function weir(env: Record<string, string>, ...argv: string[]): Promise<WeirRun> {
  return runWeir(env, argv);
}

/** The logical id of the role whose id starts with `prefix`. */
function roleId(cfn: TemplateJson, prefix: string): string {
  const id = Object.entries(cfn.Resources).find(
    ([k, r]) => r.Type === 'AWS::IAM::Role' && k.startsWith(prefix),
  )?.[0];
  if (id === undefined) throw new Error(`no ${prefix} role in the template`);
  return id;
}

describe('CLI grants, proved from usage', () => {
  it('GIVEN grantRedrive and grantStatus on two roles WHEN checked against what `weir redrive` and then `weir status` called THEN nothing is missing and nothing is unused', async () => {
    const { aws, clients } = fixture;
    const stackName = `IamCli${(process.pid % 10_000).toString(36)}${Date.now().toString(36).slice(-5)}`;
    const streamName = uniqueName('iam-cli');
    const cfn = await synthesizeTemplate(stackName, (app) => {
      const stack = new WeirDemoStack(app, stackName, {
        streamName,
        shardCount: 1,
        onFailure: 's3',
      });
      const role = new iam.Role(stack, 'RedriveRole', {
        assumedBy: new iam.AccountRootPrincipal(),
      });
      stack.clickCounter.grantRedrive(role);
      const statusRole = new iam.Role(stack, 'StatusRole', {
        assumedBy: new iam.AccountRootPrincipal(),
      });
      stack.clickCounter.grantStatus(statusRole);
    });
    expect(Object.keys(cfn.Resources).length).toBeGreaterThan(
      Object.keys(
        (await loadDemoTemplate({ stackName, streamName, shardCount: 1, onFailure: 's3' }))
          .Resources,
      ).length,
    );
    const resources: LocalResources = await provisionFromTemplate(cfn, clients, { stackName });
    const mapping = resources.mappings[0]!;
    const env = { ...aws.env(), ...mapping.environment };
    const stream = resources.streams[0]!;

    // A batch (not recorded) moves the watermark to T+195s.
    const handler = createLambdaHandlers(clickCounter, lambdaConfigFromEnv(env), {
      log: () => undefined,
    }).handler;
    const click = (ts: number) => JSON.stringify({ page: '/p', user: 'u', ts });
    const put = await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: stream.name,
        Records: [click(T + 200_000), click(T + 150_000), click(T + 60_000), 'not json'].map(
          (d) => ({ Data: Buffer.from(d), PartitionKey: 'p' }),
        ),
      }),
    );
    const seqs = (put.Records ?? []).map((r) => r.SequenceNumber ?? '');
    const shard = shardId(put.Records?.[0]?.ShardId ?? '');
    const records = [click(T + 200_000), click(T + 150_000), click(T + 60_000), 'not json'].map(
      (d, i) => ({
        SequenceNumber: seqs[i] ?? '',
        PartitionKey: 'p',
        Data: Buffer.from(d),
        ApproximateArrivalTimestamp: new Date(),
      }),
    );
    const first = await handler(
      buildKinesisEvent(records.slice(0, 1), {
        shardId: shard,
        streamArn: stream.arn,
        awsRegion: aws.region,
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/x',
      }),
    );
    expect(first.batchItemFailures).toEqual([]);
    // The ESM gave up on the rest: its on-failure record in the failure bucket.
    const failures = resources.buckets.find((b) => b.logicalId.includes('FailureBucket'))!;
    await new S3OnFailureDestination({ client: clients.s3, bucket: failures.name }).send({
      esmUuid: 'u-1',
      shardId: shard,
      event: { Records: [] },
      record: kinesisFailureRecord({
        requestId: 'r',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:clicks',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
        response: { functionError: true },
        timestampMs: Date.now(),
        shardId: shard,
        streamArn: stream.arn,
        records: records.slice(1),
      }),
    });

    const proxy = await AwsRecordingProxy.start({ name: 'redrive', targets: aws.endpoints });
    proxies.push(proxy);
    const runCli = (): Promise<WeirRun> =>
      weir(
        { ...env, ...proxy.endpointEnv() },
        'redrive',
        '--operator',
        'click-counter',
        '--source',
        `s3://${failures.name}`,
        '--pipeline',
        'functions/click-counter/pipeline.ts',
        '--json',
      );
    const run = await runCli();
    expect(run.code, run.text).toBe(0);
    const report = JSON.parse(run.text.slice(run.text.indexOf('{'))) as {
      ranges: { status: string; counts: { inState: number; late: number; deadLettered: number } }[];
    };
    expect(report.ranges.map((r) => [r.status, r.counts])).toMatchObject([
      ['applied', { inState: 1, late: 1, deadLettered: 1 }],
    ]);
    const again = await runCli();
    expect(again.code, again.text).toBe(0);
    const calls = proxy.calls();
    expect(calls.filter((c) => c.status >= 300)).toEqual([]);
    const uses = renderUses('redrive', calls, resources);
    expect(uses.filter((u) => u.resource.startsWith('?'))).toEqual([]);
    // The redrive fired the allowed-late window again: a result write.
    expect(uses.map((u) => u.action)).toContain('dynamodb:PutItem');

    // weir status, after the redrive, through a proxy of its own.
    const statusProxy = await AwsRecordingProxy.start({ name: 'status', targets: aws.endpoints });
    proxies.push(statusProxy);
    const st = await weir(
      { ...env, ...statusProxy.endpointEnv() },
      'status',
      '--operator',
      'click-counter',
      '--stream',
      stream.name,
      '--table',
      env['WEIR_STATE_TABLE'] ?? '',
      '--json',
    );
    expect(st.code, st.text).toBe(0);
    const statusCalls = statusProxy.calls();
    expect(statusCalls.filter((c) => c.status >= 300)).toEqual([]);
    const statusUses = renderUses('status', statusCalls, resources);
    expect(statusUses.filter((u) => u.resource.startsWith('?'))).toEqual([]);
    const statusRole = Object.keys(cfn.Resources).find((id) => id.startsWith('StatusRole'));
    if (statusRole === undefined) throw new Error('no StatusRole in the template');
    expect(checkRole(grantsOfRole(cfn as TemplateJson, statusRole), statusUses, [])).toEqual({
      missing: [],
      unused: [],
    });

    const role = Object.entries((cfn as TemplateJson).Resources).find(
      ([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith('RedriveRole'),
    )?.[0];
    if (role === undefined) throw new Error('no RedriveRole in the template');
    const result = checkRole(grantsOfRole(cfn, role), uses, REDRIVE_NOT_REACHED);
    expect(result).toEqual({ missing: [], unused: [] });
  }, 90_000);
  it('GIVEN grantCheckpoint, grantReadCheckpoints and grantRestore on three roles WHEN checked against what `weir checkpoint`, `weir checkpoints --verify` and `weir restore` called THEN nothing is missing and nothing is unused', async () => {
    const { aws, clients } = fixture;
    const stackName = `IamRec${(process.pid % 10_000).toString(36)}${Date.now().toString(36).slice(-5)}`;
    const streamName = uniqueName('iam-rec');
    const cfn = (await synthesizeTemplate(stackName, (app) => {
      const stack = new WeirDemoStack(app, stackName, {
        streamName,
        shardCount: 1,
        onFailure: 's3',
      });
      const role = (id: string) =>
        new iam.Role(stack, id, { assumedBy: new iam.AccountRootPrincipal() });
      stack.clickCounter.grantCheckpoint(role('CheckpointRole'));
      stack.clickCounter.grantReadCheckpoints(role('ListRole'));
      stack.clickCounter.grantRestore(role('RestoreRole'));
    })) as TemplateJson & Awaited<ReturnType<typeof synthesizeTemplate>>;
    const resources = await provisionFromTemplate(cfn, clients, { stackName });
    const env = { ...aws.env(), ...resources.mappings[0]!.environment };
    const stream = resources.streams[0]!;
    const handler = createLambdaHandlers(clickCounter, lambdaConfigFromEnv(env), {
      log: () => undefined,
    }).handler;
    const click = (ts: number) => JSON.stringify({ page: '/p', user: 'u', ts });
    const putRecords = async (data: readonly string[]) => {
      const out = await clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: stream.name,
          Records: data.map((d) => ({ Data: Buffer.from(d), PartitionKey: 'p' })),
        }),
      );
      return (out.Records ?? []).map((r, i) => ({
        shard: shardId(r.ShardId ?? ''),
        record: {
          SequenceNumber: r.SequenceNumber ?? '',
          PartitionKey: 'p',
          Data: Buffer.from(data[i] ?? ''),
          ApproximateArrivalTimestamp: new Date(),
        },
      }));
    };

    const applyBatch = async (data: readonly string[]) => {
      const put = await putRecords(data);
      const out = await handler(
        buildKinesisEvent(
          put.map((p) => p.record),
          {
            shardId: put[0]!.shard,
            streamArn: stream.arn,
            awsRegion: aws.region,
            invokeIdentityArn: 'arn:aws:iam::000000000000:role/x',
          },
        ),
      );
      expect(out.batchItemFailures).toEqual([]);
    };

    // A batch (not recorded): a window open at T+180s..T+240s, the watermark at T+195s.
    await applyBatch([click(T + 200_000)]);

    // weir checkpoint twice (the stream by ARN, then by name with retention), then the listing, verified.
    const checkpointProxy = await AwsRecordingProxy.start({
      name: 'checkpoint',
      targets: aws.endpoints,
    });
    proxies.push(checkpointProxy);
    const ckEnv = { ...env, ...checkpointProxy.endpointEnv() };
    const op = ['--operator', 'click-counter'];
    const taken = await weir(ckEnv, 'checkpoint', ...op);
    expect(taken.code, taken.text).toBe(0);
    await new Promise((r) => setTimeout(r, 5)); // a later checkpoint id than the first
    const retained = await weir(
      ckEnv,
      'checkpoint',
      ...op,
      '--stream',
      stream.name,
      '--retain',
      '1',
      '--json',
    );
    expect(retained.code, retained.text).toBe(0);
    expect(retained.text).toMatch(/"deleted":\["[^"]+"\]/);
    const checkpointUses = renderUses('checkpoint', checkpointProxy.calls(), resources);
    const listProxy = await AwsRecordingProxy.start({
      name: 'checkpoints',
      targets: aws.endpoints,
    });
    proxies.push(listProxy);
    const listed = await weir(
      { ...env, ...listProxy.endpointEnv() },
      'checkpoints',
      ...op,
      '--verify',
      '--json',
    );
    expect(listed.code, listed.text).toBe(0);
    expect(listed.text).toContain('"status":"complete"');
    const listUses = renderUses('checkpoints', listProxy.calls(), resources);

    // After the checkpoint, a batch (not recorded) with an allowed-late record (a result), a late one and a
    // dead letter; the restore replays it: the window fires again under the new generation.
    await applyBatch([click(T + 150_000), click(T + 60_000), 'not json']);
    const restoreProxy = await AwsRecordingProxy.start({ name: 'restore', targets: aws.endpoints });
    proxies.push(restoreProxy);
    const restored = await weir(
      { ...env, ...restoreProxy.endpointEnv() },
      'restore',
      ...op,
      '--pipeline',
      'functions/click-counter/pipeline.ts',
      '--no-pause',
      '--json',
    );
    expect(restored.code, restored.text).toBe(0);
    const summary = JSON.parse(restored.text.slice(restored.text.indexOf('{'))) as {
      windowsLoaded: number;
      replay: { inState: number; late: number; deadLettered: number };
    };
    expect(summary).toMatchObject({
      windowsLoaded: 1,
      replay: { inState: 1, late: 1, deadLettered: 1 },
    });
    const restoreUses = renderUses('restore', restoreProxy.calls(), resources);

    const all = [checkpointProxy, listProxy, restoreProxy].flatMap((p) => p.calls());
    // One refused call is expected: finishing the replay's span (replay-spans.ts) writes the shard's
    // progress with the span done, and the store's first conditional put assumes the span it writes is
    // the one stored (it is the started one), so it reads and puts again. Any other refusal fails here.
    const finishesSpan = (c: (typeof all)[number]): boolean => {
      const replayed = (c.input as { Item?: { replayed?: { S?: string } } }).Item?.replayed?.S;
      return (
        c.operation === 'PutItem' &&
        c.errorType === 'ConditionalCheckFailedException' &&
        replayed !== undefined &&
        (JSON.parse(replayed) as [unknown, unknown, boolean][]).every(([, , done]) => done)
      );
    };
    const refused = all.filter((c) => c.status >= 300);
    expect(refused.filter((c) => !finishesSpan(c))).toEqual([]);
    expect(refused.filter(finishesSpan).length).toBeLessThanOrEqual(1);
    const uses = [...checkpointUses, ...listUses, ...restoreUses];
    expect(uses.filter((u) => u.resource.startsWith('?'))).toEqual([]);
    const grants = (prefix: string) => grantsOfRole(cfn, roleId(cfn, prefix));
    expect(checkRole(grants('CheckpointRole'), [...checkpointUses, ...listUses], [])).toEqual({
      missing: [],
      unused: [],
    });
    // grantReadCheckpoints is broader than `weir checkpoints` needs; it must miss nothing.
    expect(checkRole(grants('ListRole'), listUses, []).missing).toEqual([]);
    expect(checkRole(grants('RestoreRole'), restoreUses, RESTORE_NOT_REACHED)).toEqual({
      missing: [],
      unused: [],
    });
  }, 120_000);
});
