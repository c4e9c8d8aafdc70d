/**
 * The recovery commands' grants: `grantCheckpoint` (`weir checkpoint`,
 * `weir checkpoints`) and `grantRestore` (`weir restore`), pinned on the
 * synthesized template. Their DynamoDB, Kinesis and S3 grants are proved
 * from usage by test/integration/iam-cli-grants.test.ts; the Lambda calls
 * of a restore (pausing and resuming the event source mapping) cannot be
 * recorded there, the embedded AWS having no Lambda, so this file proves
 * them here: the restore's mapping code (`findMappingUuid`, then
 * `LambdaMappingControl.pause` and `resume`, as lib/cli/restore.ts wires
 * them) runs against a hand-written Lambda that records every command, and
 * the recorded calls are checked against the role's Lambda grants both ways.
 *
 *   findMappingUuid ─► ListEventSourceMappings          ─┐
 *   pause()  ─► Get ─► Update(Enabled=false) ─► Get …    ├─► (action, resource) ─► checkRole(grantRestore's lambda:*)
 *   resume() ─► Get ─► Update(Enabled=true)  ─► Get …   ─┘
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Template } from 'aws-cdk-lib/assertions';
import {
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { WeirOperator } from '../../cdk/constructs/weir-operator.ts';
import { LambdaMappingControl } from '../../lib/adapters/lambda/lambda-mapping-control.ts';
import { ManualClock } from '../../lib/ports/clock.ts';
import { findMappingUuid } from '../../lib/runtime/restore/lambda-mapping.ts';
import { grantsOfRole, withoutHashes, type TemplateJson } from '../helpers/iam-policy.ts';
import { checkRole, type Use } from '../helpers/iam-usage.ts';
import { ENTRY, PIPELINE, testStack } from './support.ts';

const UUID = '14e0db71-5d35-4eb5-b481-8945cf9d10c2';
const FUNCTION_NAME = 'click-counter-fn';
const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:111111111111:stream/clicks';

/** An operator in the test stack with `grant(op, role)` given to a role of its own; the role's grants. */
function grantedTo(
  grant: (op: WeirOperator, role: iam.IGrantable) => void,
  customKey = false,
): { json: TemplateJson; roleId: string; mappingId: string; lines: string[] } {
  const stack = testStack();
  const stream = customKey
    ? new kinesis.Stream(stack, 'Clicks', {
        encryption: kinesis.StreamEncryption.KMS,
        encryptionKey: new kms.Key(stack, 'StreamKey'),
      })
    : undefined;
  const op = new WeirOperator(stack, 'Op', {
    pipeline: PIPELINE,
    entry: ENTRY,
    ...(stream ? { stream } : {}),
  });
  grant(op, new iam.Role(stack, 'Cli', { assumedBy: new iam.AccountRootPrincipal() }));
  const json = Template.fromStack(stack).toJSON() as TemplateJson;
  const id = (type: string, prefix: string) =>
    Object.entries(json.Resources).find(([k, r]) => r.Type === type && k.startsWith(prefix))![0];
  const roleId = id('AWS::IAM::Role', 'Cli');
  const lines = grantsOfRole(json, roleId)
    .map(
      (g) =>
        withoutHashes(`${g.action} ${g.resource}`) +
        (g.s3Prefix ? ` if s3:prefix like ${g.s3Prefix.join(', ')}` : ''),
    )
    .sort();
  return { json, roleId, mappingId: id('AWS::Lambda::EventSourceMapping', 'Op'), lines };
}

/**
 * The IAM authorization of each Lambda operation the fake answers (Service
 * Authorization Reference: ListEventSourceMappings takes no resource; Get
 * and Update act on the `eventSourceMapping` resource, whose ARN is
 * `arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID`). An operation
 * not listed fails the test: add it here and to `grantRestore`.
 */
const AUTHORIZATIONS: Readonly<Record<string, (input: { UUID?: string }) => string>> = {
  ListEventSourceMappings: () => '*',
  GetEventSourceMapping: (i) => `event-source-mapping:${i.UUID ?? '?'}`,
  UpdateEventSourceMapping: (i) => `event-source-mapping:${i.UUID ?? '?'}`,
};

/**
 * A Lambda API with one mapping from STREAM_ARN to FUNCTION_NAME: an update
 * moves it to Disabling or Enabling, the next read after that settles it.
 * Records every command as the operation name its class carries.
 */
class RecordingLambda {
  readonly calls: { operation: string; input: { UUID?: string } }[] = [];
  state = 'Enabled';
  readonly states: string[] = [];

  send(command: { constructor: { name: string }; input: unknown }): Promise<unknown> {
    const operation = command.constructor.name.replace(/Command$/, '');
    this.calls.push({ operation, input: command.input as { UUID?: string } });
    if (command instanceof ListEventSourceMappingsCommand) {
      const match =
        command.input.FunctionName === FUNCTION_NAME && command.input.EventSourceArn === STREAM_ARN;
      return Promise.resolve({ EventSourceMappings: match ? [{ UUID }] : [] });
    }
    if (command instanceof GetEventSourceMappingCommand) {
      const answer = this.state;
      this.state = answer === 'Disabling' ? 'Disabled' : answer === 'Enabling' ? 'Enabled' : answer;
      this.states.push(answer);
      return Promise.resolve({ UUID, State: answer });
    }
    if (command instanceof UpdateEventSourceMappingCommand) {
      this.state = command.input.Enabled === true ? 'Enabling' : 'Disabling';
      return Promise.resolve({ UUID, State: this.state });
    }
    return Promise.reject(
      new Error(`the recording Lambda does not answer ${operation}: add it to AUTHORIZATIONS`),
    );
  }
}

