/**
 * Offline synthesis of one stack: its CloudFormation template in-process,
 * without bundling any asset (context `aws:cdk:bundling-stacks` = []), so
 * neither esbuild nor Docker is needed and it takes about a second. The
 * local runtime provisions from this template (lib/runtime/local/provision.ts),
 * so names, keys, indexes and ESM settings come from the stack code.
 *
 * aws-cdk-lib is loaded lazily: importing this module costs nothing until a
 * template is asked for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import type { CfnTemplate } from '../lib/runtime/local/index.ts';

/**
 * Synthesizes the stack that `define` adds to a fresh app, without bundling,
 * and returns its template.
 *
 * @example
 * const template = await synthesizeTemplate('MyStack', (app) => new MyStack(app, 'MyStack'));
 * const local = await provisionFromTemplate(template, aws.clients(), { stackName: 'MyStack' });
 */
export async function synthesizeTemplate(
  stackName: string,
  define: (app: App) => void,
): Promise<CfnTemplate> {
  const { App } = await import('aws-cdk-lib');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-synth-'));
  try {
    const app = new App({
      outdir,
      analyticsReporting: false,
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    define(app);
    return app.synth().getStackByName(stackName).template as CfnTemplate;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
