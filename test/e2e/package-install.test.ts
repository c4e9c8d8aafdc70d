/**
 * weir as a new user gets it: `npm pack` in the repository, the tarball
 * installed into a fresh folder under the OS temp dir (offline: weir's
 * dependencies and the peers are linked from this checkout's node_modules),
 * a CDK app there with its own pipeline (own operator name) synthesized with
 * real bundling from another working directory, its types checked against
 * the shipped declarations, then `weir dev` from the installed package on
 * the embedded AWS, twice (a stack synthesized for the pipeline; the app's
 * own template with --template): records produced with `weir produce`,
 * windows fired, results read back through the package's exported helpers,
 * Ctrl-C.
 *
 * Bounded: 30 records and 4 expected results per run, every wait has a deadline; the
 * scratch folder and the tarball are removed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODULES = realpathSync(join(ROOT, 'node_modules'));
const TEN_S = 10_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (bounded), returning its output. */
function run(
  command: string,
  args: readonly string[],
  o: { cwd: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number },
): Run {
  const r = spawnSync(command, [...args], {
    cwd: o.cwd,
    env: o.env ?? process.env,
    input: o.input ?? '',
    encoding: 'utf8',
    timeout: o.timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function expectOk(r: Run, what: string): void {
  if (r.code !== 0) {
    throw new Error(`${what} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
}

/** The environment without any AWS endpoint, so `weir dev` starts its own embedded AWS. */
function envWithoutEndpoints(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_ENDPOINT_URL')) delete env[k];
  return env;
}

const PIPELINE = `import { count, json, pipeline, seconds, tumbling } from 'weir';

export interface PageView {
  readonly page: string;
  readonly ts: number;
}

export const pageViews = pipeline('page-views')
  .decode(json<PageView>())
  .keyBy((v) => v.page)
  .eventTime((v) => v.ts, { maxOutOfOrderness: seconds(1), idleTimeout: seconds(2), idleAdvance: true })
  .window(tumbling(seconds(10)))
  .sideOutputLateData('late')
  .aggregate(count());
`;

const HANDLER = `import { checkpointerEntry, createLambdaHandlers, lambdaConfigFromEnv } from 'weir';
import { pageViews } from './pipeline.ts';

const handlers = createLambdaHandlers(pageViews, lambdaConfigFromEnv(process.env));
export const handler = handlers.handler;
export const ticker = handlers.ticker;
export const checkpointer = checkpointerEntry(pageViews, process.env);
`;

const APP = `import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { WeirOperator } from 'weir/cdk';
import { pageViews } from './functions/page-views/pipeline.ts';

const app = new App();
const stack = new Stack(app, 'PageViewsStack');
new WeirOperator(stack, 'PageViews', {
  pipeline: pageViews,
  entry: 'functions/page-views/handler.ts',
  projectRoot: dirname(fileURLToPath(import.meta.url)),
  shardCount: 2,
  tickInterval: Duration.seconds(2),
});
app.synth();
`;

// Each @ts-expect-error fails the check if the shipped declarations do not resolve (the types would be any).
const TYPE_CHECK = `import type { WeirOperatorProps } from 'weir/cdk';
import type { LocalMapping, OperatorRuntime, WindowResult } from 'weir';
import type { WindowOperatorHarness } from 'weir/testing';

// @ts-expect-error batchSize is a number
export const batch: NonNullable<WeirOperatorProps['eventSourceMapping']>['batchSize'] = 'many';
// @ts-expect-error the settings' batch size is a number
export const settings: LocalMapping['settings']['batchSize'] = 'many';
// @ts-expect-error version is a number
export const version: WindowResult['version'] = 'v1';
export type Harness = WindowOperatorHarness<unknown, unknown, unknown>;
// @ts-expect-error a Kinesis event has Records (the aws-lambda types the declarations use ship with weir)
export const event: Parameters<OperatorRuntime<unknown, unknown, unknown>['handle']>[0] = 42;
`;

// Plain JavaScript, no TypeScript loader: the compiled package's exported readers.
const READ_RESULTS = `import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { fromResultItem, isSupersededItem, localAwsFromEnv, readWindowResults } from 'weir';

const table = process.argv[2];
const aws = await localAwsFromEnv(process.env);
const clients = aws.clients();
try {
  const viaReader = await readWindowResults(clients.dynamodb, table);
  const page = await clients.dynamodb.send(new ScanCommand({ TableName: table }));
  const viaItems = (page.Items ?? []).filter((i) => !isSupersededItem(i)).map(fromResultItem);
  process.stdout.write(JSON.stringify({ viaReader, viaItems }));
} finally {
  clients.destroy();
}
`;

const dir = mkdtempSync(join(tmpdir(), 'weir-scratch-'));
const packDir = join(dir, 'pack');
const app = join(dir, 'app');
const weirBin = join(app, 'node_modules', 'weir', 'bin', 'weir.mjs');
let dev: ChildProcess | undefined;

afterAll(async () => {
  if (dev !== undefined && dev.exitCode === null && dev.signalCode === null) {
    const exited = new Promise((done) => dev?.once('exit', done));
    dev.kill('SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(() => {
  mkdirSync(packDir);
  const pack = run('npm', ['pack', '--pack-destination', packDir, '--silent'], {
    cwd: ROOT,
    timeoutMs: 240_000,
  });
  expectOk(pack, 'npm pack');
  const tarball = join(
    packDir,
    readdirSync(packDir).find((f) => f.endsWith('.tgz'))!,
  );

  // weir's dependencies and the peers the app uses, linked from this checkout: no registry needed.
  const weirPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
  };
  const link = (name: string): string => `file:${join(MODULES, name)}`;
  const dependencies: Record<string, string> = { weir: `file:${tarball}` };
  for (const name of [
    ...Object.keys(weirPackage.dependencies),
    ...Object.keys(weirPackage.peerDependencies),
  ]) {
    dependencies[name] = link(name);
  }
  mkdirSync(join(app, 'functions', 'page-views'), { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'page-views-app',
        version: '1.0.0',
        private: true,
        type: 'module',
        dependencies,
        // What a CDK app with NodejsFunction has: esbuild to bundle, TypeScript to check.
        devDependencies: {
          esbuild: link('esbuild'),
          typescript: link('typescript'),
          '@types/node': link('@types/node'),
        },
      },
      null,
      2,
    ),
  );
  const install = run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    { cwd: app, timeoutMs: 120_000 },
  );
  expectOk(install, 'npm install (offline)');
  writeFileSync(join(app, 'functions', 'page-views', 'pipeline.ts'), PIPELINE);
  writeFileSync(join(app, 'functions', 'page-views', 'handler.ts'), HANDLER);
  writeFileSync(join(app, 'app.ts'), APP);
  writeFileSync(join(app, 'check-types.ts'), TYPE_CHECK);
  writeFileSync(join(app, 'read-results.mjs'), READ_RESULTS);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['check-types.ts'],
    }),
  );
}, 420_000);

describe('weir installed from its tarball into a scratch CDK app', () => {
  it('GIVEN the installed package WHEN inspected THEN it holds compiled JavaScript and declarations, no TypeScript sources, and its bin runs the compiled JavaScript', () => {
    const pkg = join(app, 'node_modules', 'weir');
    for (const f of [
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/cdk/index.js',
      'dist/cdk/index.d.ts',
      'dist/lib/testing/index.js',
      'dist/lib/runtime/local/esm/worker-main.js',
      'dist/lib/local-aws/servers/kinesalite-server.cjs',
    ]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    expect(existsSync(join(pkg, 'lib'))).toBe(false);
    expect(existsSync(join(pkg, 'cdk'))).toBe(false);

    const help = run(process.execPath, [weirBin, 'dev', '--help'], { cwd: app, timeoutMs: 30_000 });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: weir dev PIPELINE_FILE');
    const bad = run(process.execPath, [weirBin, 'dev', 'x.ts', '--no-such-flag'], {
      cwd: app,
      timeoutMs: 30_000,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown option --no-such-flag');
    expect(bad.stderr).toContain('Usage: weir dev PIPELINE_FILE');
  });

  it('GIVEN the shipped declarations WHEN the app checks types against weir, weir/cdk and weir/testing THEN they resolve', () => {
    const tsc = run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app], {
      cwd: app,
      timeoutMs: 180_000,
    });
    expectOk(tsc, 'tsc');
  }, 200_000);

  it('GIVEN its own CDK app WHEN synthesized with bundling from another working directory THEN the operator is the pipeline and the handler is bundled from the project root', () => {
    const synth = run(process.execPath, ['--import', 'tsx', '../app.ts'], {
      cwd: join(app, 'functions'),
      env: { ...process.env, CDK_OUTDIR: join(app, 'cdk.out') },
      timeoutMs: 180_000,
    });
    expectOk(synth, 'synth');
    const template = JSON.parse(
      readFileSync(join(app, 'cdk.out', 'PageViewsStack.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }> };
    const functions = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['weir:operator'] !== undefined,
    );
    expect(
      functions.map((f) => [f.Metadata?.['weir:operator'], f.Metadata?.['weir:entry']]),
    ).toEqual([
      ['page-views', 'functions/page-views/handler.ts'],
      ['page-views', 'functions/page-views/handler.ts'],
      ['page-views', 'functions/page-views/handler.ts'],
    ]);
    const assets = readdirSync(join(app, 'cdk.out')).filter((f) => f.startsWith('asset.'));
    expect(assets.length).toBeGreaterThan(0);
    expect(assets.some((a) => existsSync(join(app, 'cdk.out', a, 'index.mjs')))).toBe(true);
  }, 200_000);

  it('GIVEN weir dev on the app pipeline (a WeirOperator stack synthesized for it) WHEN records are produced THEN its windows fire, print, and read back through the exported helpers; Ctrl-C stops it', async () => {
    const stream = await devScenario(['--shards', '2']);
    expect(stream).toMatch(/^WeirDev-/);
  }, 300_000);

  it("GIVEN weir dev --template with the app's own synthesized stack, started from another directory WHEN records are produced THEN the same, on the app's names", async () => {
    const stream = await devScenario(
      ['--template', '../cdk.out/PageViewsStack.template.json'],
      join(app, 'functions'),
    );
    expect(stream).toMatch(/^PageViewsStack-/);
  }, 300_000);
});

/**
 * Runs `weir dev functions/page-views/pipeline.ts <args>` from the installed package, produces 30 page
 * views with `weir produce`, waits for the 4 window results it prints, reads them back with the
 * package's readers, stops it with SIGINT; returns the stream name it announced.
 */
async function devScenario(args: readonly string[], cwd = app): Promise<string> {
  let stdout = '';
  let stderr = '';
  const pipelineFile = join(app, 'functions', 'page-views', 'pipeline.ts');
  const proc = spawn(process.execPath, [weirBin, 'dev', pipelineFile, '--json', ...args], {
    cwd,
    env: envWithoutEndpoints(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev = proc;
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  const waitFor = async <T>(what: string, probe: () => T | undefined, ms: number): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline || proc.exitCode !== null) {
        throw new Error(
          `weir dev: no ${what} within ${ms} ms\n${stdout.slice(-2000)}\n${stderr.slice(-4000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const produceLine = await waitFor(
    'produce command',
    () => /^ {2}(.*) npx weir produce --stream (\S+)$/m.exec(stderr) ?? undefined,
    150_000,
  );
  const stream = produceLine[2]!;
  const table = /results table (\S+),/.exec(stderr)?.[1];
  expect(table).toBeDefined();
  const env: NodeJS.ProcessEnv = { ...envWithoutEndpoints() };
  for (const pair of produceLine[1]!.trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }

  // Event times from the next window on, ahead of the idle watermark, in order on one shard (one
  // partition key): none is late. (Spread over both shards, one shard's future event times would
  // move the watermark past the other's records while that one is still idle: late, by design.)
  const base = Math.floor(Date.now() / TEN_S) * TEN_S + TEN_S;
  const views = Array.from({ length: 30 }, (_, i) => ({
    page: i % 3 === 0 ? '/a' : '/b',
    session: 's1',
    ts: base + i * 500,
  }));
  const expected = new Map<string, number>();
  for (const v of views) {
    const key = `${v.page}@${Math.floor(v.ts / TEN_S) * TEN_S}`;
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const produce = run(
    process.execPath,
    [weirBin, 'produce', '--stream', stream, '--partition-key-field', 'session'],
    {
      cwd: app,
      env,
      input: views.map((v) => JSON.stringify(v)).join('\n') + '\n',
      timeoutMs: 60_000,
    },
  );
  expectOk(produce, 'weir produce');

  type Printed = { key: string; window: { start: number }; value: number; version: number };
  const printed = await waitFor(
    'results for every window',
    () => {
      // stdout carries results only, one JSON object per line (logs and metrics go elsewhere).
      const results = stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Printed & { operator?: string });
      expect(results.every((r) => r.operator === 'page-views')).toBe(true);
      return results.length >= expected.size ? results : undefined;
    },
    120_000,
  );
  const asMap = (rs: readonly Printed[]): Map<string, number> =>
    new Map(rs.map((r) => [`${r.key}@${r.window.start}`, r.value]));
  expect(asMap(printed)).toEqual(expected);
  expect(printed.every((r) => r.version === 1)).toBe(true);

  const read = run(process.execPath, ['read-results.mjs', table!], {
    cwd: app,
    env,
    timeoutMs: 60_000,
  });
  expectOk(read, 'read-results.mjs');
  const back = JSON.parse(read.stdout) as { viaReader: Printed[]; viaItems: Printed[] };
  expect(asMap(back.viaReader)).toEqual(expected);
  expect(asMap(back.viaItems)).toEqual(expected);

  proc.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(stderr).toContain('weir dev: stopped');
  return stream;
}
