/**
 * What Lambda's Kinesis event source mapping does with a polled batch, as a
 * pure state machine: given the mapping's settings, the attempt history of
 * the batch and the outcome of an invocation, it decides to checkpoint,
 * resume after a reported failure, retry the same records, bisect, or give
 * up and report the records to the on-failure destination. It reads no
 * clock and does no I/O: the local ESM (Kinesis, real handlers) and the
 * simulated ESM (in memory, fault tests) are two drivers of these rules, so
 * local, simulated and deployed behaviour read one description
 * ({@link EventSourceMappingSettings}). Sources, per AWS's documentation:
 * docs/local-esm.md.
 *
 * One polled batch in time (indices into the polled records; a range is
 * [from, to); retries are counted per range, invocations of exactly it too):
 *
 *     [0 ...................... 8)  retries 0     invoke ─┬─ success ─────────► CHECKPOINT through 7
 *        │                                               ├─ partial at 3 ────► RESUME: checkpoint through 2,
 *        │                                               │                     [3 .. 8) retries 1 (a retry)
 *        │                                               └─ error ─┬─ bisect & > 1 ─► BISECT (free):
 *        │                                                         │    [0 .. 4) [4 .. 8), retries inherited
 *        │                                                         ├─ retries < max ─► RETRY, retries + 1
 *        │                                                         └─ retries = max ─► GIVE_UP (RetryAttemptsExhausted)
 *        └─ before every invocation: leading records older than maximumRecordAgeInSeconds
 *           ─► EXPIRE (RecordAgeExceeded), the rest is invoked
 *
 * A given-up or expired range is reported, then the checkpoint moves past it
 * and the next range (or batch) follows: Lambda skips it. Splitting does not
 * consume the retry quota; a partial response does ("Configuring partial
 * batch response with Kinesis Data Streams and Lambda"; "Retain discarded
 * batch records for a Kinesis Data Streams event source in Lambda").
 */
import type { EventSourceMappingSettings } from '../../esm-settings.ts';
import { judgeBatchResponse } from './batch-response.ts';
import { FailureCondition } from './failure-record.ts';

/** The settings the state machine reads (a subset of {@link EventSourceMappingSettings}). */
export type BatchRetrySettings = Pick<
  EventSourceMappingSettings,
  | 'bisectBatchOnFunctionError'
  | 'maximumRetryAttempts'
  | 'maximumRecordAgeInSeconds'
  | 'reportBatchItemFailures'
>;

/** What an invocation came to, as the ESM judges it. */
export type InvocationResult =
  /** The function returned a success (or any response when ReportBatchItemFailures is off). */
  | { readonly kind: 'success' }
  /** A valid partial response: `index` (within the invoked range) is the lowest failed record. */
  | { readonly kind: 'partial'; readonly index: number }
  /** The function returned, but its partial response fails the whole batch (the function did not throw). */
  | { readonly kind: 'invalid-response'; readonly reason: string }
  /** The function threw, crashed or timed out. */
  | { readonly kind: 'function-error' };

/** The last invocation of exactly a range's records. */
export interface LastInvocation {
  /** The driver's id of the invocation (Lambda's `requestId`). */
  readonly requestId: string;
  readonly result: InvocationResult;
}

/** A contiguous run of the polled records still to deliver. */
export interface PendingRange {
  /** Index of its first record in the polled batch. */
  readonly from: number;
  /** One past its last record. */
  readonly to: number;
  /** Retries consumed; a bisected half inherits its parent's. */
  readonly retries: number;
  /** Invocations of exactly these records (`approximateInvokeCount`); a bisected half starts at 0. */
  readonly invocations: number;
  /** Undefined until these exact records were invoked. */
  readonly last: LastInvocation | undefined;
}

/** A polled batch in flight: what is left of it, in shard order (the head is delivered next). */
export interface BatchProgress {
  readonly pending: readonly PendingRange[];
}

/** What the ESM does; decisions are values. */
export const EsmAction = {
  /** The invoked range succeeded: checkpoint after it. */
  CHECKPOINT: 'checkpoint',
  /** A partial response: checkpoint before the failed record, retry from it (counts as a retry). */
  RESUME: 'resume',
  /** A function error: invoke the same records again (counts as a retry). */
  RETRY: 'retry',
  /** A function error: split the range in two halves, left first (does not count). */
  BISECT: 'bisect',
  /** Retries exhausted: report the range to the on-failure destination and skip it. */
  GIVE_UP: 'give-up',
  /** Leading records too old: report them and skip them before invoking the rest. */
  EXPIRE: 'expire',
} as const;
/** What the ESM does; decisions are values. */
export type EsmAction = (typeof EsmAction)[keyof typeof EsmAction];

/** Records the ESM gives up on: the range, why, and what the failure record reports. */
export interface Discard {
  readonly from: number;
  readonly to: number;
  readonly condition: FailureCondition;
  /** Invocations of exactly these records. */
  readonly approximateInvokeCount: number;
  /** The last invocation of these records, if any (its request id; whether the function failed). */
  readonly last: LastInvocation | undefined;
}

/**
 * One step of the state machine. The driver applies it in this order: move
 * the checkpoint to `checkpointTo` (if set), send `discard` to the
 * on-failure destination (then the checkpoint moves past it), and continue
 * with `next`.
 */
