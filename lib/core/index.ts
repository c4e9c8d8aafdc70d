/**
 * The weir engine core: pipeline API, windows, time, aggregation and the
 * batch algorithm. Pure TypeScript: no AWS SDK, no Node built-ins, no clock.
 * The records it reads and produces are lib/model's.
 */
export { count, sum, min, max, avg, distinctApprox } from './aggregate.ts';
export type { AggregateFunction, AvgAccumulator, DistinctApproxOptions } from './aggregate.ts';
export { json, utf8, bytes } from './decode.ts';
export type { Decoder } from './decode.ts';
export { ms, seconds, minutes, hours } from './duration.ts';
export type { Millis } from './duration.ts';
export {
  AggregateResultError,
  BatchOrderError,
  NondeterministicPipelineError,
  StateContentionError,
} from './errors.ts';
export {
  hllCreate,
  hllAdd,
  hllMerge,
  hllEstimate,
  hllToJson,
  hllFromJson,
  HLL_MIN_PRECISION,
  HLL_MAX_PRECISION,
} from './hll.ts';
export type { HllRegisters } from './hll.ts';
export { MergingWindowSet } from './merging-window-set.ts';
export type { MergedSession } from './merging-window-set.ts';
export { createWindowOperator, WindowOperator, DEFAULT_PAGE_SIZE } from './operator.ts';
export type { BatchOptions, WindowOperatorDeps } from './operator.ts';
export { pipeline, MAX_TIME_SETTING, MAX_KEY_BYTES_LIMIT } from './pipeline.ts';
export type {
  EventTimeOptions,
  EventTimeSettings,
  KeyByOptions,
  KeyedStream,
  KeyedStreamDefinition,
  PipelineSource,
  Step,
  Stream,
  TimedKeyedStream,
  TimedStream,
  WindowedOperatorDefinition,
  WindowedStream,
} from './pipeline.ts';
export { MIN_EVENT_TIME, MAX_EVENT_TIME, RecordPipeline } from './record-pipeline.ts';
export { FiringReason, TriggerResult, onBatchEnd, onTick } from './trigger.ts';
export type { BatchEnd, TriggerDecision } from './trigger.ts';
export { isShardActive, watermarkCandidate } from './watermark.ts';
export {
  assignWindows,
  session,
  sessionsConnect,
  sliding,
  tumbling,
  windowStart,
  MAX_WINDOW_SIZE,
  SessionWindows,
  SlidingWindows,
  TumblingWindows,
} from './window.ts';
export type { WindowAssigner } from './window.ts';
