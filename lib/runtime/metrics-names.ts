/**
 * The names of weir's own CloudWatch metrics: one list, read by the CDK
 * construct (alarms, dashboard, `metricXxx()` methods) and by the runtime
 * that writes them as CloudWatch embedded metric format (EMF) lines, so the
 * two cannot drift, as `WeirEnv` does for environment variables.
 *
 * Every metric lives in namespace {@link WEIR_METRICS_NAMESPACE} with the
 * dimension `Operator` (the pipeline's name). `RecordsDeadLettered` is also
 * written with `Operator` + `Reason` (a `DeadLetterReason` such as
 * `decode-failed`, or `invalid-base64` / `kpl-aggregate-broken` for records
 * rejected before the operator), in documents of their own, so an alarm
 * reads the total and a dashboard the split.
 *
 * The runtime (lib/runtime/telemetry/) sums each invocation's reports and
 * flushes once at its end: one EMF document under `Operator` with every
 * metric the function writes (counts are 0 when nothing happened), then one
 * per dead-letter reason. What each metric means and what to do about it:
 * docs/operations.md.
 *
 * A batch reconciles exactly:
 *
 *     RecordsIn = RecordsSkippedCommitted + RecordsFiltered + RecordsDeadLettered + RecordsLate + RecordsApplied
 *
 * @example
 * import { WeirMetric, WEIR_METRICS_NAMESPACE } from './metrics-names.ts';
 * const m = WeirMetric.RecordsDeadLettered; // { name: 'RecordsDeadLettered', unit: 'Count', statistic: 'Sum', ... }
 */

/** CloudWatch namespace of every weir metric. */
export const WEIR_METRICS_NAMESPACE = 'Weir';

/** Dimension names of weir metrics. */
export const WeirMetricDimension = {
  /** The operator (pipeline) name; on every weir metric. */
  OPERATOR: 'Operator',
  /** Why a record was dead-lettered (`DeadLetterReason`); on `RecordsDeadLettered` only, next to `Operator`. */
  REASON: 'Reason',
} as const;
/** A dimension name of weir metrics. */
export type WeirMetricDimension = (typeof WeirMetricDimension)[keyof typeof WeirMetricDimension];

/** CloudWatch units weir metrics use (EMF `Unit` values). */
export const WeirMetricUnit = {
  COUNT: 'Count',
  MILLISECONDS: 'Milliseconds',
} as const;
/** A CloudWatch unit weir metrics use. */
export type WeirMetricUnit = (typeof WeirMetricUnit)[keyof typeof WeirMetricUnit];

/** How one weir metric is written and read. */
export interface WeirMetricDefinition {
  /** The metric name in CloudWatch. */
  readonly name: string;
  /** The EMF unit. */
  readonly unit: WeirMetricUnit;
  /** The statistic that makes sense over a period (`Sum` for counts, `Maximum` for lags). */
  readonly statistic: 'Sum' | 'Maximum';
  /** The dimension sets it is written with (EMF `Dimensions`). */
  readonly dimensionSets: readonly (readonly WeirMetricDimension[])[];
  /** Which function writes it (`both`: the operator function and the ticker). */
  readonly writtenBy: 'handler' | 'ticker' | 'both' | 'checkpointer';
}

const OPERATOR_ONLY = [[WeirMetricDimension.OPERATOR]] as const;

/**
 * Every weir metric. Counts are per batch (handler) or per tick (ticker) and
 * are summed over a period; `WatermarkLagMs` is a gauge read as its maximum.
 */
