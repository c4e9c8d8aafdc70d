/**
 * weir: Flink-style stateful stream processing on serverless AWS.
 *
 * The package entry: the pipeline API and built-in aggregates (engine core),
 * the ports, the AWS and in-memory adapters, the Lambda runtime, the
 * producer, reading results back, and the local runtime (embedded AWS,
 * provisioning from a synthesized template, the local event source mapping
 * running the real handler, the ticker loop). Testing tools are the
 * `weir/testing` entry.
 *
 * @example
 * import { pipeline, json, tumbling, minutes, count, createLambdaHandlers, lambdaConfigFromEnv } from 'weir';
 *
 * const clicks = pipeline('clicks')
 *   .decode(json<{ page: string; ts: number }>())
 *   .keyBy((c) => c.page)
 *   .eventTime((c) => c.ts, { maxOutOfOrderness: 5_000, idleTimeout: 60_000 })
 *   .window(tumbling(minutes(1)))
 *   .sideOutputLateData('late')
 *   .aggregate(count());
 * export const { handler, ticker } = createLambdaHandlers(clicks, lambdaConfigFromEnv(process.env));
 */
export {
  avg,
  bytes,
  count,
  distinctApprox,
  hours,
  json,
  max,
  min,
  minutes,
  ms,
  pipeline,
  seconds,
  session,
  sliding,
  sum,
  tumbling,
  utf8,
  createWindowOperator,
  WindowOperator,
  AggregateResultError,
  BatchOrderError,
  NondeterministicPipelineError,
  StateContentionError,
} from './core/index.ts';
export type {
  AggregateFunction,
  Decoder,
  WindowAssigner,
  WindowedOperatorDefinition,
} from './core/index.ts';
export {
  DeadLetterKind,
  DeadLetterReason,
  LateReason,
  deadLetterId,
  lateRecordId,
  position,
  resultId,
  shardId,
  windowResult,
  windowRetraction,
  isRetraction,
} from './model/index.ts';
export type {
  BatchCounts,
  BatchOutcome,
  DeadLetter,
  DecodedRecord,
  JsonValue,
  LateRecord,
  Position,
  ShardId,
  SourceRecord,
  TimeWindow,
  WindowRetraction,
  WindowResult,
} from './model/index.ts';
export {
  WeirError,
  ConfigError,
  RecordDecodeError,
  CheckpointError,
  CheckpointProblem,
  ReplayGapError,
  FencedError,
  EmulatorError,
  RecordTooLargeError,
} from './errors.ts';
export {
  DeadLetterError,
  ManualClock,
  SinkError,
  SinkOutcome,
  systemClock,
} from './ports/index.ts';
export type {
  Clock,
  DeadLetterOutput,
  ShardDirectory,
  Sink,
  SinkWriteReport,
  StateStore,
} from './ports/index.ts';
export { createAwsClients, endpointsFromEnv } from './adapters/aws-clients.ts';
export type { AwsClients, AwsClientConfig } from './adapters/aws-clients.ts';
export { DynamoDbStateStore } from './adapters/dynamodb/dynamodb-state-store.ts';
export { KinesisShardDirectory } from './adapters/kinesis/kinesis-shard-directory.ts';
export {
  DynamoDbResultSink,
  KinesisSink,
  S3Sink,
  S3DeadLetterOutput,
  SqsDeadLetterOutput,
  InMemoryResultSink,
  InMemoryLateRecordSink,
  InMemoryDeadLetterOutput,
  lateRecordS3Format,
  windowResultS3Format,
  lateRecordKinesisFormat,
  windowResultKinesisFormat,
} from './adapters/sinks.ts';
export { InMemoryStateStore } from './adapters/memory/index.ts';
export type { CheckpointStore } from './ports/index.ts';
export type { CheckpointManifest } from './model/index.ts';
export { S3CheckpointStore, CheckpointStorageError } from './adapters/s3/s3-checkpoint-store.ts';
export type { S3CheckpointStoreProps } from './adapters/s3/s3-checkpoint-store.ts';
export { InMemoryCheckpointStore } from './adapters/memory/index.ts';
export {
  CheckpointTaker,
  CheckpointStatus,
  applyRetention,
  listCheckpoints,
  openCheckpoint,
  readCheckpointItems,
  restoreState,
  verifyCheckpoint,
} from './core/checkpoint/index.ts';
export type {
  CheckpointRun,
  CheckpointSummary,
  CheckpointTakerProps,
  CheckpointVerification,
  RestoreStateProps,
  RestoredState,
  RetentionPolicy,
  RetentionReport,
} from './core/checkpoint/index.ts';
// Restore + replay (`weir restore`, docs/recovery.md "Restore and replay").
export {
  restoreOperator,
  RestoreFailedError,
  ReplayBatchError,
  kinesisReplaySource,
} from './runtime/restore/index.ts';
export type {
  RestoreOperatorOptions,
  RestoreSummary,
  RestoreProgress,
  RestorePhase,
  ReplaySource,
  ReplayTarget,
  ReplayOutcome,
} from './runtime/restore/index.ts';
export { OperatorRuntime } from './runtime/operator-runtime.ts';
export type {
  OperatorRuntimeOptions,
  BatchReport,
  TickReport,
} from './runtime/operator-runtime.ts';
export { createLambdaHandlers } from './runtime/lambda/handlers.ts';
export type { LambdaHandlers, LambdaHandlerOptions } from './runtime/lambda/handlers.ts';
export { lambdaConfigFromEnv, WeirEnv } from './runtime/lambda/config.ts';
export {
  checkpointerEntry,
  createLambdaCheckpointer,
  checkpointerConfigFromEnv,
  type CheckpointerConfig,
  type LambdaCheckpointer,
  type LambdaCheckpointerOptions,
} from './runtime/lambda/checkpointer.ts';
export type { LambdaRuntimeConfig } from './runtime/lambda/config.ts';
export {
  resolveEsmSettings,
  DEFAULT_ESM_SETTINGS,
  StartingPosition,
} from './runtime/esm-settings.ts';
export type {
  EventSourceMappingSettings,
  EventSourceMappingInput,
} from './runtime/esm-settings.ts';
export { putRecords, aggregate, deaggregate, KplDecodeError } from './kinesis/index.ts';
// Resharding a stream for local tests (SplitShard / MergeShards, waiting until ACTIVE).
export { splitShard, mergeShards } from './kinesis/index.ts';
export type { ReshardResult, SplitShardOptions, ReshardOptions } from './kinesis/index.ts';
export type { PutRecordsOptions, PutRecordsResult, ProducerRecord } from './kinesis/index.ts';
export { startLocalAws, connectLocalAws, localAwsFromEnv } from './local-aws/index.ts';
export type { LocalAws, LocalAwsOptions } from './local-aws/index.ts';

