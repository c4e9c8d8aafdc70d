/**
 * Shared setup of the CDK tests: a stack that skips bundling, the fixture
 * handler, and a minimal pipeline (the construct reads its name and idle
 * timeout only).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { WeirOperator, type WeirOperatorProps } from '../../cdk/constructs/weir-operator.ts';
import type { TemplateJson } from '../helpers/iam-policy.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The placeholder handler of the CDK tests. */
export const ENTRY = path.join(HERE, 'fixtures', 'click-counter-handler.ts');

/** A pipeline as the construct sees it: name, no idle timeout. */
export const PIPELINE = { name: 'click-counter', time: {} };

/** A stack whose NodejsFunction skips esbuild: synth stays fast and needs no bundler. */
export function testStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

/** One operator in a test stack, synthesized. */
export function synthOperator(props: Partial<WeirOperatorProps> = {}): {
  template: Template;
  json: TemplateJson;
  operator: WeirOperator;
  stack: Stack;
} {
  const stack = testStack();
  const operator = new WeirOperator(stack, 'Op', { pipeline: PIPELINE, entry: ENTRY, ...props });
  const template = Template.fromStack(stack);
  return { template, json: template.toJSON() as TemplateJson, operator, stack };
}
