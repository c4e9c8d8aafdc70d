/**
 * The one factory that builds every AWS SDK v3 client weir uses, so that the
 * emulator workarounds live in one place:
 *
 * - Kinesis: the SDK's default HTTP/2 handler fails ("Protocol error") on
 *   emulator responses over ~64 KiB, so an overridden endpoint gets the
 *   HTTP/1.1 `NodeHttpHandler`.
 * - S3: emulators are path-style only, and s3rver stores aws-chunked framing
 *   verbatim unless checksums are calculated only `WHEN_REQUIRED`.
 *
 * Endpoints come from {@link endpointsFromEnv} (the standard
 * `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` variables) or from the
 * embedded AWS; with none, the SDK talks to real AWS.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** Endpoint overrides per service; an absent one means the SDK's default. */
export interface ServiceEndpoints {
  readonly kinesis?: string;
  readonly dynamodb?: string;
  readonly s3?: string;
  readonly sqs?: string;
}

/** Static credentials, as emulators accept any. */
export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Present for temporary credentials (Lambda's execution role). */
  readonly sessionToken?: string;
}

/** Input to {@link createAwsClients}. */
export interface AwsClientConfig {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default {} (real AWS, or whatever the SDK reads from its environment) */
  readonly endpoints?: ServiceEndpoints;
  /** @default the SDK's default provider chain */
  readonly credentials?: StaticCredentials;
  /** Sockets per client; Lambda-sized default. @default 50 */
  readonly maxSockets?: number;
  /** SDK retry attempts per call. @default 3 */
  readonly maxAttempts?: number;
}

/** The SDK clients weir uses, built with one configuration. */
export interface AwsClients {
  readonly region: string;
  readonly endpoints: ServiceEndpoints;
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  /** Document client over {@link AwsClients.dynamodb} (removeUndefinedValues on). */
  readonly documentClient: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  /** Releases the clients' sockets. */
  destroy(): void;
}

/**
 * Builds every client weir needs.
 *
 * @example
 * const clients = createAwsClients({ endpoints: endpointsFromEnv(process.env) });
 */
export function createAwsClients(config: AwsClientConfig = {}): AwsClients {
  const region = config.region ?? 'us-east-1';
  const endpoints = config.endpoints ?? {};
  const base = {
    region,
    maxAttempts: config.maxAttempts ?? 3,
    ...(config.credentials ? { credentials: { ...config.credentials } } : {}),
  };
  const handler = (): NodeHttpHandler =>
    new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: config.maxSockets ?? 50 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: config.maxSockets ?? 50 }),
    });
  const kinesis = new KinesisClient({
    ...base,
    ...(endpoints.kinesis ? { endpoint: endpoints.kinesis } : {}),
    // HTTP/1.1 always: HTTP/2 is only needed for SubscribeToShard, which weir does not use.
    requestHandler: handler(),
  });
  const dynamodb = new DynamoDBClient({
    ...base,
    ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}),
    requestHandler: handler(),
  });
  const documentClient = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3 = new S3Client({
    ...base,
    ...(endpoints.s3
      ? {
          endpoint: endpoints.s3,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
    requestHandler: handler(),
  });
  const sqs = new SQSClient({
    ...base,
    ...(endpoints.sqs ? { endpoint: endpoints.sqs } : {}),
    requestHandler: handler(),
  });
  return {
    region,
    endpoints,
    kinesis,
    dynamodb,
    documentClient,
    s3,
    sqs,
    destroy() {
      kinesis.destroy();
      documentClient.destroy();
      dynamodb.destroy();
      s3.destroy();
      sqs.destroy();
    },
  };
}

/**
 * Reads endpoint overrides from the standard SDK variables:
 * `AWS_ENDPOINT_URL` for all services, `AWS_ENDPOINT_URL_KINESIS`,
 * `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`
 * per service (which win).
 */
export function endpointsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ServiceEndpoints {
  const all = nonEmpty(env['AWS_ENDPOINT_URL']);
  const pick = (name: string): string | undefined =>
    nonEmpty(env[`AWS_ENDPOINT_URL_${name}`]) ?? all;
  const out: { -readonly [K in keyof ServiceEndpoints]: string } = {};
  const kinesis = pick('KINESIS');
  const dynamodb = pick('DYNAMODB');
  const s3 = pick('S3');
  const sqs = pick('SQS');
  if (kinesis) out.kinesis = kinesis;
  if (dynamodb) out.dynamodb = dynamodb;
  if (s3) out.s3 = s3;
  if (sqs) out.sqs = sqs;
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}
