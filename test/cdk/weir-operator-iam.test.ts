/**
 * Each function's role holds exactly what its code calls (and, for the
 * operator function, what Lambda's event source mapping needs), on exactly
 * its resources. These tests pin the synthesized grants;
 * test/integration/iam-from-usage.test.ts proves them against the AWS calls
 * the functions really make.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { WeirOperator } from '../../cdk/constructs/weir-operator.ts';
import {
  grantsOfRole,
  managedPoliciesOf,
  roleOfFunction,
  weirFunctions,
  withoutHashes,
  type TemplateJson,
} from '../helpers/iam-policy.ts';
import { ENTRY, PIPELINE, synthOperator, testStack } from './support.ts';

/** `action resource` lines of one function's role, hashes dropped, sorted. */
function grantLines(json: TemplateJson, which: 'handler' | 'ticker'): string[] {
  const role = roleOfFunction(json, weirFunctions(json)[which]);
  return grantsOfRole(json, role)
    .map((g) => withoutHashes(`${g.action} ${g.resource}`))
    .sort();
}

const STATE_ON_TABLE = [
  'dynamodb:BatchGetItem <OpStateTable.Arn>',
  'dynamodb:GetItem <OpStateTable.Arn>',
  'dynamodb:PutItem <OpStateTable.Arn>',
  'dynamodb:Query <OpStateTable.Arn>',
  'dynamodb:UpdateItem <OpStateTable.Arn>',
];
const RESULTS = ['dynamodb:GetItem <OpResultsTable.Arn>', 'dynamodb:PutItem <OpResultsTable.Arn>'];

