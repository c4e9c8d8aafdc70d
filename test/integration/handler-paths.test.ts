/**
 * Where a local run finds the handler and the TypeScript loader: tsx comes
 * from weir's own install (a worker in a folder without node_modules still
 * runs a .ts handler), a relative handler is relative to the invoker's `cwd`,
 * and a template's `weir:entry` is relative to the stack's project root, not
 * to this process's directory. No AWS needed: the invoker is called directly.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KinesisStreamEvent } from 'aws-lambda';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ESM_SETTINGS,
  LocalMappingRunner,
  ProcessHandlerInvoker,
  type InvokeContext,
  type LocalMapping,
} from '../../lib/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NOOP_TS = join(ROOT, 'test/fixtures/handlers/noop-handler.ts');
const dir = mkdtempSync(join(tmpdir(), 'weir-handler-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A plain ESM handler that says where it was loaded from and where it runs.
const WHERE_HANDLER = `export async function handler() {
  return { file: import.meta.url, cwd: process.cwd() };
}
`;

const event: KinesisStreamEvent = { Records: [] };
const ctx: InvokeContext = {
  awsRequestId: 'r-1',
  functionName: 'f',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
  timeoutMs: 30_000,
};

describe('handler and loader paths of the process invoker', () => {
  it('GIVEN a TypeScript handler and workers in a folder without node_modules WHEN invoked THEN it runs (tsx from weir, not from the cwd)', async () => {
    const cwd = join(dir, 'bare');
    mkdirSync(cwd);
    const invoker = new ProcessHandlerInvoker({ handler: `${NOOP_TS}#handler`, cwd });
    try {
      const outcome = await invoker.invoke(event, ctx);
      expect(outcome).toMatchObject({ kind: 'success', value: { batchItemFailures: [] } });
    } finally {
      await invoker.close();
    }
  });

  it('GIVEN a relative .mjs handler WHEN invoked THEN it is resolved against the invoker cwd', async () => {
    const cwd = join(dir, 'project-a');
    mkdirSync(join(cwd, 'fn'), { recursive: true });
    writeFileSync(join(cwd, 'fn', 'where.mjs'), WHERE_HANDLER);
    const invoker = new ProcessHandlerInvoker({ handler: 'fn/where.mjs#handler', cwd });
    try {
      const outcome = await invoker.invoke(event, ctx);
      expect(outcome).toMatchObject({
        kind: 'success',
        value: { file: pathToFileURL(join(cwd, 'fn', 'where.mjs')).href, cwd },
      });
    } finally {
      await invoker.close();
    }
  });

  it("GIVEN a mapping whose weir:entry is relative WHEN run with the stack's project root THEN the handler is found there, whatever this process's directory", async () => {
    const projectRoot = join(dir, 'project-b');
    mkdirSync(join(projectRoot, 'functions', 'op'), { recursive: true });
    writeFileSync(join(projectRoot, 'functions', 'op', 'handler.mjs'), WHERE_HANDLER);
    expect(process.cwd()).not.toBe(projectRoot);
    const mapping: LocalMapping = {
      logicalId: 'Esm',
      functionLogicalId: 'OpFunction',
      handlerEntry: 'functions/op/handler.mjs',
      handlerExport: 'handler',
      operatorName: 'op',
      streamLogicalId: 'Stream',
      streamName: 'op-stream',
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/op-stream',
      settings: DEFAULT_ESM_SETTINGS,
      onFailure: undefined,
      environment: {},
    };
    const clients = {
      kinesis: new KinesisClient({ region: 'us-east-1' }),
      s3: new S3Client({ region: 'us-east-1' }),
      sqs: new SQSClient({ region: 'us-east-1' }),
    };
    const runner = new LocalMappingRunner({ mapping, clients, projectRoot });
    try {
      const outcome = await runner.invoker.invoke(event, ctx);
      expect(outcome).toMatchObject({
        kind: 'success',
        value: {
          file: pathToFileURL(join(projectRoot, 'functions', 'op', 'handler.mjs')).href,
          cwd: projectRoot,
        },
      });
    } finally {
      await runner.invoker.close();
      for (const c of Object.values(clients)) c.destroy();
    }
  });
});