// Reading results back (the results table as docs/sinks.md describes it).
export {
  fromResultItem,
  isRetractedItem,
  isSupersededItem,
} from './adapters/dynamodb/dynamodb-result-sink.ts';

// The local runtime: the pieces a local run composes (examples/click-counter does).
export {
  InProcessHandlerInvoker,
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
  SqsOnFailureDestination,
  InMemoryOnFailureDestination,
  FailureCondition,
} from './runtime/local/esm/index.ts';
export type {
  EsmEvent,
  EsmStats,
  FailedBatch,
  HandlerInvoker,
  InvokeContext,
  InvokeOutcome,
  KillFault,
  KinesisHandler,
  KinesisFailureRecord,
  LocalEventSourceMappingOptions,
  OnFailureDestination,
  ProcessHandlerInvokerOptions,
  ProcessInvokerStats,
} from './runtime/local/esm/index.ts';
export {
  LocalMappingRunner,
  TickerLoop,
  createLocalResources,
  createLocalTables,
  deleteAllItems,
  describeTemplate,
  listObjectKeys,
  localLambdaHandlers,
  localPhysicalName,
  onFailureDestinationOf,
  provisionFromTemplate,
  provisionTablesFromTemplate,
  ratePeriodMs,
  readObjectText,
  readWindowResults,
  tickUntil,
} from './runtime/local/index.ts';
export type {
  CfnResource,
  CfnTemplate,
  CreateResourcesOptions,
  CreatedResources,
  DescribeTemplateOptions,
  LocalBucket,
  LocalIndex,
  LocalKeyElement,
  LocalLambdaHandlersOptions,
  LocalMapping,
  LocalMappingRunnerOptions,
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
  MappingRunnerClients,
  ProvisionClients,
  ProvisionOptions,
  ReportedPhysical,
  Tick,
  TickerLoopOptions,
  TickUntilOptions,
} from './runtime/local/index.ts';

// TypeScript in local runs: tsx from weir's own install (what `weir dev` and the process invoker use).
export {
  TypeScriptLoaderError,
  enableTypeScriptImports,
  isTypeScriptFile,
  tsxLoaderUrl,
} from './runtime/local/typescript.ts';
