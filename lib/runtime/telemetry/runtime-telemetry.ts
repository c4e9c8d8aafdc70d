/**
 * The runtime's telemetry port: what an {@link OperatorRuntime} tells an
 * observer after each batch and tick. The runtime only reports; turning
 * reports into metrics (and where they go) is the adapters' business
 * (`InvocationFigures` → `EmfMetricsWriter` in Lambda).
 *
 *   OperatorRuntime ──batch(report) / batchFailed(shard) / tick(report)──► RuntimeTelemetry
 */
import type { ShardId } from '../../model/position.ts';
import { DeadLetterKind, type DeadLetter } from '../../model/records.ts';
import type { BatchReport, TickReport } from '../operator-runtime.ts';

/** Receives the runtime's reports, synchronously, as they are made. */
export interface RuntimeTelemetry {
  /** A shard batch was handled (its records accounted for, results emitted). */
  batch(report: BatchReport): void;
  /** A shard batch failed (the invocation answers with a partial-batch failure, or goes on if all was applied). */
  batchFailed(shardId: ShardId, error: unknown): void;
  /** A tick ran; called before a tick with refused calls throws. */
  tick(report: TickReport): void;
}

/**
 * The `Reason` a dead letter is counted under: the operator's
 * `DeadLetterReason` code when it has one (`decode-failed`, `key-too-large`,
 * ...); records rejected before the operator have none and count as
 * `invalid-base64` (kinesis.data not base64) or `kpl-aggregate-broken`.
 *
 * @example
 * deadLetterMetricReason({ ...letter, code: 'decode-failed' }); // 'decode-failed'
 */
export function deadLetterMetricReason(d: Pick<DeadLetter, 'code' | 'kind'>): string {
  if (d.code !== undefined) return d.code;
  if (d.kind === DeadLetterKind.Kpl) return 'kpl-aggregate-broken';
  if (d.kind === DeadLetterKind.Decode) return 'invalid-base64';
  return d.kind;
}

/** Dead letters counted by {@link deadLetterMetricReason}. */
export function deadLettersByReason(
  letters: readonly Pick<DeadLetter, 'code' | 'kind'>[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of letters) {
    const reason = deadLetterMetricReason(d);
    out[reason] = (out[reason] ?? 0) + 1;
  }
  return out;
}
