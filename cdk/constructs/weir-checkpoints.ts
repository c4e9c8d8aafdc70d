/**
 * The checkpoint parts of `WeirOperator`: the props' durations turned into
 * the shared checkpoint schedule (validated by lib/runtime/checkpoint, the
 * same code the checkpoint function runs), the lifecycle rule of the
 * checkpoint prefix, and the checkpoint function's grants. The construct
 * wires; the rules live in `resolveCheckpointSchedule`.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { ConfigError } from '../../lib/errors.ts';
import {
  resolveCheckpointSchedule,
  type CheckpointSchedule,
} from '../../lib/runtime/checkpoint/checkpoint-settings.ts';

/** The checkpoint props of `WeirOperatorProps`. */
export interface WeirCheckpointProps {
  /** See `WeirOperatorProps.checkpointInterval`. */
  readonly checkpointInterval?: Duration;
  readonly checkpointRetain?: number;
  readonly tombstoneTtl?: Duration;
  readonly streamRetention?: Duration;
}

function concrete(field: string, d: Duration): Duration {
  if (d.isUnresolved()) throw new ConfigError(field, d.toString(), 'must be a concrete Duration');
  return d;
}

/**
 * The checkpoint schedule of the props, validated together: a stream
 * retention shorter than two intervals, or a tombstone TTL shorter than the
 * oldest retained checkpoint's age, is a `ConfigError` naming both values.
 */
export function checkpointSchedule(props: WeirCheckpointProps): CheckpointSchedule {
  const hours = (field: string, d: Duration): number => {
    const h = concrete(field, d).toMilliseconds() / 3_600_000;
    if (!Number.isInteger(h))
      throw new ConfigError(field, d.toHumanString(), 'must be a whole number of hours');
    return h;
  };
  const seconds = (field: string, d: Duration): number => {
    const s = concrete(field, d).toMilliseconds() / 1000;
    if (!Number.isInteger(s))
      throw new ConfigError(field, d.toHumanString(), 'must be a whole number of seconds');
    return s;
  };
  return resolveCheckpointSchedule({
    ...(props.checkpointInterval !== undefined
      ? { intervalMs: concrete('checkpointInterval', props.checkpointInterval).toMilliseconds() }
      : {}),
    ...(props.checkpointRetain !== undefined ? { retain: props.checkpointRetain } : {}),
    ...(props.tombstoneTtl !== undefined
      ? { tombstoneTtlSeconds: seconds('tombstoneTtl', props.tombstoneTtl) }
      : {}),
    ...(props.streamRetention !== undefined
      ? { streamRetentionHours: hours('streamRetention', props.streamRetention) }
      : {}),
  });
}

/**
 * Lifecycle of the checkpoint prefix. Retention (the checkpoint function,
 * after each completed checkpoint) deletes checkpoints; in the versioned
 * bucket a delete leaves noncurrent versions, which expire after a day.
 * Current checkpoint objects get no expiry: lifecycle cannot tell the newest
 * checkpoint from the oldest, and an expiry would delete the last good
 * checkpoint of an operator whose checkpoint function has been failing.
 */
export function checkpointLifecycleRule(checkpointKeyPrefix: string): s3.LifecycleRule {
  return {
    id: 'Checkpoints',
    prefix: checkpointKeyPrefix,
    noncurrentVersionExpiration: Duration.days(1),
    abortIncompleteMultipartUploadAfter: Duration.days(1),
  };
}

/**
 * The checkpoint function calls exactly: Query (progress; a key's windows
 * for session checkpoints) and Scan on the state table; PutObject,
 * GetObject, DeleteObject on the checkpoint prefix's objects; ListBucket of
 * the checkpoint prefix only (`s3:prefix` condition).
 */
export function grantCheckpointer(
  grantee: iam.IGrantable,
  stateTable: Pick<dynamodb.Table, 'tableArn'>,
  bucket: Pick<s3.Bucket, 'arnForObjects' | 'bucketArn'>,
  checkpointKeyPrefix: string,
): void {
  const principal = grantee.grantPrincipal;
  principal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['dynamodb:Query', 'dynamodb:Scan'],
      resources: [stateTable.tableArn],
    }),
  );
  principal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      resources: [bucket.arnForObjects(`${checkpointKeyPrefix}*`)],
    }),
  );
  principal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${checkpointKeyPrefix}*`] } },
    }),
  );
}
