import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LocalStackNotReadyError,
  healthUrl,
  waitForLocalStack,
  type HealthPoll,
} from '../../../lib/runtime/local/localstack-health.ts';

/** A loopback server answering like LocalStack's health endpoint, one scripted answer per request. */
async function fakeLocalStack(
  answers: Array<{ status?: number; body: unknown }>,
): Promise<{ endpoint: string; requests: () => number }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const answer = answers[Math.min(n, answers.length - 1)]!;
    n += 1;
    if (req.url !== '/_localstack/health') {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(answer.status ?? 200, { 'content-type': 'application/json' })
      .end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, requests: () => n };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const health = (services: Record<string, string>) => ({
  body: { services, edition: 'community', version: '4.14.0' },
});

describe('waitForLocalStack', () => {
  it('GIVEN services that start after a while WHEN waiting THEN it resolves once kinesis, dynamodb and s3 are available or running', async () => {
    const ls = await fakeLocalStack([
      health({ kinesis: 'initialized', dynamodb: 'available', s3: 'available' }),
      health({ kinesis: 'starting', dynamodb: 'running', s3: 'available' }),
      health({ kinesis: 'running', dynamodb: 'running', s3: 'available', sqs: 'available' }),
    ]);
    const polls: HealthPoll[] = [];
    const result = await waitForLocalStack({
      endpoint: ls.endpoint,
      intervalMs: 10,
      timeoutMs: 5000,
      onPoll: (p) => polls.push(p),
    });
    expect(result.version).toBe('4.14.0');
    expect(ls.requests()).toBe(3);
    expect(polls.map((p) => p.kind)).toEqual(['waiting', 'waiting', 'ready']);
    expect(polls[0]).toMatchObject({ notReady: ['kinesis'] });
  });

  it('GIVEN a service that never becomes ready WHEN the timeout passes THEN the error names it and its state', async () => {
    const ls = await fakeLocalStack([
      health({ kinesis: 'error', dynamodb: 'running', s3: 'running' }),
    ]);
    const error = await waitForLocalStack({
      endpoint: ls.endpoint,
      intervalMs: 10,
      timeoutMs: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalStackNotReadyError);
    expect((error as LocalStackNotReadyError).unreachable).toBe(false);
    expect((error as Error).message).toMatch(/services not ready within 100 ms: kinesis=error/);
  });

  it('GIVEN a disabled service WHEN waiting THEN it fails at once with the SERVICES fix', async () => {
    const ls = await fakeLocalStack([
      health({ kinesis: 'disabled', dynamodb: 'running', s3: 'running' }),
    ]);
    await expect(
      waitForLocalStack({ endpoint: ls.endpoint, intervalMs: 10, timeoutMs: 5000 }),
    ).rejects.toThrow(/kinesis is not enabled .* add kinesis to LocalStack's SERVICES/);
    expect(ls.requests()).toBe(1);
  });

  it('GIVEN nothing listening WHEN the timeout passes THEN the error says it is unreachable and how to start it', async () => {
    const ls = await fakeLocalStack([health({})]);
    await new Promise((r) => servers.pop()!.close(r));
    const error = await waitForLocalStack({
      endpoint: ls.endpoint,
      intervalMs: 10,
      timeoutMs: 100,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalStackNotReadyError);
    expect((error as LocalStackNotReadyError).unreachable).toBe(true);
    expect((error as Error).message).toMatch(
      /nothing answered at .*\/_localstack\/health .*docker compose up -d localstack/,
    );
  });

  it('GIVEN a server that is not LocalStack WHEN polled THEN it counts as not answering', async () => {
    const ls = await fakeLocalStack([{ body: { hello: 'world' } }]);
    const error = await waitForLocalStack({
      endpoint: ls.endpoint,
      intervalMs: 10,
      timeoutMs: 50,
    }).catch((e: unknown) => e);
    expect((error as LocalStackNotReadyError).lastPoll).toMatchObject({
      kind: 'unreachable',
      error: expect.stringMatching(/without a "services" object/) as unknown,
    });
  });

  it('GIVEN an HTTP error WHEN polled THEN it keeps polling until healthy', async () => {
    const ls = await fakeLocalStack([
      { status: 503, body: {} },
      health({ kinesis: 'available', dynamodb: 'available', s3: 'available' }),
    ]);
    await expect(
      waitForLocalStack({ endpoint: ls.endpoint, intervalMs: 10, timeoutMs: 5000 }),
    ).resolves.toMatchObject({ edition: 'community' });
  });

  it('GIVEN an endpoint with a trailing slash WHEN building the URL THEN it has one slash', () => {
    expect(healthUrl('http://localhost:4566/')).toBe('http://localhost:4566/_localstack/health');
  });
});
