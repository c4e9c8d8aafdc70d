/**
 * The `weir/cdk` entry: the `WeirOperator` construct, its monitoring, and
 * offline synthesis for the local runtime. Needs the peer dependencies
 * `aws-cdk-lib` and `constructs`.
 *
 * @example
 * import { WeirOperator } from 'weir/cdk';
 * import { clicks } from '../functions/clicks/pipeline.ts';
 *
 * new WeirOperator(stack, 'Clicks', {
 *   pipeline: clicks,
 *   entry: 'functions/clicks/handler.ts',
 *   projectRoot: PROJECT_ROOT,
 *   shardCount: 2,
 * });
 */
export {
  OnFailureDestinationType,
  WeirEnvironment,
  WeirOperator,
  WeirResourceNames,
} from './constructs/weir-operator.ts';
export type { WeirOperatorProps, WeirPipeline } from './constructs/weir-operator.ts';
export { WEIR_ALARM_NAMES, WeirMonitoring } from './constructs/weir-monitoring.ts';
export type {
  WeirAlarmName,
  WeirAlarmOptions,
  WeirMonitoringProps,
  WeirOperatorAlarms,
  WeirOperatorMetricSource,
} from './constructs/weir-monitoring.ts';
export { LOCK_FILE_NAMES, resolveProjectFiles } from './constructs/project-files.ts';
export type { ProjectFiles, ProjectFilesInput } from './constructs/project-files.ts';
export { synthesizeTemplate } from './synthesize.ts';
export { synthesizeDevTemplate } from './dev-stack.ts';
export type { DevStackRequest } from '../lib/cli/command.ts';