export interface Transition {
  readonly action: EsmAction;
  /** Every record before this index is done; undefined: the checkpoint does not move yet. */
  readonly checkpointTo: number | undefined;
  /** Records given up on (GIVE_UP, EXPIRE). */
  readonly discard: Discard | undefined;
  /** BISECT: the two halves, left first. */
  readonly halves: readonly [PendingRange, PendingRange] | undefined;
  /** The batch after this step; done when `pending` is empty. */
  readonly next: BatchProgress;
}

/** A freshly polled batch of `size` records: one range, never invoked. */
export function startBatch(size: number): BatchProgress {
  return { pending: size > 0 ? [range(0, size, 0)] : [] };
}

/**
 * The age rule, checked before every invocation (retries included): when
 * `maximumRecordAgeInSeconds` is set and the head range starts with records
 * that arrived more than that long before `nowMs`, those records are given
 * up (RecordAgeExceeded) and the rest of the range stays. Undefined when the
 * head may be invoked as it is.
 *
 * @param arrivalMs the arrival time (epoch ms) of the polled record at an index.
 */
export function expireRecords(
  settings: BatchRetrySettings,
  batch: BatchProgress,
  nowMs: number,
  arrivalMs: (index: number) => number,
): Transition | undefined {
  const head = batch.pending[0];
  const maxAge = settings.maximumRecordAgeInSeconds;
  if (head === undefined || maxAge === -1) return undefined;
  let end = head.from;
  while (end < head.to && nowMs - arrivalMs(end) > maxAge * 1000) end += 1;
  if (end === head.from) return undefined;
  const rest = end < head.to ? [{ ...head, from: end }] : [];
  return {
    action: EsmAction.EXPIRE,
    checkpointTo: undefined,
    discard: discardOf(head, head.from, end, FailureCondition.RecordAgeExceeded),
    halves: undefined,
    next: { pending: [...rest, ...batch.pending.slice(1)] },
  };
}

/**
 * Judges what a function that returned answered: under ReportBatchItemFailures
 * its response may be a success, a partial failure or an invalid response
 * ({@link judgeBatchResponse}); without it any response is a success.
 *
 * @param sequenceNumbers of the invoked records, in order.
 */
export function judgeInvocation(
  settings: Pick<BatchRetrySettings, 'reportBatchItemFailures'>,
  response: unknown,
  sequenceNumbers: readonly string[],
): InvocationResult {
  if (!settings.reportBatchItemFailures) return { kind: 'success' };
  const verdict = judgeBatchResponse(response, sequenceNumbers);
  if (verdict.kind === 'success') return verdict;
  if (verdict.kind === 'partial') return { kind: 'partial', index: verdict.index };
  return { kind: 'invalid-response', reason: verdict.reason };
}

/**
 * Decides what follows an invocation of the head range (the one
 * {@link expireRecords} let through).
 */
export function afterInvocation(
  settings: BatchRetrySettings,
  batch: BatchProgress,
  invocation: LastInvocation,
): Transition {
  const current = batch.pending[0];
  if (current === undefined) throw new RangeError('afterInvocation: no range is pending');
  const rest = batch.pending.slice(1);
  const head: PendingRange = { ...current, invocations: current.invocations + 1, last: invocation };
  const { result } = invocation;
  const maxRetries = settings.maximumRetryAttempts;
  const exhausted = (retries: number): boolean => maxRetries !== -1 && retries > maxRetries;

  if (result.kind === 'success') {
    return step(EsmAction.CHECKPOINT, head.to, undefined, { pending: rest });
  }
  if (result.kind === 'partial') {
    const failedAt = head.from + result.index;
    const checkpointTo = failedAt > head.from ? failedAt : undefined;
    const remaining: PendingRange = { ...head, from: failedAt, retries: head.retries + 1 };
    if (exhausted(remaining.retries)) {
      const discard = discardOf(head, failedAt, head.to, FailureCondition.RetryAttemptsExhausted);
      return step(EsmAction.GIVE_UP, checkpointTo, discard, { pending: rest });
    }
    return step(EsmAction.RESUME, checkpointTo, undefined, { pending: [remaining, ...rest] });
  }
  // A function error, or a response that fails the whole batch.
  if (settings.bisectBatchOnFunctionError && head.to - head.from > 1) {
    const mid = head.from + Math.ceil((head.to - head.from) / 2);
    const halves = [
      range(head.from, mid, head.retries),
      range(mid, head.to, head.retries),
    ] as const;
    return {
      action: EsmAction.BISECT,
      checkpointTo: undefined,
      discard: undefined,
      halves,
      next: { pending: [...halves, ...rest] },
    };
  }
  if (exhausted(head.retries + 1)) {
    const discard = discardOf(head, head.from, head.to, FailureCondition.RetryAttemptsExhausted);
    return step(EsmAction.GIVE_UP, undefined, discard, { pending: rest });
  }
  return step(EsmAction.RETRY, undefined, undefined, {
    pending: [{ ...head, retries: head.retries + 1 }, ...rest],
  });
}

function range(from: number, to: number, retries: number): PendingRange {
  return { from, to, retries, invocations: 0, last: undefined };
}

function discardOf(
  r: PendingRange,
  from: number,
  to: number,
  condition: FailureCondition,
): Discard {
  return { from, to, condition, approximateInvokeCount: r.invocations, last: r.last };
}

function step(
  action: EsmAction,
  checkpointTo: number | undefined,
  discard: Discard | undefined,
  next: BatchProgress,
): Transition {
  return { action, checkpointTo, discard, halves: undefined, next };
}
