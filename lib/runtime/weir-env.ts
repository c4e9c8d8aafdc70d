/**
 * The environment variables an operator's Lambda functions read: one list,
 * used by the CDK construct that sets them and by the runtime that parses
 * them (lib/runtime/lambda/config.ts), so the two cannot drift.
 */
export const WeirEnv = {
  OPERATOR: 'WEIR_OPERATOR',
  STATE_TABLE: 'WEIR_STATE_TABLE',
  RESULTS_TABLE: 'WEIR_RESULTS_TABLE',
  /** Bucket of dead letters and late data (`<prefix>/<operator>/...`): the checkpoint bucket. */
  OUTPUT_BUCKET: 'WEIR_OUTPUT_BUCKET',
  CHECKPOINT_BUCKET: 'WEIR_CHECKPOINT_BUCKET',
  CHECKPOINT_PREFIX: 'WEIR_CHECKPOINT_PREFIX',
  STREAM_NAME: 'WEIR_STREAM_NAME',
  /** ARN of the source stream, recorded in every checkpoint manifest. */
  STREAM_ARN: 'WEIR_STREAM_ARN',
  /** Time between checkpoint captures, ms (lib/runtime/checkpoint/checkpoint-settings.ts). */
  CHECKPOINT_INTERVAL_MS: 'WEIR_CHECKPOINT_INTERVAL_MS',
  /** Complete checkpoints kept by retention. */
  CHECKPOINT_RETAIN: 'WEIR_CHECKPOINT_RETAIN',
  /** Retention of the source stream, hours (validated against the checkpoint interval). */
  STREAM_RETENTION_HOURS: 'WEIR_STREAM_RETENTION_HOURS',
  /** Lifetime of a tombstone (purged window), seconds: the state store's `tombstoneTtlSeconds`. */
  TOMBSTONE_TTL_SECONDS: 'WEIR_TOMBSTONE_TTL_SECONDS',
} as const;
