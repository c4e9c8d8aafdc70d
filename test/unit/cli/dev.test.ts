/**
 * `weir dev` in-process up to the point where it would start the AWS: usage
 * errors (exit 2 with the usage), setup errors (exit 1 naming the file and
 * the fix), and the default ticker cadence. The running session is covered
 * by test/e2e/package-install.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliContext, CliHooks } from '../../../lib/cli/command.ts';
import { DEV_EXIT, defaultTickIntervalMs } from '../../../lib/cli/dev.ts';
import { main } from '../../../lib/cli/main.ts';
import { loadDemoTemplate } from '../../../cdk/synth.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'weir-dev-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const neverSynth: CliHooks = {
  synthesizeDevStack: () => Promise.reject(new Error('setup should have failed before synth')),
};

async function dev(args: readonly string[], hooks: CliHooks = neverSynth) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const ctx: CliContext = {
    env: {},
    stdin: Readable.from([]),
    stdout: out,
    stderr: err,
    cwd: dir,
    signal: new AbortController().signal,
  };
  const code = await main(['dev', ...args], ctx, hooks);
  return { code, stdout, stderr };
}

const lib = JSON.stringify(join(ROOT, 'lib/index.ts'));
const definition = (name: string): string =>
  `pipeline('${name}').decode(json()).keyBy((v) => String(v)).eventTime(() => 0, { maxOutOfOrderness: seconds(1) }).window(tumbling(seconds(10))).aggregate(count())`;

function project(name: string, files: Record<string, string>): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'fn'), { recursive: true });
  writeFileSync(join(root, 'package.json'), '{}');
  for (const [f, text] of Object.entries(files)) writeFileSync(join(root, 'fn', f), text);
  return root;
}

describe('weir dev: usage', () => {
  it('GIVEN --help WHEN run THEN the usage goes to stdout and the exit code is 0', async () => {
    const r = await dev(['--help']);
    expect(r.code).toBe(DEV_EXIT.OK);
    expect(r.stdout).toContain('Usage: weir dev PIPELINE_FILE [options]');
  });

  it.each([
    [['p.ts', '--frobnicate'], 'unknown option --frobnicate'],
    [[], 'the pipeline file is required'],
    [['a.ts', 'b.ts'], 'at most 1 argument expected (given 2)'],
    [['p.ts', '--shards', '0'], '--shards must be an integer >= 1, got "0"'],
    [['p.ts', '--tick-interval', 'soon'], '--tick-interval must be an integer >= 1, got "soon"'],
    [['p.ts', '--stack-name', '9lives'], '--stack-name must be a CloudFormation stack name'],
    [['p.ts', '--template', 't.json', '--shards', '2'], '--shards does not apply with --template'],
    [['p.ts', '--template', 't.json', '--entry', 'h.ts'], '--entry does not apply with --template'],
  ])('GIVEN %j WHEN run THEN exit 2 with the reason and the usage', async (args, reason) => {
    const r = await dev(args);
    expect(r.code).toBe(DEV_EXIT.USAGE);
    expect(r.stderr).toContain(reason);
    expect(r.stderr).toContain('Usage: weir dev PIPELINE_FILE');
  });
});

describe('weir dev: setup errors', () => {
  it('GIVEN a CLI entry without the construct WHEN run THEN exit 1 says which binary to run', async () => {
    const r = await dev(['p.ts'], {});
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain('no CDK synthesizer');
  });

  it('GIVEN a missing pipeline file WHEN run THEN exit 1 names it', async () => {
    const r = await dev(['nowhere/pipeline.ts']);
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain(`pipeline file ${join(dir, 'nowhere/pipeline.ts')} does not exist`);
  });

  it('GIVEN a file exporting two pipelines WHEN run without --export THEN exit 1 lists them', async () => {
    const root = project('two', {
      'pipeline.ts': `import { count, json, pipeline, seconds, tumbling } from ${lib};\nexport const a = ${definition('a')};\nexport const b = ${definition('b')};\n`,
    });
    const r = await dev([join(root, 'fn', 'pipeline.ts')]);
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain('exports 2 pipelines (a, b); choose one with --export');
  });

  it('GIVEN --export of a pipeline with no handler beside it WHEN run THEN exit 1 says where it looked and how to name it', async () => {
    const root = project('nohandler', {
      'pipeline.ts': `import { count, json, pipeline, seconds, tumbling } from ${lib};\nexport const a = ${definition('a')};\nexport const b = ${definition('b')};\n`,
    });
    const r = await dev([join(root, 'fn', 'pipeline.ts'), '--export', 'b']);
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain('no handler module beside pipeline.ts');
    expect(r.stderr).toContain('name it with --entry');
  });

  it('GIVEN a file without a pipeline WHEN run THEN exit 1 says so', async () => {
    const root = project('none', { 'pipeline.ts': 'export const x = 1;\n' });
    const r = await dev([join(root, 'fn', 'pipeline.ts')]);
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain('exports no pipeline');
  });
});

describe('weir dev --template: the user app template', () => {
  const pipelineA = `import { count, json, pipeline, seconds, tumbling } from ${lib};\nexport const a = ${definition('a')};\n`;

  it('GIVEN a template that does not run the pipeline WHEN run THEN exit 1 names the operators it runs, before anything starts', async () => {
    const root = project('other-template', { 'pipeline.ts': pipelineA });
    const template = join(root, 'WeirDemo.template.json');
    writeFileSync(template, JSON.stringify(await loadDemoTemplate()));
    const r = await dev([join(root, 'fn', 'pipeline.ts'), '--template', template], {});
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain(
      'the template has no event source mapping of operator a (its event source mappings run: click-counter)',
    );
  });

  it('GIVEN a template file that is not JSON WHEN run THEN exit 1 says so', async () => {
    const root = project('bad-template', { 'pipeline.ts': pipelineA });
    const template = join(root, 'x.template.json');
    writeFileSync(template, 'Resources: {}');
    const r = await dev([join(root, 'fn', 'pipeline.ts'), '--template', template], {});
    expect(r.code).toBe(DEV_EXIT.FAILED);
    expect(r.stderr).toContain(`${template} is not a synthesized CloudFormation template (JSON)`);
  });
});

describe('weir dev: default tick interval', () => {
  it.each([
    [undefined, 60_000],
    [10_000, 10_000],
    [7_000, 6_000],
    [2_500, 2_000],
    [500, 1_000],
    [90_000, 60_000],
  ])('GIVEN idleTimeout %s WHEN defaulted THEN the ticker ticks every %d ms', (idle, interval) => {
    expect(defaultTickIntervalMs(idle)).toBe(interval);
  });
});
