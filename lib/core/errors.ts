/**
 * Errors of the engine core. All extend {@link WeirError}.
 */
import { WeirError } from '../errors.ts';

/**
 * The state store kept rejecting a conditional write (another writer changed
 * the same item every time). Carries the operator and how many attempts were
 * made; the batch fails and Lambda retries it, which is safe because every
 * write is guarded.
 */
export class StateContentionError extends WeirError {
  readonly operator: string;
  readonly attempts: number;
  constructor(operator: string, attempts: number) {
    super(
      `operator ${operator}: a conditional state write kept conflicting after ${attempts} attempts; ` +
        'the batch will be retried. Is a second consumer writing the same operator with the same shard?',
    );
    this.operator = operator;
    this.attempts = attempts;
  }
}

/**
 * A batch handed to the operator is malformed: records of another shard, or
 * positions not strictly increasing. This is a bug in the runtime that feeds
 * the operator, never a property of the data.
 */
export class BatchOrderError extends WeirError {}

/**
 * A user aggregate threw while producing a window result. Firing cannot skip
 * a window without losing it, so the batch fails with the window named.
 */
export class AggregateResultError extends WeirError {
  readonly key: string;
  readonly window: { readonly start: number; readonly end: number };
  constructor(
    key: string,
    window: { readonly start: number; readonly end: number },
    cause: unknown,
  ) {
    super(
      `getResult threw for key ${JSON.stringify(key)} window [${window.start}, ${window.end})`,
      { cause },
    );
    this.key = key;
    this.window = window;
  }
}
