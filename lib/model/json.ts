/**
 * JSON values: what aggregates serialise their accumulators to, what the
 * outbox keeps of a fired result, and what sinks store as a result's value.
 */

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * `value` as JSON would carry it: `undefined` and non-finite numbers become
 * `null`, objects and arrays go through `JSON.stringify` / `JSON.parse`.
 * Primitives are returned without the round trip (firing converts one result
 * per window).
 *
 * @example
 * toJsonValue({ n: Infinity }); // { n: null }
 */
export function toJsonValue(value: unknown): JsonValue {
  if (value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}
