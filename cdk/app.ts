/**
 * The CDK app (`cdk.json`: `npx tsx cdk/app.ts`).
 *
 * Context (`-c key=value`):
 * - `weir:stackName`   stack name, @default 'WeirDemo' (use a unique one per person / CI run on real AWS)
 * - `weir:streamName`  input stream name, @default 'weir-clicks'
 * - `weir:shardCount`  shards of the input stream, @default 4
 * - `weir:handlerEntry` handler source, @default 'functions/click-counter/handler.ts'
 * - `weir:nag`         `true`: run cdk-nag's AwsSolutions and Serverless packs at synth (as `npm test` does)
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { WeirDemoStack } from './stacks/weir-demo-stack.ts';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
};

const shardCount = context('weir:shardCount');
const streamName = context('weir:streamName');
const handlerEntry = context('weir:handlerEntry');

new WeirDemoStack(app, context('weir:stackName') ?? 'WeirDemo', {
  description:
    'weir demo: click-counter operator (Kinesis -> Lambda -> DynamoDB state, S3 checkpoints)',
  ...(streamName !== undefined ? { streamName } : {}),
  ...(shardCount !== undefined ? { shardCount: Number(shardCount) } : {}),
  ...(handlerEntry !== undefined ? { handlerEntry } : {}),
  env: {
    ...(process.env['CDK_DEFAULT_ACCOUNT'] !== undefined
      ? { account: process.env['CDK_DEFAULT_ACCOUNT'] }
      : {}),
    ...(process.env['CDK_DEFAULT_REGION'] !== undefined
      ? { region: process.env['CDK_DEFAULT_REGION'] }
      : {}),
  },
});

if (context('weir:nag') === 'true') {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

app.synth();
