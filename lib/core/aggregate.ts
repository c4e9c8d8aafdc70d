/**
 * Incremental aggregation (Flink's `AggregateFunction`) plus the JSON
 * serialisation of accumulators that state stores persist.
 */
import { ConfigError } from '../errors.ts';
import {
  HLL_MAX_PRECISION,
  HLL_MIN_PRECISION,
  hllAdd,
  hllCreate,
  hllEstimate,
  hllFromJson,
  hllMerge,
  hllToJson,
} from './hll.ts';
import type { HllRegisters } from './hll.ts';
import type { JsonValue } from '../model/json.ts';

/**
 * An incremental aggregate. `add` folds one input into an accumulator,
 * `merge` combines two accumulators (pre-aggregated batch deltas with stored
 * state, merged sessions), `getResult` reads the output.
 *
 * Contract weir relies on:
 * - `merge` is associative and commutative, `createAccumulator()` is its
 *   identity: results must not depend on batch boundaries or merge order.
 * - `add` is deterministic and, if it throws, throws before changing the
 *   accumulator (the record then goes to the dead-letter output).
 * - `add` and `merge` may mutate and return their accumulator argument.
 * - `serialize` returns a JSON-safe value; `deserialize(serialize(a))` is
 *   equivalent to `a`.
 *
 * @example
 * const longest: AggregateFunction<Click, number, number> = {
 *   name: 'longest',
 *   createAccumulator: () => 0,
 *   add: (e, acc) => Math.max(acc, e.durationMs),
 *   merge: (a, b) => Math.max(a, b),
 *   getResult: (acc) => acc,
 *   serialize: (acc) => acc,
 *   deserialize: (json) => json as number,
 * };
 */
export interface AggregateFunction<IN, ACC, OUT> {
  /** Short name, used in messages and metrics. */
  readonly name: string;
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  merge(a: ACC, b: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  serialize(accumulator: ACC): JsonValue;
  deserialize(json: JsonValue): ACC;
}

function numberOf(name: string, fieldValue: unknown): number {
  if (typeof fieldValue !== 'number' || !Number.isFinite(fieldValue)) {
    throw new TypeError(`${name}: field must be a finite number (given ${String(fieldValue)})`);
  }
  return fieldValue;
}

/**
 * Number of records in the window.
 * @example pipeline('p').decode(json<Click>()).keyBy((e) => e.page).eventTime((e) => e.ts).window(tumbling(minutes(1))).aggregate(count())
 */
export function count<IN = unknown>(): AggregateFunction<IN, number, number> {
  return {
    name: 'count',
    createAccumulator: () => 0,
    add: (_value, acc) => acc + 1,
    merge: (a, b) => a + b,
    getResult: (acc) => acc,
    serialize: (acc) => acc,
    deserialize: (json) => json as number,
  };
}

/**
 * Sum of a numeric field. Exact (and so independent of merge order) while
 * values and sums are integers within ±2^53; floating-point sums may differ
 * in the last bits between batch splittings.
 * @example sum((e: Order) => e.amountCents)
 */
export function sum<IN>(field: (value: IN) => number): AggregateFunction<IN, number, number> {
  return {
    name: 'sum',
    createAccumulator: () => 0,
    add: (value, acc) => acc + numberOf('sum', field(value)),
    merge: (a, b) => a + b,
    getResult: (acc) => acc,
    serialize: (acc) => acc,
    deserialize: (json) => json as number,
  };
}

/**
 * Minimum of a numeric field (`null` only for an empty accumulator, which
 * never fires).
 * @example min((e: Reading) => e.celsius)
 */
export function min<IN>(
  field: (value: IN) => number,
): AggregateFunction<IN, number | null, number | null> {
  return {
    name: 'min',
    createAccumulator: () => null,
    add: (value, acc) => {
      const v = numberOf('min', field(value));
      return acc === null || v < acc ? v : acc;
    },
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
    getResult: (acc) => acc,
    serialize: (acc) => acc,
    deserialize: (json) => json as number | null,
  };
}

/**
 * Maximum of a numeric field (`null` only for an empty accumulator).
 * @example max((e: Reading) => e.celsius)
 */
export function max<IN>(
  field: (value: IN) => number,
): AggregateFunction<IN, number | null, number | null> {
  return {
    name: 'max',
    createAccumulator: () => null,
    add: (value, acc) => {
      const v = numberOf('max', field(value));
      return acc === null || v > acc ? v : acc;
    },
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
    getResult: (acc) => acc,
    serialize: (acc) => acc,
    deserialize: (json) => json as number | null,
  };
}

/** Accumulator of {@link avg}: running sum and count. */
export interface AvgAccumulator {
  sum: number;
  count: number;
}

/**
 * Arithmetic mean of a numeric field (`null` for an empty accumulator).
 * Stored as `[sum, count]`.
 * @example avg((e: Click) => e.latencyMs)
 */
export function avg<IN>(
  field: (value: IN) => number,
): AggregateFunction<IN, AvgAccumulator, number | null> {
  return {
    name: 'avg',
    createAccumulator: () => ({ sum: 0, count: 0 }),
    add: (value, acc) => {
      const v = numberOf('avg', field(value));
      acc.sum += v;
      acc.count += 1;
      return acc;
    },
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
    getResult: (acc) => (acc.count === 0 ? null : acc.sum / acc.count),
    serialize: (acc) => [acc.sum, acc.count],
    deserialize: (json) => {
      const [s, c] = json as [number, number];
      return { sum: s, count: c };
    },
  };
}

/** Options of {@link distinctApprox}. */
export interface DistinctApproxOptions {
  /**
   * HyperLogLog precision p (2^p registers, relative standard error
   * 1.04/sqrt(2^p)): 4..16.
   * @default 12 (4096 registers, 1.6% standard error, at most 4 KiB of state)
   */
  readonly precision?: number;
}

/**
 * Approximate number of distinct values of a field (HyperLogLog). Exact
 * merge (register maximum), so batch splitting never changes the estimate.
 * @example distinctApprox((e: Click) => e.userId, { precision: 14 })
 */
export function distinctApprox<IN>(
  field: (value: IN) => string | number,
  options: DistinctApproxOptions = {},
): AggregateFunction<IN, HllRegisters, number> {
  const p = options.precision ?? 12;
  if (!Number.isInteger(p) || p < HLL_MIN_PRECISION || p > HLL_MAX_PRECISION) {
    throw new ConfigError(
      'distinctApprox.precision',
      p,
      `must be an integer in ${HLL_MIN_PRECISION}..${HLL_MAX_PRECISION}`,
    );
  }
  return {
    name: 'distinctApprox',
    createAccumulator: () => hllCreate(p),
    add: (value, acc) => {
      const v = field(value);
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) {
        throw new TypeError(
          `distinctApprox: field must be a string or a finite number (given ${String(v)})`,
        );
      }
      hllAdd(acc, p, typeof v === 'string' ? v : String(v));
      return acc;
    },
    merge: (a, b) => hllMerge(a, b),
    getResult: (acc) => hllEstimate(acc),
    serialize: (acc) => hllToJson(acc),
    deserialize: (json) => hllFromJson(json, p),
  };
}
