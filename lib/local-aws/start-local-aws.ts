/**
 * The embedded AWS: Kinesis (kinesalite), DynamoDB (Amazon's DynamoDB Local,
 * on Java) and S3 (s3rver), each started from npm packages in a child process
 * on a free loopback port. Children watch their stdin and exit when the
 * process that started them goes away, however it goes, so a failed or killed
 * test run leaves no orphans.
 *
 * When `AWS_ENDPOINT_URL` is set, {@link localAwsFromEnv} starts nothing and
 * connects to that endpoint (LocalStack) instead, after waiting until it
 * answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { EmulatorError } from '../errors.ts';
import { sleep } from '../util/sleep.ts';
import {
  createAwsClients,
  endpointsFromEnv,
  type AwsClients,
  type ServiceEndpoints,
  type StaticCredentials,
} from '../adapters/aws-clients.ts';
import {
  dynamodbChild,
  startDynamoDbLocal,
  startNodeServer,
  type ManagedChild,
} from './emulator-processes.ts';

export { dynamoDbLocalJar } from './emulator-processes.ts';

/** Options of {@link startLocalAws}. */
export interface LocalAwsOptions {
  /** kinesalite's account shard limit (LimitExceededException above it). @default 50 */
  readonly kinesisShardLimit?: number;
  /** How long each emulator may take to answer. @default 60000 */
  readonly startTimeoutMs?: number;
  /** Receives the emulators' stderr lines (for debugging). @default discard */
  readonly log?: (line: string) => void;
}

/** Per-emulator startup, measured from spawn until the first successful API call. */
export interface StartupTimes {
  readonly kinesisMs: number;
  readonly dynamodbMs: number;
  readonly s3Ms: number;
}

