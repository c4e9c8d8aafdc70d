/**
 * The AWS clients of a CLI command, from its environment: endpoints from
 * `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (the embedded AWS's
 * `weir local` exports, LocalStack), else real AWS; keys from the
 * environment when set, else the SDK's provider chain (profiles, SSO, roles).
 */
import {
  createAwsClients,
  endpointsFromEnv,
  type AwsClientConfig,
  type AwsClients,
} from '../adapters/aws-clients.ts';

/** Builds a command's clients; `region` (a flag) wins over AWS_REGION / AWS_DEFAULT_REGION. */
export function cliAwsClients(
  env: Readonly<Record<string, string | undefined>>,
  region: string | undefined,
  config: Pick<AwsClientConfig, 'maxAttempts'> = {},
): AwsClients {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  return createAwsClients({
    ...config,
    endpoints: endpointsFromEnv(env),
    // Session credentials are left to the chain: StaticCredentials has no token here.
    ...(accessKeyId && secretAccessKey && !env['AWS_SESSION_TOKEN']
      ? { credentials: { accessKeyId, secretAccessKey } }
      : {}),
    region: region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
  });
}
