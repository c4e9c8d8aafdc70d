/** The local ESM's options, events and stats (the mapping is in local-esm.ts). */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { EventSourceMappingInput, EventSourceMappingSettings } from '../../esm-settings.ts';
import type { FailureCondition, KinesisFailureRecord } from './failure-record.ts';
import type { HandlerInvoker, InvokeOutcome } from './invoker.ts';
import type { OnFailureDestination } from './on-failure.ts';
import type { ShardId } from '../../../model/position.ts';

/** Time source; tests inject a fake one to age records. */
export interface EsmClock {
  /** Epoch milliseconds. */
  now(): number;
}

/** The system clock. */
export const systemClock: EsmClock = { now: () => Date.now() };

/** Options of {@link LocalEventSourceMapping}. */
export interface LocalEventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly invoker: HandlerInvoker;
  /** The shared ESM description; validated with `resolveEsmSettings`. @default DEFAULT_ESM_SETTINGS */
  readonly settings?: EventSourceMappingSettings | EventSourceMappingInput;
  /** Where discarded batches are reported; without one they are only counted and dropped (as Lambda). */
  readonly onFailure?: OnFailureDestination;
  /** @default 'weir-local' */
  readonly functionName?: string;
  /** @default `arn:aws:lambda:<region>:<account>:function:<functionName>` */
  readonly functionArn?: string;
  /** @default `arn:aws:iam::<account>:role/weir-local-esm` */
  readonly invokeIdentityArn?: string;
  /** The mapping's UUID (used in S3 failure keys). @default a random UUID */
  readonly uuid?: string;
  /** The function's timeout, enforced by the invoker. @default 60000 */
  readonly functionTimeoutMs?: number;
  /** Wait before polling a shard again after it returned nothing (Lambda polls once per second). @default 1000 */
  readonly pollIntervalMs?: number;
  /** How often ListShards runs to find new (child) shards. @default 1000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** Wait before retrying a failed batch. @default 100 */
  readonly retryDelayMs?: number;
  /**
   * Renew an iterator older than this before using it (Kinesis expires them after 300 s).
   * @default 240000
   */
  readonly iteratorMaxAgeMs?: number;
  /** Time source for record age. @default systemClock */
  readonly clock?: EsmClock;
  /** Observability hook; also see {@link LocalEventSourceMapping.on}. */
  readonly onEvent?: (event: EsmEvent) => void;
}

/** What the ESM reports while it works. */
export type EsmEvent =
  | { readonly type: 'shard-started'; readonly shardId: ShardId; readonly iteratorType: string }
  | { readonly type: 'shard-ended'; readonly shardId: ShardId }
  | {
      readonly type: 'batch-start';
      readonly shardId: ShardId;
      readonly requestId: string;
      readonly size: number;
      readonly firstSequenceNumber: string;
      readonly lastSequenceNumber: string;
      /** 0 for the first invocation of these exact records, then 1, 2, ... */
      readonly retry: number;
    }
  | {
      readonly type: 'batch-end';
      readonly shardId: ShardId;
      readonly requestId: string;
      readonly size: number;
      readonly outcome: InvokeOutcome['kind'];
      readonly verdict: string;
    }
  | {
      readonly type: 'batch-error';
      readonly shardId: ShardId;
      readonly requestId: string;
      readonly size: number;
      readonly outcome: InvokeOutcome;
    }
  | {
      readonly type: 'bisect';
      readonly shardId: ShardId;
      readonly from: number;
      readonly left: number;
      readonly right: number;
    }
  | {
      readonly type: 'discarded';
      readonly shardId: ShardId;
      readonly condition: FailureCondition;
      readonly size: number;
      readonly record: KinesisFailureRecord;
    }
  | {
      readonly type: 'iterator-renewed';
      readonly shardId: ShardId;
      readonly reason: 'expired' | 'age';
    }
  | {
      readonly type: 'poll-error';
      /** `*` for an error of shard discovery. */
      readonly shardId: ShardId | '*';
      readonly error: unknown;
    };

/** Per-shard state, as {@link LocalEventSourceMapping.stats} reports it. */
export interface ShardStats {
  readonly shardId: ShardId;
  readonly parentShardIds: readonly string[];
  readonly status: 'waiting-for-parents' | 'reading' | 'consumed';
  /** Last sequence number checkpointed (every record up to it is done). */
  readonly checkpoint: string | undefined;
  readonly inFlight: boolean;
  readonly caughtUp: boolean;
}

/** Counters of a {@link LocalEventSourceMapping}. */
export interface EsmStats {
  readonly invocations: number;
  readonly recordsDelivered: number;
  readonly retries: number;
  readonly bisects: number;
  readonly failuresSent: number;
  readonly recordsDiscarded: number;
  readonly shards: readonly ShardStats[];
}
