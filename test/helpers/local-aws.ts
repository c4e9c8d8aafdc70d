/**
 * Test helper: one embedded AWS (or LocalStack, when AWS_ENDPOINT_URL is set)
 * per test file, stopped after the file even when a test fails.
 */
import { afterAll, beforeAll } from 'vitest';
import { localAwsFromEnv, type LocalAws } from '../../lib/local-aws/index.ts';
import type { AwsClients } from '../../lib/adapters/aws-clients.ts';

export interface LocalAwsFixture {
  /** The running AWS; valid inside tests (after beforeAll). */
  readonly aws: LocalAws;
  /** Clients for it; destroyed after the file. */
  readonly clients: AwsClients;
}

/** Starts the AWS for this file; returns a fixture whose fields fill in beforeAll. */
export function useLocalAws(): LocalAwsFixture {
  let aws: LocalAws | undefined;
  let clients: AwsClients | undefined;
  beforeAll(async () => {
    aws = await localAwsFromEnv(process.env);
    clients = aws.clients();
  });
  afterAll(async () => {
    clients?.destroy();
    await aws?.stop();
  });
  return {
    get aws() {
      if (!aws) throw new Error('local AWS not started yet: use the fixture inside tests');
      return aws;
    },
    get clients() {
      if (!clients) throw new Error('local AWS not started yet: use the fixture inside tests');
      return clients;
    },
  };
}

/** A name unique within this process, for streams, tables and buckets. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
let counter = 0;
