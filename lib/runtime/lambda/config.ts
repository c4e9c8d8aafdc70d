/**
 * The Lambda runtime's configuration, parsed once from the environment at
 * cold start (in functions/), with an error naming the variable when one is
 * missing. The CDK construct sets exactly these variables.
 */
import { ConfigError } from '../../errors.ts';
import { WeirEnv } from '../weir-env.ts';
import {
  endpointsFromEnv,
  type ServiceEndpoints,
  type StaticCredentials,
} from '../../adapters/aws-clients.ts';

export { WeirEnv } from '../weir-env.ts';

/** Everything the Lambda handlers of one operator need. */
export interface LambdaRuntimeConfig {
  /** Operator name the deployment expects (checked against the pipeline's name). */
  readonly operator: string | undefined;
  readonly stateTable: string;
  readonly resultsTable: string;
  /** Bucket for dead letters and late data (under `<prefix>/<operator>/`). */
  readonly outputBucket: string;
  /** @default 'weir' */
  readonly outputPrefix: string;
  /** Source stream, for the ticker's resharding check; absent: closed shards go inactive by idleness only. */
  readonly streamName: string | undefined;
  readonly region: string;
  readonly endpoints: ServiceEndpoints;
  /**
   * Credentials from the given environment (Lambda puts its role's there), so
   * an environment passed explicitly (the demo's in-process ticker, tests) is
   * honoured; absent: the SDK's default provider chain.
   */
  readonly credentials: StaticCredentials | undefined;
  /** Lifetime of tombstones (`WEIR_TOMBSTONE_TTL_SECONDS`); absent: the state store's default. */
  readonly tombstoneTtlSeconds?: number | undefined;
}

/**
 * Reads {@link LambdaRuntimeConfig} from an environment.
 *
 * @example
 * const config = lambdaConfigFromEnv(process.env); // at module scope: once per cold start
 */
export function lambdaConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): LambdaRuntimeConfig {
  const need = (name: string, what: string): string => {
    const v = env[name];
    if (v === undefined || v.trim() === '')
      throw new ConfigError(name, v, `must name ${what} (set by the WeirOperator construct)`);
    return v.trim();
  };
  const stateTable = need(WeirEnv.STATE_TABLE, 'the DynamoDB state table');
  const resultsTable = need(WeirEnv.RESULTS_TABLE, 'the DynamoDB results table');
  const outputBucket = env[WeirEnv.OUTPUT_BUCKET] ?? env[WeirEnv.CHECKPOINT_BUCKET];
  if (!outputBucket) {
    throw new ConfigError(
      WeirEnv.OUTPUT_BUCKET,
      outputBucket,
      'must name the S3 bucket for dead letters and late data',
    );
  }
  return {
    operator: env[WeirEnv.OPERATOR],
    stateTable,
    resultsTable,
    outputBucket,
    outputPrefix: env[WeirEnv.CHECKPOINT_PREFIX] ?? 'weir',
    streamName: env[WeirEnv.STREAM_NAME],
    region: env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
    endpoints: endpointsFromEnv(env),
    credentials: credentialsFromEnv(env),
    tombstoneTtlSeconds: positiveIntFromEnv(env, WeirEnv.TOMBSTONE_TTL_SECONDS),
  };
}

/** An optional positive integer variable; a malformed one is a `ConfigError` naming it. */
export function positiveIntFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConfigError(name, raw, 'must be a positive integer');
  return n;
}

/** Static credentials from an environment's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), if both are set. */
export function credentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): StaticCredentials | undefined {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
