/**
 * Provisioning from a synthesized CDK template: the template reader and
 * resource creation composed, so names, keys, indexes and ESM settings come
 * from the real stack code and cannot drift from what `cdk deploy` creates.
 *
 *     CfnTemplate ──describeTemplate()──▶ LocalResources ──createLocalResources()──▶ kinesalite / DynamoDB Local /
 *          ▲          (template-reader.ts)     (planned)     (create-resources.ts)     s3rver / SQS (or LocalStack)
 *          │                                                          │ emulator ARNs, queue URLs
 *     the stack, synthesized                                          ▼
 *     by the application               describeTemplate(..., { reported }) ──▶ LocalResources (final)
 *     (e.g. cdk/synth.ts)
 *
 * Synthesizing a stack is the application's job (it needs aws-cdk-lib and the
 * stack code); this module takes the template as data, from `cdk.out` or an
 * in-process synth.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  createLocalResources,
  createLocalTables,
  reportedPhysical,
  type CreateResourcesOptions,
  type ProvisionClients,
} from './create-resources.ts';
import type {
  CfnTemplate,
  LocalNamingOptions,
  LocalResources,
  LocalTable,
} from './local-resources.ts';
import { describeTemplate } from './template-reader.ts';

/** Options of {@link provisionFromTemplate} and {@link provisionTablesFromTemplate}. */
export interface ProvisionOptions extends LocalNamingOptions, CreateResourcesOptions {}

/**
 * Creates the template's streams, tables, buckets and queues on the given
 * clients' endpoints and returns their description, with the ARNs and queue
 * URLs the endpoints reported. Idempotent: resources that already exist are
 * reused. SNS topics are described, not created.
 *
 * @example
 * const aws = await localAwsFromEnv(process.env);
 * const local = await provisionFromTemplate(template, aws.clients());
 * const [mapping] = local.mappings; // handlerEntry, streamName, settings, environment
 */
export async function provisionFromTemplate(
  template: CfnTemplate,
  clients: ProvisionClients,
  options: ProvisionOptions = {},
): Promise<LocalResources> {
  const planned = describeTemplate(template, options);
  const created = await createLocalResources(planned, clients, options);
  const final = describeTemplate(template, { ...options, reported: reportedPhysical(created) });
  return { ...final, tables: created.tables };
}

/**
 * Creates only the template's DynamoDB tables (keys, GSIs, TTL exactly as
 * synthesized), e.g. for adapter tests that need the construct's state table
 * without streams, buckets or queues. Idempotent like
 * {@link provisionFromTemplate}.
 *
 * @example
 * const tables = await provisionTablesFromTemplate(template, clients.dynamodb, { stackName: 'T1' });
 */
export async function provisionTablesFromTemplate(
  template: CfnTemplate,
  dynamodb: DynamoDBClient,
  options: ProvisionOptions = {},
): Promise<readonly LocalTable[]> {
  return createLocalTables(describeTemplate(template, options).tables, dynamodb, options);
}
