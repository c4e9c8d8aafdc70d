/**
 * The local runtime: provisioning from a synthesized CDK template (the pure
 * template reader, resource creation, and the two composed). The local event
 * source mapping has its own index (./esm/index.ts).
 */
export { localPhysicalName } from './cfn-names.ts';
export type { ReportedPhysical } from './cfn-names.ts';
export { describeTemplate, ratePeriodMs } from './template-reader.ts';
export type { DescribeTemplateOptions } from './template-reader.ts';
export {
  createLocalResources,
  createLocalTables,
  createTableInput,
  reportedPhysical,
} from './create-resources.ts';
export type {
  CreateResourcesOptions,
  CreatedResources,
  ProvisionClients,
} from './create-resources.ts';
export { provisionFromTemplate, provisionTablesFromTemplate } from './provision.ts';
export type { ProvisionOptions } from './provision.ts';
export type {
  CfnResource,
  CfnTemplate,
  LocalBucket,
  LocalIndex,
  LocalKeyElement,
  LocalMapping,
  LocalNamingOptions,
  LocalOnFailure,
  LocalQueue,
  LocalResources,
  LocalStream,
  LocalTable,
  LocalTableSchema,
  LocalThroughput,
  LocalTicker,
  LocalTopic,
} from './local-resources.ts';
