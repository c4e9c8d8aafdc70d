/**
 * Durations are plain numbers of milliseconds. These helpers make pipeline
 * definitions read like Flink's `Time.seconds(5)` without a wrapper type.
 */

/** A duration or an epoch timestamp in milliseconds. */
export type Millis = number;

/**
 * Milliseconds, unchanged (for symmetry with the other helpers).
 * @example ms(250) // 250
 */
export function ms(n: number): Millis {
  return n;
}

/**
 * Seconds in milliseconds.
 * @example seconds(5) // 5000
 */
export function seconds(n: number): Millis {
  return n * 1000;
}

/**
 * Minutes in milliseconds.
 * @example minutes(1) // 60000
 */
export function minutes(n: number): Millis {
  return n * 60_000;
}

/**
 * Hours in milliseconds.
 * @example hours(1) // 3600000
 */
export function hours(n: number): Millis {
  return n * 3_600_000;
}
