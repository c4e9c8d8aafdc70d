/** Errors of the DynamoDB state store, and how it classifies the SDK's. */
import { WeirError, errorName } from '../../errors.ts';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { MAX_ITEM_BYTES } from './state-codec.ts';

/** A state store request failed for a reason other than a lost condition or a passing throttle. */
export class StateStoreError extends WeirError {
  readonly operator: string;
  /** The logical key concerned, when one is. */
  readonly key: string | undefined;
  constructor(
    operator: string,
    key: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      `state store, operator ${operator}${key === undefined ? '' : `, key ${JSON.stringify(key)}`}: ${message}`,
      options,
    );
    this.operator = operator;
    this.key = key;
  }
}

/** A window item would exceed DynamoDB's 400 KB item limit (`sizeBytes`: the estimate, or the limit when DynamoDB refused it). */
export class StateItemTooLargeError extends StateStoreError {
  readonly sizeBytes: number;
  constructor(
    operator: string,
    key: string,
    window: { start: number; end: number } | undefined,
    sizeBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      operator,
      key,
      (window === undefined
        ? `a window item exceeds DynamoDB's item limit of ${MAX_ITEM_BYTES} bytes. `
        : `window [${window.start}, ${window.end}) is about ${sizeBytes} bytes; a DynamoDB item holds at most ${MAX_ITEM_BYTES}. `) +
        'Shrink the accumulator (e.g. a lower distinctApprox precision, fewer retained values) or shorten the key.',
      options,
    );
    this.sizeBytes = sizeBytes;
  }
}

function cancellationCodes(e: unknown): string[] {
  const reasons =
    (e as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}

/** A transaction lost against another transaction (not against our condition): worth retrying. */
export function isTransactionConflict(e: unknown): boolean {
  const name = errorName(e);
  if (name === 'TransactionConflictException' || name === 'TransactionInProgressException')
    return true;
  if (name !== 'TransactionCanceledException') return false;
  const codes = cancellationCodes(e);
  return (
    !codes.includes('ConditionalCheckFailed') &&
    codes.some(
      (c) =>
        c === 'TransactionConflict' ||
        c === 'ThrottlingError' ||
        c === 'ProvisionedThroughputExceeded',
    )
  );
}

export function isConditionFailure(e: unknown): boolean {
  const name = errorName(e);
  if (name === 'ConditionalCheckFailedException') return true;
  return (
    name === 'TransactionCanceledException' &&
    cancellationCodes(e).includes('ConditionalCheckFailed')
  );
}

export function isItemTooLarge(e: unknown): boolean {
  return (
    errorName(e) === 'ValidationException' &&
    /item size|maximum allowed size/i.test(e instanceof Error ? e.message : '')
  );
}

/** Internal: a condition failed (a domain conflict, surfaced as `false`). */
export class ConditionFailed extends Error {
  constructor(readonly item: Record<string, AttributeValue> | undefined) {
    super('condition failed');
  }
}
