/**
 * The stack `weir dev` runs locally: one {@link WeirOperator} for the given
 * pipeline and handler, exactly as an application would declare it, so the
 * stream, tables, bucket, ESM settings and environment `weir dev` provisions
 * are the construct's. Synthesized offline (no bundling).
 */
import type { DevStackRequest } from '../lib/cli/command.ts';
import type { CfnTemplate } from '../lib/runtime/local/index.ts';
import { synthesizeTemplate } from './synthesize.ts';

/**
 * Synthesizes a stack holding one `WeirOperator` for `request.pipeline`
 * (ticker `rate(1 minute)` ticking every `request.tickIntervalMs`,
 * removal policy DESTROY, no alarms or dashboard) and returns its template.
 *
 * @example
 * const template = await synthesizeDevTemplate({
 *   stackName: 'WeirDev', pipeline: clicks, entry: '/app/functions/clicks/handler.ts',
 *   projectRoot: '/app', shardCount: 2, onFailure: 's3', tickIntervalMs: 5000,
 * });
 */
export async function synthesizeDevTemplate(request: DevStackRequest): Promise<CfnTemplate> {
  const { Duration, RemovalPolicy, Stack } = await import('aws-cdk-lib');
  const events = await import('aws-cdk-lib/aws-events');
  const { WeirOperator } = await import('./constructs/weir-operator.ts');
  return synthesizeTemplate(request.stackName, (app) => {
    const stack = new Stack(app, request.stackName);
    new WeirOperator(stack, 'Operator', {
      pipeline: request.pipeline,
      entry: request.entry,
      projectRoot: request.projectRoot,
      ...(request.handler !== undefined ? { handler: request.handler } : {}),
      ...(request.tickerHandler !== undefined ? { tickerHandler: request.tickerHandler } : {}),
      shardCount: request.shardCount,
      onFailure: request.onFailure,
      removalPolicy: RemovalPolicy.DESTROY,
      tickerSchedule: events.Schedule.rate(Duration.minutes(1)),
      tickInterval: Duration.millis(request.tickIntervalMs),
      alarms: false,
      dashboard: false,
    });
  });
}
