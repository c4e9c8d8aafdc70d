/** `weir status`: one look at an operator (gathering, the report's shape, rendering). */
export { gatherStatus } from './gather-status.ts';
export type { GatherStatusOptions, StatusSources } from './gather-status.ts';
export { awsStatusSources } from './aws-status-sources.ts';
export type { AwsStatusSourcesOptions } from './aws-status-sources.ts';
export {
  formatDuration,
  formatStatusJson,
  formatStatusTable,
  shortSequence,
} from './format-status.ts';
export { STATUS_SCHEMA } from './status-model.ts';
export type {
  CommittedPosition,
  OperatorStatus,
  RedrivenRange,
  ShardBehind,
  ShardState,
  ShardStatus,
} from './status-model.ts';
