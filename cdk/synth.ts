/**
 * Offline synthesis for the local runtime: a stack's CloudFormation template
 * in-process, without bundling any asset (context `aws:cdk:bundling-stacks`
 * = []), so neither esbuild nor Docker is needed and it takes about a second.
 * The tests, the bench and the click-counter example provision their local
 * resources from this template (lib/runtime/local/provision.ts), so names,
 * keys, indexes and ESM settings come from the stack code.
 *
 * aws-cdk-lib and the stack are loaded lazily: importing this module costs
 * nothing until a template is asked for (the bench's core section imports it
 * alongside and measures in the same process).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import type { EventSourceMappingInput } from '../lib/runtime/esm-settings.ts';
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

/** Options of {@link loadDemoTemplate}. */
export interface LoadDemoTemplateOptions {
  /** @default 'WeirDemo' */
  readonly stackName?: string;
  /** Input stream name. @default 'weir-clicks' */
  readonly streamName?: string;
  /** @default 4 */
  readonly shardCount?: number;
  /** Handler source, relative to the project root or absolute. @default 'functions/click-counter/handler.ts' */
  readonly handlerEntry?: string;
  /** ESM settings of the click counter, as the stack takes them. */
  readonly eventSourceMapping?: EventSourceMappingInput;
  /** On-failure destination of the click counter. @default 'sqs' */
  readonly onFailure?: 'sqs' | 'sns' | 's3';
}

/**
 * Synthesizes `WeirDemoStack` (cdk/stacks/weir-demo-stack.ts) offline and
 * returns its template.
 *
 * @example
 * const template = await loadDemoTemplate({ shardCount: 2, onFailure: 's3' });
 * const local = await provisionFromTemplate(template, aws.clients());
 */
export async function loadDemoTemplate(
  options: LoadDemoTemplateOptions = {},
): Promise<CfnTemplate> {
  const { WeirDemoStack } = await import('./stacks/weir-demo-stack.ts');
  const stackName = options.stackName ?? 'WeirDemo';
  return synthesizeTemplate(stackName, (app) => {
    new WeirDemoStack(app, stackName, {
      ...(options.streamName !== undefined ? { streamName: options.streamName } : {}),
      ...(options.shardCount !== undefined ? { shardCount: options.shardCount } : {}),
      ...(options.handlerEntry !== undefined ? { handlerEntry: options.handlerEntry } : {}),
      ...(options.eventSourceMapping !== undefined
        ? { eventSourceMapping: options.eventSourceMapping }
        : {}),
      ...(options.onFailure !== undefined ? { onFailure: options.onFailure } : {}),
    });
  });
}
