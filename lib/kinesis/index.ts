/** Kinesis producer, KPL (de)aggregation, NDJSON input and stream helpers. */
export {
  putRecords,
  hashKeyOf,
  KINESIS_LIMITS,
  ProducerError,
  ProducerFailure,
  InvalidRecordError,
  type ProducerRecord,
  type KinesisPutRecordsClient,
  type ProducerProgress,
  type PutRecordsOptions,
  type PutRecordsResult,
  type FailedEntry,
  type ShardHashRange,
} from './producer.ts';
export {
  aggregate,
  deaggregate,
  hasKplMagic,
  KplAggregateBuilder,
  KplDecodeError,
  KplDecodeReason,
  KPL_MAGIC,
  KPL_OVERHEAD_BYTES,
  type KplUserRecordInput,
  type AggregatedKinesisRecord,
  type KinesisRecordLike,
  type DeaggregatedRecord,
} from './kpl.ts';
export { readNdjson, NdjsonLineError, type NdjsonLine, type NdjsonOptions } from './ndjson.ts';
export {
  createStreamAndWait,
  listShards,
  listShardHashRanges,
  mergeShards,
  readWholeStream,
  splitShard,
  type ReshardOptions,
  type ReshardResult,
  type SplitShardOptions,
  type StoredRecord,
} from './stream-admin.ts';
