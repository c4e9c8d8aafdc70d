/**
 * The one check of an optional integer setting (concurrency, attempts,
 * sizes) for the adapters, the producer and the retry policy.
 */
import { ConfigError } from '../errors.ts';

/**
 * `value`, or `fallback` when it is absent; an integer outside `min..max`
 * fails fast with a {@link ConfigError} naming the field and echoing the value.
 *
 * @example
 * intOption('concurrency', props.concurrency, 16, 1, 1000);
 * // ConfigError: "concurrency must be an integer 1..1000 (given 0)"
 */
export function intOption(
  field: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(field, v, `must be an integer ${min}..${max}`);
  return v;
}
