/**
 * `WeirDemoStack`: the click-counter demo. One 4-shard stream, one
 * `WeirOperator` named `click-counter` (operator function, ticker, state and
 * results tables, bucket). The local runtime provisions its
 * emulated resources from this stack's synthesized template (see
 * lib/runtime/local/template-reader.ts), so the demo and the deployment share one
 * source of truth.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { Construct } from 'constructs';
import { ConfigError } from '../../lib/errors.ts';
import type { EventSourceMappingInput } from '../../lib/runtime/esm-settings.ts';
import { clickCounter } from '../../functions/click-counter/pipeline.ts';
import { WeirOperator, type OnFailureDestinationType } from '../constructs/weir-operator.ts';

/** The repository root (this file lives in `cdk/stacks/`). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Handler source of the click counter, relative to the project root. */
export const CLICK_COUNTER_ENTRY = 'functions/click-counter/handler.ts';

/** Properties of a {@link WeirDemoStack}. */
export interface WeirDemoStackProps extends StackProps {
  /** Name of the input stream: 1..128 of `[a-zA-Z0-9_.-]`. @default 'weir-clicks' */
  readonly streamName?: string;
  /** Shards of the input stream. @default 4 */
  readonly shardCount?: number;
  /** Handler source, relative to the project root or absolute. @default 'functions/click-counter/handler.ts' */
  readonly handlerEntry?: string;
  /** ESM settings of the click counter. @default DEFAULT_ESM_SETTINGS */
  readonly eventSourceMapping?: EventSourceMappingInput;
  /** On-failure destination of the click counter. @default 'sqs' */
  readonly onFailure?: OnFailureDestinationType;
  /** A demo is torn down after use: everything is deleted with the stack by default. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

/**
 * The demo stack.
 *
 * @example
 * const app = new App();
 * new WeirDemoStack(app, 'WeirDemo', { streamName: 'weir-clicks-alice' });
 */
export class WeirDemoStack extends Stack {
  /** The input stream. */
  readonly stream: kinesis.Stream;
  /** The click-counter operator. */
  readonly clickCounter: WeirOperator;

  constructor(scope: Construct, id: string, props: WeirDemoStackProps = {}) {
    super(scope, id, props);
    const streamName = props.streamName ?? 'weir-clicks';
    if (!STREAM_NAME.test(streamName)) {
      throw new ConfigError(
        'streamName',
        streamName,
        'must be 1..128 characters of letters, digits, _ . -',
      );
    }
    const shardCount = props.shardCount ?? 4;
    if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 10_000) {
      throw new ConfigError('shardCount', shardCount, 'must be an integer 1..10000');
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;

    this.stream = new kinesis.Stream(this, 'Clicks', {
      streamName,
      shardCount,
      streamMode: kinesis.StreamMode.PROVISIONED,
      encryption: kinesis.StreamEncryption.MANAGED,
      removalPolicy,
    });

    this.clickCounter = new WeirOperator(this, 'ClickCounter', {
      pipeline: clickCounter,
      entry: props.handlerEntry ?? CLICK_COUNTER_ENTRY,
      projectRoot: PROJECT_ROOT,
      stream: this.stream,
      ...(props.eventSourceMapping !== undefined
        ? { eventSourceMapping: props.eventSourceMapping }
        : {}),
      ...(props.onFailure !== undefined ? { onFailure: props.onFailure } : {}),
      // The click counter's idleTimeout is 10 s so that `npm start` closes its last windows in
      // seconds; EventBridge invokes the ticker once a minute, so each invocation ticks every 5 s
      // (half the idle timeout: a shard Lambda is retrying gets its activity refreshed in time).
      tickInterval: Duration.seconds(5),
      removalPolicy,
    });

    // A deployment passes its central access-log bucket as serverAccessLogsBucket; the demo has none.
    Validations.of(this.clickCounter).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The demo account has no central S3 access-log bucket; WeirOperator takes one as serverAccessLogsBucket, and a deployment should pass it.',
    });

    new CfnOutput(this, 'StreamName', { value: this.stream.streamName });
    new CfnOutput(this, 'StreamArn', { value: this.stream.streamArn });
    new CfnOutput(this, 'StateTableName', { value: this.clickCounter.stateTable.tableName });
    new CfnOutput(this, 'CheckpointBucketName', {
      value: this.clickCounter.checkpointBucket.bucketName,
    });
    new CfnOutput(this, 'ResultsTableName', { value: this.clickCounter.resultsTable.tableName });
    new CfnOutput(this, 'FunctionName', { value: this.clickCounter.function.functionName });
    new CfnOutput(this, 'TickerFunctionName', {
      value: this.clickCounter.tickerFunction.functionName,
    });
    if (this.clickCounter.failureQueue !== undefined) {
      new CfnOutput(this, 'FailureQueueUrl', { value: this.clickCounter.failureQueue.queueUrl });
    }
  }
}
