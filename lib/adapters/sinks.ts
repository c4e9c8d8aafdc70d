/**
 * The output adapters: result sinks, late-data sinks and dead letters for
 * DynamoDB, Kinesis, S3, SQS and memory. See docs/sinks.md for each one's
 * guarantee and key layout.
 */
export {
  DynamoDbResultSink,
  fromResultItem,
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
  lateRecordJson,
  lateRecordS3Format,
  windowResultJson,
  windowResultS3Format,
  type S3ObjectFormat,
  type S3SinkProps,
} from './s3/s3-sink.ts';
export { S3DeadLetter, type S3DeadLetterProps } from './s3/s3-dead-letter.ts';
export {
  SQS_DEFAULT_MAX_MESSAGE_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  SQS_MAX_MESSAGE_BYTES_LIMIT,
  SqsDeadLetter,
  type SqsDeadLetterProps,
} from './sqs/sqs-dead-letter.ts';
export {
  InMemoryDeadLetter,
  InMemoryLateRecordSink,
  InMemoryResultSink,
  InMemorySink,
} from './memory/in-memory-sinks.ts';
