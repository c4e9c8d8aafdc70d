/**
 * Judges a handler's response under `ReportBatchItemFailures`, following
 * "Configuring partial batch response with Kinesis Data Streams and Lambda"
 * (success and failure conditions).
 */
import { compareSequenceNumbers } from '../../../model/position.ts';

/** What the ESM does with a batch after a successful invocation. */
export type BatchVerdict =
  /** Checkpoint after the whole batch. */
  | { readonly kind: 'success' }
  /** Treat as if the function failed (retry / bisect the whole batch). */
  | { readonly kind: 'whole-failure'; readonly reason: string }
  /** Checkpoint before `index` (the lowest failed sequence number) and retry from there. */
  | { readonly kind: 'partial'; readonly index: number; readonly sequenceNumber: string };

/**
 * Lambda's rules: a null or empty response, or a null or empty
 * `batchItemFailures` list, is a complete success. An empty-string or null
 * `itemIdentifier`, or an entry without that key, is a complete failure; weir
 * (like LocalStack) also fails the whole batch for an identifier that is not
 * a sequence number of the batch, since the checkpoint cannot be trusted.
 * Several failures: the lowest sequence number wins.
 */
export function judgeBatchResponse(
  value: unknown,
  batchSequenceNumbers: readonly string[],
): BatchVerdict {
  if (value === null || value === undefined) return { kind: 'success' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'whole-failure', reason: `response is not an object (${typeof value})` };
  }
  const failures = (value as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return { kind: 'success' };
  if (!Array.isArray(failures))
    return { kind: 'whole-failure', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  const index = new Map(batchSequenceNumbers.map((s, i) => [s, i]));
  let lowest: { index: number; sequenceNumber: string } | undefined;
  for (const entry of failures as unknown[]) {
    if (entry === null || typeof entry !== 'object' || !('itemIdentifier' in entry)) {
      return {
        kind: 'whole-failure',
        reason: `batchItemFailures entry without itemIdentifier: ${JSON.stringify(entry)}`,
      };
    }
    const id = entry.itemIdentifier;
    if (typeof id !== 'string' || id === '') {
      return { kind: 'whole-failure', reason: `itemIdentifier is ${JSON.stringify(id)}` };
    }
    const i = index.get(id);
    if (i === undefined)
      return {
        kind: 'whole-failure',
        reason: `itemIdentifier ${id} is not a sequence number of this batch`,
      };
    if (!lowest || compareSequenceNumbers(id, lowest.sequenceNumber) < 0)
      lowest = { index: i, sequenceNumber: id };
  }
  return lowest ? { kind: 'partial', ...lowest } : { kind: 'success' };
}