describe('WeirOperator recovery grants', () => {
  it('GIVEN the restore mapping code run against a recording Lambda WHEN its calls are checked against grantRestore THEN every call is granted and every Lambda grant is used', async () => {
    const { json, roleId, mappingId } = grantedTo((op, role) => op.grantRestore(role));
    const lambda = new RecordingLambda();
    const client = lambda as unknown as Pick<LambdaClient, 'send'>;
    const clock = new ManualClock(0);

    // What lib/cli/restore.ts runs with --function-name (with --mapping-uuid: the same without the listing).
    const uuid = await findMappingUuid(client, FUNCTION_NAME, STREAM_ARN);
    const control = new LambdaMappingControl({
      client,
      uuid,
      pollMs: 1000,
      clock,
      sleep: (ms) => {
        clock.advance(ms);
        return Promise.resolve();
      },
    });
    await control.pause();
    expect(lambda.state).toBe('Disabled');
    await control.resume();
    expect(lambda.state).toBe('Enabled');
    expect(lambda.states).toContain('Disabled');

    const arnPrefix = 'arn:aws:lambda:eu-west-1:111111111111:';
    const uses: Use[] = lambda.calls.map(({ operation, input }) => {
      const authorize = AUTHORIZATIONS[operation];
      const resource = authorize === undefined ? `?unknown ${operation}` : authorize(input);
      return {
        origin: 'restore (Lambda)',
        operation,
        action: `lambda:${operation}`,
        // The mapping's UUID is, in the template, the mapping's Ref.
        resource: resource === '*' ? '*' : arnPrefix + resource.replace(UUID, `<${mappingId}>`),
      };
    });
    expect(uses.filter((u) => u.resource.includes('?'))).toEqual([]);
    const lambdaGrants = grantsOfRole(json, roleId).filter((g) => g.action.startsWith('lambda:'));
    expect(checkRole(lambdaGrants, uses, [])).toEqual({ missing: [], unused: [] });
  });

  it('GIVEN grantRestore on a role WHEN synthesized THEN it holds the mapping control, the checkpoint reads, the state restore, the stream reads and what a batch and a tick write (proved from usage)', () => {
    expect(grantedTo((op, role) => op.grantRestore(role)).lines).toEqual([
      'dynamodb:BatchGetItem <OpStateTable.Arn>',
      'dynamodb:DeleteItem <OpStateTable.Arn>',
      'dynamodb:GetItem <OpResultsTable.Arn>',
      'dynamodb:GetItem <OpStateTable.Arn>',
      'dynamodb:PutItem <OpResultsTable.Arn>',
      'dynamodb:PutItem <OpStateTable.Arn>',
      'dynamodb:Query <OpStateTable.Arn>',
      'dynamodb:Query <OpStateTable.Arn>/index/due',
      'dynamodb:Query <OpStateTable.Arn>/index/expiry',
      'dynamodb:Query <OpStateTable.Arn>/index/outbox',
      'dynamodb:Scan <OpStateTable.Arn>',
      'dynamodb:UpdateItem <OpStateTable.Arn>',
      'kinesis:GetRecords <OpStream.Arn>',
      'kinesis:GetShardIterator <OpStream.Arn>',
      'kinesis:ListShards <OpStream.Arn>',
      'lambda:GetEventSourceMapping arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:<OpKinesisEventSource>',
      'lambda:ListEventSourceMappings *',
      'lambda:UpdateEventSourceMapping arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:<OpKinesisEventSource>',
      's3:GetObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
      's3:ListBucket <OpCheckpointBucket.Arn> if s3:prefix like weir/click-counter/checkpoints/*',
      's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/dead-letter/*',
      's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/late/*',
    ]);
  });

  it('GIVEN grantCheckpoint on a role WHEN synthesized THEN it holds the checkpoint function grant and the stream describe, nothing else (proved from usage)', () => {
    expect(grantedTo((op, role) => op.grantCheckpoint(role)).lines).toEqual([
      'dynamodb:Query <OpStateTable.Arn>',
      'dynamodb:Scan <OpStateTable.Arn>',
      'kinesis:DescribeStreamSummary <OpStream.Arn>',
      's3:DeleteObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
      's3:GetObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
      's3:ListBucket <OpCheckpointBucket.Arn> if s3:prefix like weir/click-counter/checkpoints/*',
      's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/checkpoints/*',
    ]);
  });

  it('GIVEN a stream encrypted with a customer key WHEN grantRestore and grantCheckpoint are given THEN the restore may decrypt with that key and the checkpoint (which reads no record) may not', () => {
    const restore = grantedTo((op, role) => op.grantRestore(role), true).lines;
    expect(restore).toContain('kms:Decrypt <StreamKey.Arn>');
    expect(restore).toContain('kinesis:GetRecords <Clicks.Arn>');
    const checkpoint = grantedTo((op, role) => op.grantCheckpoint(role), true).lines;
    expect(checkpoint.filter((l) => l.startsWith('kms:'))).toEqual([]);
  });
});