describe('WeirOperator IAM', () => {
  it('GIVEN defaults WHEN synthesized THEN the operator function role holds exactly the ESM reads, state, results, its S3 prefixes, the failure queue and its log group', () => {
    const { json } = synthOperator();
    expect(grantLines(json, 'handler')).toEqual(
      [
        'logs:CreateLogStream <OpLogGroup.Arn>',
        'logs:PutLogEvents <OpLogGroup.Arn>',
        'kinesis:DescribeStream <OpStream.Arn>',
        'kinesis:DescribeStreamSummary <OpStream.Arn>',
        'kinesis:GetRecords <OpStream.Arn>',
        'kinesis:GetShardIterator <OpStream.Arn>',
        'kinesis:ListShards <OpStream.Arn>',
        ...STATE_ON_TABLE,
        'dynamodb:DeleteItem <OpStateTable.Arn>',
        'dynamodb:Query <OpStateTable.Arn>/index/due',
        'dynamodb:Query <OpStateTable.Arn>/index/expiry',
        ...RESULTS,
        's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/dead-letter/*',
        's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/late/*',
        'sqs:SendMessage <OpFailureQueue.Arn>',
      ].sort(),
    );
  });

  it('GIVEN defaults WHEN synthesized THEN the ticker role holds exactly the shard checks, state with its three indexes (no deletes), results and its log group (no S3)', () => {
    const { json } = synthOperator();
    expect(grantLines(json, 'ticker')).toEqual(
      [
        'logs:CreateLogStream <OpTickerLogGroup.Arn>',
        'logs:PutLogEvents <OpTickerLogGroup.Arn>',
        'kinesis:GetRecords <OpStream.Arn>',
        'kinesis:GetShardIterator <OpStream.Arn>',
        'kinesis:ListShards <OpStream.Arn>',
        ...STATE_ON_TABLE,
        'dynamodb:Query <OpStateTable.Arn>/index/due',
        'dynamodb:Query <OpStateTable.Arn>/index/expiry',
        'dynamodb:Query <OpStateTable.Arn>/index/outbox',
        ...RESULTS,
      ].sort(),
    );
  });

  it('GIVEN defaults WHEN synthesized THEN neither role has a managed policy, a wildcard action, Scan, BatchWriteItem or a stream action', () => {
    const { json } = synthOperator();
    for (const which of ['handler', 'ticker'] as const) {
      const role = roleOfFunction(json, weirFunctions(json)[which]);
      expect(managedPoliciesOf(json, role)).toEqual([]);
      const actions = grantsOfRole(json, role).map((g) => g.action);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
      expect(actions).not.toContain('dynamodb:Scan');
      expect(actions).not.toContain('dynamodb:BatchWriteItem');
      expect(actions.filter((a) => a.startsWith('dynamodb:') && a.includes('Stream'))).toEqual([]);
    }
  });

  it.each([
    ['sns', ['sns:Publish <OpFailureTopic>']],
    ['s3', ['s3:ListBucket <OpFailureBucket.Arn>', 's3:PutObject <OpFailureBucket.Arn>/*']],
  ] as const)(
    'GIVEN onFailure %s WHEN synthesized THEN the operator function may deliver there exactly as AWS documents for a stream ESM',
    (onFailure, expected) => {
      const { json } = synthOperator({ onFailure });
      const lines = grantLines(json, 'handler');
      expect(lines.filter((l) => /^(sns|sqs):|Failure/.test(l))).toEqual([...expected].sort());
    },
  );

  it('GIVEN an existing stream encrypted with a customer key WHEN synthesized THEN both roles may decrypt with that key', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'StreamKey');
    const stream = new kinesis.Stream(stack, 'Input', {
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: key,
    });
    new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY, stream });
    const json = Template.fromStack(stack).toJSON() as TemplateJson;
    for (const which of ['handler', 'ticker'] as const) {
      expect(grantLines(json, which)).toContain('kms:Decrypt <StreamKey.Arn>');
    }
  });

  it.each([
    [
      'sqs',
      [
        'sqs:ChangeMessageVisibility <OpFailureQueue.Arn>',
        'sqs:DeleteMessage <OpFailureQueue.Arn>',
        'sqs:ReceiveMessage <OpFailureQueue.Arn>',
      ],
    ],
    ['s3', ['s3:GetObject <OpFailureBucket.Arn>/*', 's3:ListBucket <OpFailureBucket.Arn>']],
    ['sns', []],
  ] as const)(
    'GIVEN onFailure %s WHEN grantRedrive is given to a role THEN it holds the destination reads, the stream reads and what a batch writes (proved from usage by iam-cli-grants.test.ts)',
    (onFailure, destination) => {
      const stack = testStack();
      const op = new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY, onFailure });
      const role = new iam.Role(stack, 'Cli', { assumedBy: new iam.AccountRootPrincipal() });
      op.grantRedrive(role);
      const json = Template.fromStack(stack).toJSON() as TemplateJson;
      const roleId = Object.keys(json.Resources).find((id) => id.startsWith('Cli'))!;
      expect(
        grantsOfRole(json, roleId)
          .map((g) => withoutHashes(`${g.action} ${g.resource}`))
          .sort(),
      ).toEqual(
        [
          ...destination,
          'kinesis:GetRecords <OpStream.Arn>',
          'kinesis:GetShardIterator <OpStream.Arn>',
          ...STATE_ON_TABLE,
          'dynamodb:DeleteItem <OpStateTable.Arn>',
          'dynamodb:Query <OpStateTable.Arn>/index/due',
          'dynamodb:Query <OpStateTable.Arn>/index/expiry',
          ...RESULTS,
          's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/dead-letter/*',
          's3:PutObject <OpCheckpointBucket.Arn>/weir/click-counter/late/*',
        ].sort(),
      );
    },
  );

  it('GIVEN grantStatus on a role WHEN synthesized THEN it holds only the reads weir status makes (proved from usage by iam-cli-grants.test.ts)', () => {
    const stack = testStack();
    const op = new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY });
    const role = new iam.Role(stack, 'Cli', { assumedBy: new iam.AccountRootPrincipal() });
    op.grantStatus(role);
    const json = Template.fromStack(stack).toJSON() as TemplateJson;
    const roleId = Object.keys(json.Resources).find((id) => id.startsWith('Cli'))!;
    expect(
      grantsOfRole(json, roleId)
        .map((g) => withoutHashes(`${g.action} ${g.resource}`))
        .sort(),
    ).toEqual(
      [
        'dynamodb:Query <OpStateTable.Arn>',
        'dynamodb:Query <OpStateTable.Arn>/index/due',
        'dynamodb:Query <OpStateTable.Arn>/index/expiry',
        'dynamodb:Query <OpStateTable.Arn>/index/outbox',
        'kinesis:GetRecords <OpStream.Arn>',
        'kinesis:GetShardIterator <OpStream.Arn>',
        'kinesis:ListShards <OpStream.Arn>',
      ].sort(),
    );
  });
});
