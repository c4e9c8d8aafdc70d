/**
 * The local runtime, in pieces that a local run composes (the click-counter
 * example does; so would a command that runs one's own pipeline locally):
 *
 *   1. start or connect the AWS: `localAwsFromEnv` (lib/local-aws/);
 *   2. provision from a synthesized template: `provisionFromTemplate`, the pure
 *      template reader (`describeTemplate`) and resource creation composed;
 *   3. run a mapping with the real handler in worker processes: `LocalMappingRunner`;
 *   4. run the ticker alongside: `localLambdaHandlers`, `TickerLoop`, `tickUntil`;
 *   5. read the outputs back: `readWindowResults`, `listObjectKeys`, `readObjectText`
 *      (and lose a state on purpose, as the demo's drill does: `deleteAllItems`);
 *   6. read what it measured: `LocalMappingRunner.metrics`, an `EmfCollector` of
 *      the handler's EMF lines (the ticker's: `metricsOutput: emf.collect`).
 *
 * The local event source mapping itself has its own index (./esm/index.ts).
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
export { LocalMappingRunner, onFailureDestinationOf } from './mapping-runner.ts';
export { LocalMappingControl } from './mapping-control.ts';
export { CheckpointLoop, localCheckpointer } from './checkpoint-loop.ts';
export type { CheckpointLoopOptions } from './checkpoint-loop.ts';
export type { LocalMappingRunnerOptions, MappingRunnerClients } from './mapping-runner.ts';
export { TickerLoop, localLambdaHandlers, tickUntil } from './ticker-loop.ts';
export type {
  LocalLambdaHandlersOptions,
  Tick,
  TickerLoopOptions,
  TickUntilOptions,
} from './ticker-loop.ts';
export { listObjectKeys, readObjectText, readWindowResults } from './read-outputs.ts';
export { deleteAllItems } from './delete-all-items.ts';
export { EmfCollector, emfData, parseEmfLine } from '../telemetry/emf-collector.ts';
export type {
  EmfDatum,
  EmfDimensions,
  EmfDirective,
  EmfDocument,
} from '../telemetry/emf-collector.ts';
