/**
 * `npm run test:localstack`: runs the integration tests against LocalStack.
 *
 * 1. AWS_ENDPOINT_URL must point at LocalStack; if it is unset or nothing
 *    answers there, print how to start LocalStack and exit 2.
 * 2. Wait on /_localstack/health until kinesis, dynamodb and s3 are
 *    available or running (exit 1 with the services' states on timeout).
 * 3. Run `vitest run --project integration` with the endpoint, region
 *    us-east-1 and dummy credentials (test/test) in the environment.
 *
 * Environment: AWS_ENDPOINT_URL (required), WEIR_LOCALSTACK_TIMEOUT_MS (default 120000).
 * Extra arguments are passed to vitest.
 */
import { spawn } from 'node:child_process';
import {
  LocalStackNotReadyError,
  fetchLocalStackHealth,
  waitForLocalStack,
} from '../lib/runtime/local/localstack-health.ts';

const HOW_TO_START = `
LocalStack is needed for this tier. Start it, then point weir at it:

  docker compose up -d localstack          # pinned localstack/localstack:4.14.0, see docs/localstack.md
  export AWS_ENDPOINT_URL=http://localhost:4566
  npm run test:localstack

Without Docker, the default tier needs nothing: npm run test:integration (embedded emulators).
`;

async function main(): Promise<number> {
  const endpoint = process.env['AWS_ENDPOINT_URL'];
  if (endpoint === undefined || endpoint === '') {
    process.stderr.write(`AWS_ENDPOINT_URL is not set.\n${HOW_TO_START}`);
    return 2;
  }
  try {
    await fetchLocalStackHealth(endpoint, 3000);
  } catch (e) {
    process.stderr.write(
      `Nothing answers like LocalStack at ${endpoint} (${e instanceof Error ? e.message : String(e)}).\n${HOW_TO_START}`,
    );
    return 2;
  }

  const timeoutMs = Number(process.env['WEIR_LOCALSTACK_TIMEOUT_MS'] ?? 120_000);
  try {
    const health = await waitForLocalStack({
      endpoint,
      timeoutMs,
      onPoll: (p) => {
        if (p.kind === 'waiting')
          process.stderr.write(
            `waiting for LocalStack: ${p.notReady.map((s) => `${s}=${p.health.services[s] ?? 'missing'}`).join(', ')}\n`,
          );
      },
    });
    process.stderr.write(
      `LocalStack ${health.version ?? '?'} (${health.edition ?? '?'}) ready at ${endpoint}\n`,
    );
  } catch (e) {
    if (e instanceof LocalStackNotReadyError) {
      process.stderr.write(`${e.message}\n`);
      return e.unreachable ? 2 : 1;
    }
    throw e;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    WEIR_TIER: 'localstack',
  };
  delete env['AWS_PROFILE'];
  delete env['AWS_SESSION_TOKEN'];
  const child = spawn(
    'npx',
    ['vitest', 'run', '--project', 'integration', ...process.argv.slice(2)],
    { stdio: 'inherit', env },
  );
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
