/**
 * The output adapters: result sinks, late-data sinks and dead-letter outputs
 * for DynamoDB, Kinesis, S3, SQS and memory, and the documents they store.
 * See docs/sinks.md for each one's guarantee and key layout.
 */
export {
  lateRecordJson,
  windowResultJson,
  fromDeadLetterDocument,
  toDeadLetterDocument,
  type DeadLetterDocument,
} from './documents.ts';
export {
  DynamoDbResultSink,
  fromResultItem,
  isRetractedItem,
  isSupersededItem,
  SUPERSEDED_VERSION,
  resultPartitionKey,
  resultSortKey,
  type DynamoDbResultSinkProps,
} from './dynamodb/dynamodb-result-sink.ts';
export type { RetryOptions } from './retry.ts';
export {
  KINESIS_MAX_BATCH_BYTES,
  KINESIS_MAX_BATCH_RECORDS,
  KINESIS_MAX_RECORD_BYTES,
  KinesisSink,
  lateRecordKinesisFormat,
  safePartitionKey,
  windowResultKinesisFormat,
  type KinesisRecordFormat,
  type KinesisSinkProps,
} from './kinesis/kinesis-sink.ts';
export {
  S3Sink,
  joinKey,
  lateRecordS3Format,
  windowResultS3Format,
  type S3ObjectFormat,
  type S3SinkProps,
} from './s3/s3-sink.ts';
export { S3DeadLetterOutput, type S3DeadLetterOutputProps } from './s3/s3-dead-letter.ts';
export { sinkWriteReport } from './sink-report.ts';
export {
  SQS_DEFAULT_MAX_MESSAGE_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  SQS_MAX_MESSAGE_BYTES_LIMIT,
  SqsDeadLetterOutput,
  type SqsDeadLetterOutputProps,
} from './sqs/sqs-dead-letter.ts';
export {
  InMemoryDeadLetterOutput,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemorySink,
} from './memory/in-memory-sinks.ts';
