/**
 * Errors of the engine core. All extend {@link WeirError}.
 */
import { WeirError } from '../errors.ts';
import type { Position } from '../model/position.ts';

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

/**
 * Re-deriving a record's event from its raw bytes (the core does this instead
 * of keeping every decoded event of a batch alive, when a conflicting or
 * partly applied state write has to be re-planned) gave a different outcome
 * than the first pass: the decoder, a filter or a map is not deterministic.
 * The batch fails and is retried whole; weir needs deterministic pipeline
 * functions, as Flink does for exactly-once replay.
 */
export class NondeterministicPipelineError extends WeirError {
  readonly operator: string;
  readonly position: Position;
  constructor(operator: string, position: Position, detail: string, cause?: unknown) {
    super(
      `operator ${operator}: record ${position.shardId}/${position.sequenceNumber}/${position.subSequenceNumber} ` +
        `${detail} when decoded again; decoder, filter and map functions must be deterministic (no clocks, randomness or outside state)`,
      cause === undefined ? undefined : { cause },
    );
    this.operator = operator;
    this.position = position;
  }
}
