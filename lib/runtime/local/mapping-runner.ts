/**
 * Runs one event source mapping of a template locally: weir's local ESM
 * reading the mapping's stream with the mapping's settings, invoking the
 * function's real handler (`weir:entry`) in worker processes as Lambda
 * would, with the function's environment on top of the local endpoints, and
 * reporting discarded batches to the mapping's on-failure destination.
 *
 *     LocalMapping (provisionFromTemplate) ──▶ LocalMappingRunner
 *                                                ├─ ProcessHandlerInvoker: <projectRoot>/<handlerEntry>#<handlerExport>,
 *                                                │    env = endpoints + mapping.environment;
 *                                                │    stdout ─► EMF lines kept in `metrics`, every line to onLog
 *                                                └─ LocalEventSourceMapping: mapping.streamName, mapping.settings,
 *                                                     on failure: S3 bucket / SQS queue of the mapping (SNS: counted only)
 */
import { resolve } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { EventSourceMappingInput } from '../esm-settings.ts';
import {
  LocalEventSourceMapping,
  ProcessHandlerInvoker,
  S3OnFailureDestination,
  SqsOnFailureDestination,
  type OnFailureDestination,
} from './esm/index.ts';
import type { LocalMapping, LocalOnFailure } from './local-resources.ts';
import { EmfCollector } from '../telemetry/emf-collector.ts';

/** The SDK clients a mapping runner needs; `AwsClients` (LocalAws.clients()) fits. */
export interface MappingRunnerClients {
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

/** Options of {@link LocalMappingRunner}. */
export interface LocalMappingRunnerOptions {
  /** The mapping to run, as {@link provisionFromTemplate} returns it. */
  readonly mapping: LocalMapping;
  readonly clients: MappingRunnerClients;
  /**
   * Environment of the handler processes, under the function's own variables
   * (which win): typically `LocalAws.env()`, the endpoints and credentials.
   * @default {}
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Changes to the template's ESM settings (validated again), e.g. a larger batch. @default {} */
  readonly settings?: EventSourceMappingInput;
  /** Directory the handler entry is relative to: the stack's project root. @default the current directory */
  readonly projectRoot?: string;
  /** Wait before polling a shard again after it returned nothing. @default 1000 (as Lambda) */
  readonly pollIntervalMs?: number;
  /** The function's timeout, enforced by the invoker. @default 60000 */
  readonly functionTimeoutMs?: number;
  /** Receives every line the handler processes write (EMF metric lines included). @default discard */
  readonly onLog?: (line: string, pid: number) => void;
}

/**
 * One template mapping run by weir's local ESM against the real handler in
 * worker processes. `esm` and `invoker` are exposed for events, statistics
 * and injected crashes.
 *
 * @example
 * const resources = await provisionFromTemplate(template, aws.clients());
 * const runner = new LocalMappingRunner({ mapping: resources.mappings[0]!, clients, env: aws.env() });
 * await runner.start();
 * // ... produce ...
 * await runner.waitUntilIdle({ timeoutMs: 60_000 });
 * runner.metrics.sum('RecordsIn', { Operator: 'click-counter' }); // from the handler's EMF lines
 * await runner.stop();
 */
export class LocalMappingRunner {
  /** The local event source mapping (`on(...)` for its events, `stats()`). */
  readonly esm: LocalEventSourceMapping;
  /** The worker processes running the handler (`stats()`, `killDuringNextInvocation(...)`). */
  readonly invoker: ProcessHandlerInvoker;
  /**
   * The EMF metric documents the handler wrote (one flush per invocation),
   * as CloudWatch would read them: `metrics.sum('RecordsIn', { Operator: name })`.
   */
  readonly metrics = new EmfCollector();

  constructor(options: LocalMappingRunnerOptions) {
    const { mapping } = options;
    // `weir:entry` is relative to the stack's project root, not to this process's directory.
    const projectRoot = resolve(options.projectRoot ?? process.cwd());
    this.invoker = new ProcessHandlerInvoker({
      handler: `${resolve(projectRoot, mapping.handlerEntry)}#${mapping.handlerExport}`,
      env: { ...options.env, ...mapping.environment },
      functionName: mapping.functionLogicalId,
      cwd: projectRoot,
      onLog: (line, pid) => {
        this.metrics.collect(line);
        options.onLog?.(line, pid);
      },
    });
    const onFailure =
      mapping.onFailure === undefined
        ? undefined
        : onFailureDestinationOf(mapping.onFailure, options.clients);
    this.esm = new LocalEventSourceMapping({
      kinesis: options.clients.kinesis,
      streamName: mapping.streamName,
      invoker: this.invoker,
      settings: { ...mapping.settings, ...options.settings },
      ...(onFailure !== undefined ? { onFailure } : {}),
      ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      ...(options.functionTimeoutMs !== undefined
        ? { functionTimeoutMs: options.functionTimeoutMs }
        : {}),
      functionName: mapping.functionLogicalId,
    });
  }

  /** Starts polling every shard of the stream. */
  async start(): Promise<void> {
    await this.esm.start();
  }

  /** Resolves once every shard has been caught up and no batch is in flight. */
  async waitUntilIdle(options: { readonly timeoutMs: number }): Promise<void> {
    await this.esm.waitUntilIdle(options);
  }

  /** Stops polling (the batch in flight completes), then stops the worker processes. */
  async stop(): Promise<void> {
    try {
      await this.esm.stop();
    } finally {
      await this.invoker.close();
    }
  }
}

/**
 * The local ESM's destination for a template's on-failure setting: the S3
 * bucket or SQS queue it names; undefined for SNS (the embedded tier has no
 * SNS; discarded batches are then only counted, as by a mapping without a
 * destination).
 */
export function onFailureDestinationOf(
  onFailure: LocalOnFailure,
  clients: Pick<MappingRunnerClients, 's3' | 'sqs'>,
): OnFailureDestination | undefined {
  switch (onFailure.type) {
    case 's3':
      return new S3OnFailureDestination({ client: clients.s3, bucket: onFailure.name });
    case 'sqs':
      return new SqsOnFailureDestination({
        client: clients.sqs,
        queueUrl: onFailure.url ?? onFailure.name,
        queueArn: onFailure.arn,
      });
    case 'sns':
      return undefined;
  }
}
