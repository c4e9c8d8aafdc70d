/**
 * Offline synthesis of the demo stack for the local runtime (the generic
 * `synthesizeTemplate` is in ./synthesize.ts, shipped with the package).
 * The tests, the bench and the click-counter example provision their local
 * resources from this template (lib/runtime/local/provision.ts), so names,
 * keys, indexes and ESM settings come from the stack code.
 *
 * aws-cdk-lib and the stack are loaded lazily: importing this module costs
 * nothing until a template is asked for (the bench's core section imports it
 * alongside and measures in the same process).
 */
import type { EventSourceMappingInput } from '../lib/runtime/esm-settings.ts';
import type { CfnTemplate } from '../lib/runtime/local/index.ts';
import { synthesizeTemplate } from './synthesize.ts';

export { synthesizeTemplate };

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
