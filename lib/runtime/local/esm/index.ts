/**
 * The local Kinesis event source mapping: Lambda's ESM behaviour (batching,
 * retries, bisect, partial batch responses, record age, on-failure records,
 * parent-before-child) against any Kinesis endpoint, with handlers run in
 * this process or in separate worker processes. See docs/local-esm.md.
 */
export {
  LocalEventSourceMapping,
  systemClock,
  type LocalEventSourceMappingOptions,
  type EsmClock,
  type EsmEvent,
  type EsmStats,
  type ShardStats,
} from './local-esm.ts';
export {
  InProcessHandlerInvoker,
  lambdaContext,
  type HandlerInvoker,
  type InvokeContext,
  type InvokeOutcome,
  type KinesisHandler,
  type InProcessHandlerInvokerOptions,
} from './invoker.ts';
export {
  ProcessHandlerInvoker,
  type ProcessHandlerInvokerOptions,
  type ProcessInvokerStats,
  type KillFault,
} from './process-invoker.ts';
export {
  buildKinesisEvent,
  buildKinesisRecord,
  arrivalSeconds,
  type StreamRecordInput,
  type KinesisEventSource,
} from './kinesis-event.ts';
export { judgeBatchResponse, type BatchVerdict } from './batch-response.ts';
export {
  afterInvocation,
  EsmAction,
  expireRecords,
  judgeInvocation,
  startBatch,
  type BatchProgress,
  type BatchRetrySettings,
  type Discard,
  type InvocationResult,
  type LastInvocation,
  type PendingRange,
  type Transition,
} from './batch-state-machine.ts';
export { kinesisFailureRecord, type FailureRecordInput } from './failure-record.ts';
export {
  FailureCondition,
  InMemoryOnFailureDestination,
  S3OnFailureDestination,
  SqsOnFailureDestination,
  s3FailureObjectKey,
  type OnFailureDestination,
  type FailedBatch,
  type KinesisFailureRecord,
  type S3OnFailureDestinationOptions,
  type SqsOnFailureDestinationOptions,
} from './on-failure.ts';
