/**
 * The Clock port: the only source of processing time. The engine core never
 * reads the system clock; tests drive a {@link ManualClock} by hand.
 */

/** Supplies processing time in epoch ms. */
export interface Clock {
  now(): number;
}

/**
 * A clock moved only by the test.
 * @example
 * const clock = new ManualClock(1_700_000_000_000);
 * clock.advance(minutes(1));
 */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = 0) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance needs ms >= 0 (given ${ms})`);
    this.current += ms;
    return this.current;
  }
  /** Sets the time; it may not go backwards. */
  set(time: number): void {
    if (time < this.current)
      throw new RangeError(`ManualClock.set cannot go back from ${this.current} to ${time}`);
    this.current = time;
  }
}

/** Wall-clock time (`Date.now()`), for the Lambda runtime and the CLI. */
export const systemClock: Clock = { now: () => Date.now() };