/** A running embedded AWS, or a connection to an external one (LocalStack). */
export interface LocalAws {
  /** `embedded`: started here; `external`: reached through `AWS_ENDPOINT_URL`. */
  readonly mode: 'embedded' | 'external';
  readonly region: string;
  readonly credentials: StaticCredentials;
  readonly endpoints: ServiceEndpoints & {
    readonly kinesis: string;
    readonly dynamodb: string;
    readonly s3: string;
  };
  /** Startup times (zero in external mode). */
  readonly startup: StartupTimes;
  /** Environment for a child process (handler, CLI) to reach the same services. */
  env(): Record<string, string>;
  /** New SDK clients for these endpoints; destroy them when done. */
  clients(): AwsClients;
  /** Stops the emulators (no-op in external mode). Idempotent. */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
// s3rver's built-in account; kinesalite and DynamoDB Local accept any key.
const CREDENTIALS: StaticCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * Starts the embedded AWS on loopback and waits until every emulator answers.
 *
 * @example
 * const aws = await startLocalAws();
 * try {
 *   const { kinesis } = aws.clients();
 *   // ...
 * } finally {
 *   await aws.stop();
 * }
 */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const children: ManagedChild[] = [];
  const s3Dir = mkdtempSync(join(tmpdir(), 'weir-s3-'));
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(s3Dir, { recursive: true, force: true });
  };
  try {
    const [kinesis, dynamodb, s3] = await Promise.all([
      startNodeServer(
        'kinesalite',
        'kinesalite-server.cjs',
        {
          WEIR_KINESIS_SHARD_LIMIT: String(options.kinesisShardLimit ?? 50),
        },
        children,
        log,
        timeoutMs,
      ),
      startDynamoDbLocal(children, log, timeoutMs),
      startNodeServer(
        's3rver',
        's3rver-server.cjs',
        {
          WEIR_S3_DIR: s3Dir,
          // s3rver encrypts ListObjectsV2 continuation tokens with DES, which
          // OpenSSL 3 (Node >= 17) only has in its legacy provider: without
          // it, every truncated listing (over 1,000 keys) is a 500.
          NODE_OPTIONS: [process.env['NODE_OPTIONS'], '--openssl-legacy-provider']
            .filter((o) => o !== undefined && o !== '')
            .join(' '),
        },
        children,
        log,
        timeoutMs,
      ),
    ]);
    const endpoints = { kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint, s3: s3.endpoint };
    const started = Date.now();
    const probe = createAwsClients({
      region: REGION,
      endpoints,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const [k, d, s] = await Promise.all([
        waitUntilAnswers(
          'kinesalite',
          () => probe.kinesis.send(new ListStreamsCommand({})),
          timeoutMs,
          dynamodbChild(children),
        ),
        waitUntilAnswers(
          'DynamoDB Local',
          () => probe.dynamodb.send(new ListTablesCommand({})),
          timeoutMs,
          dynamodbChild(children),
        ),
        waitUntilAnswers(
          's3rver',
          () => probe.s3.send(new ListBucketsCommand({})),
          timeoutMs,
          dynamodbChild(children),
        ),
      ]);
      const startup = {
        kinesisMs: kinesis.readyAfterMs + (k - started),
        dynamodbMs: dynamodb.readyAfterMs + (d - started),
        s3Ms: s3.readyAfterMs + (s - started),
      };
      return makeLocalAws('embedded', endpoints, startup, stopAll);
    } finally {
      probe.destroy();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Connects to the AWS endpoints named by `AWS_ENDPOINT_URL` (and per-service
 * overrides), for example LocalStack, waiting until Kinesis, DynamoDB and S3
 * answer. Starts nothing.
 */
export async function connectLocalAws(
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = 120_000,
): Promise<LocalAws> {
  const e = endpointsFromEnv(env);
  if (!e.kinesis || !e.dynamodb || !e.s3) {
    throw new EmulatorError(
      'external AWS',
      'AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_KINESIS, _DYNAMODB and _S3) must be set to connect to LocalStack',
    );
  }
  const endpoints = { ...e, kinesis: e.kinesis, dynamodb: e.dynamodb, s3: e.s3 };
  const probe = createAwsClients({
    region: REGION,
    endpoints,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await Promise.all([
      waitUntilAnswers(
        `Kinesis at ${endpoints.kinesis}`,
        () => probe.kinesis.send(new ListStreamsCommand({})),
        timeoutMs,
      ),
      waitUntilAnswers(
        `DynamoDB at ${endpoints.dynamodb}`,
        () => probe.dynamodb.send(new ListTablesCommand({})),
        timeoutMs,
      ),
      waitUntilAnswers(
        `S3 at ${endpoints.s3}`,
        () => probe.s3.send(new ListBucketsCommand({})),
        timeoutMs,
      ),
    ]);
  } finally {
    probe.destroy();
  }
  return makeLocalAws('external', endpoints, { kinesisMs: 0, dynamodbMs: 0, s3Ms: 0 }, () =>
    Promise.resolve(),
  );
}

/**
 * The tier chooser used by tests, the CLI and the demo: LocalStack (or any
 * endpoint) when `AWS_ENDPOINT_URL` is set, the embedded AWS otherwise.
 */
export function localAwsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: LocalAwsOptions = {},
): Promise<LocalAws> {
  const e = endpointsFromEnv(env);
  return e.kinesis || e.dynamodb || e.s3 ? connectLocalAws(env) : startLocalAws(options);
}

function makeLocalAws(
  mode: LocalAws['mode'],
  endpoints: LocalAws['endpoints'],
  startup: StartupTimes,
  stopAll: () => Promise<void>,
): LocalAws {
  let stopped: Promise<void> | undefined;
  return {
    mode,
    region: REGION,
    credentials: CREDENTIALS,
    endpoints,
    startup,
    env() {
      const out: Record<string, string> = {
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_S3: endpoints.s3,
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      };
      if (endpoints.sqs) out['AWS_ENDPOINT_URL_SQS'] = endpoints.sqs;
      return out;
    },
    clients() {
      return createAwsClients({ region: REGION, endpoints, credentials: CREDENTIALS });
    },
    stop() {
      stopped ??= stopAll();
      return stopped;
    },
  };
}

/** Retries `call` until it succeeds; returns the time it first succeeded. */
async function waitUntilAnswers(
  name: string,
  call: () => Promise<unknown>,
  timeoutMs: number,
  watch?: ManagedChild,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (watch && watch.process.exitCode !== null) {
      throw new EmulatorError(
        watch.name,
        `exited with code ${watch.process.exitCode} while starting.\n${watch.stderrTail()}`,
      );
    }
    try {
      await call();
      return Date.now();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new EmulatorError(name, `did not answer within ${timeoutMs} ms: ${String(last)}`, {
        cause: last,
      });
    }
    await sleep(100);
  }
}