export const WeirMetric = {
  /**
   * Kinesis records a batch delivered, after KPL de-aggregation (a broken
   * aggregate counts once). Equals the sum of the five outcomes below. Count.
   */
  RecordsIn: {
    name: 'RecordsIn',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /** Records in state for at least one window (including ones an item had already absorbed on a retry). Count. */
  RecordsApplied: {
    name: 'RecordsApplied',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /** Records late for every window they belong to: written to the late-data output. Count. */
  RecordsLate: {
    name: 'RecordsLate',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /**
   * Records written to the dead-letter output (undecodable, bad event time,
   * a throwing key selector or aggregate, oversized key, broken KPL
   * aggregate). Also written per `Reason`. Count.
   */
  RecordsDeadLettered: {
    name: 'RecordsDeadLettered',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: [
      [WeirMetricDimension.OPERATOR],
      [WeirMetricDimension.OPERATOR, WeirMetricDimension.REASON],
    ],
    writtenBy: 'handler',
  },
  /** Records a user filter dropped (intent, not loss). Count. */
  RecordsFiltered: {
    name: 'RecordsFiltered',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /** Records at or below the shard's committed position: a retried batch, skipped cheaply. Count. */
  RecordsSkippedCommitted: {
    name: 'RecordsSkippedCommitted',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /** Window results fired (first firings and late re-firings, by a batch or a tick). Count. */
  WindowsFired: {
    name: 'WindowsFired',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'both',
  },
  /**
   * State items written by conditional writes that applied: in a batch one
   * per key and window touched (after pre-aggregation), plus the firing and
   * purging at its end; in a tick, firing and purging. Count.
   */
  StateWrites: {
    name: 'StateWrites',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'both',
  },
  /** Conditional state-write groups that lost a race (re-read, re-planned and retried): contention on hot items. Count. */
  StateWriteConflicts: {
    name: 'StateWriteConflicts',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'both',
  },
  /**
   * Processing time minus the operator watermark after each batch and tick,
   * the largest of an invocation: how far event time lags behind the wall
   * clock (it includes `maxOutOfOrderness`). Not written before the first
   * event (no watermark yet). Milliseconds; read its maximum.
   */
  WatermarkLagMs: {
    name: 'WatermarkLagMs',
    unit: WeirMetricUnit.MILLISECONDS,
    statistic: 'Maximum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'both',
  },
  /**
   * Results a tick found fired but not acknowledged as emitted (the outbox)
   * and re-drove to the sink: a sink that failed after firing. Count.
   */
  OutboxBacklog: {
    name: 'OutboxBacklog',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'ticker',
  },
  /** Shard registrations (ListShards and progress writes before a batch) that failed; the batch went on. Count. */
  ShardRegistrationFailures: {
    name: 'ShardRegistrationFailures',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /** End-of-shard and backlog checks of the ticker (GetShardIterator, GetRecords) that failed for a shard. Count. */
  ShardDirectoryFailures: {
    name: 'ShardDirectoryFailures',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'ticker',
  },
  /**
   * AWS calls refused for lack of permission (AccessDenied, KMS access
   * denied, unrecognized client) in the shard steps, or one that failed a
   * batch or a tick: a missing grant. Never expected. Count.
   */
  AccessDenied: {
    name: 'AccessDenied',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'both',
  },
  /**
   * Shard batches that failed (a state, sink or output error): the invocation
   * answers with a partial-batch failure and Lambda retries from the named
   * record, or goes on when everything was applied before the failure. Count.
   */
  BatchFailures: {
    name: 'BatchFailures',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'handler',
  },
  /**
   * Checkpoints the checkpoint function completed in an invocation (0 or 1;
   * written on every invocation, so its absence means the function did not
   * run). Count.
   */
  CheckpointsCompleted: {
    name: 'CheckpointsCompleted',
    unit: WeirMetricUnit.COUNT,
    statistic: 'Sum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'checkpointer',
  },
  /**
   * Age of the newest complete checkpoint when the checkpoint function ran
   * (its capture time to now): how much a restore would replay. Not written
   * before the first checkpoint completes. Milliseconds, a gauge (Maximum).
   */
  CheckpointAgeMs: {
    name: 'CheckpointAgeMs',
    unit: WeirMetricUnit.MILLISECONDS,
    statistic: 'Maximum',
    dimensionSets: OPERATOR_ONLY,
    writtenBy: 'checkpointer',
  },
} as const satisfies Record<string, WeirMetricDefinition>;

/** The name of a weir metric (`'RecordsIn'`, `'WatermarkLagMs'`, ...). */
export type WeirMetricName = keyof typeof WeirMetric;
