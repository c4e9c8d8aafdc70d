/**
 * The ticker ticks more often than EventBridge invokes it: one scheduled
 * invocation ticks every tickIntervalMs until the next is due. Time is
 * supplied by the test (a ManualClock advanced by the fake sleep).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/index.ts';
import { tickRepeatedly, tickScheduleOf } from '../../../lib/runtime/lambda/tick-loop.ts';

/** A clock, a sleep that advances it, a Lambda context with a timeout, and the tick times. */
function harness(timeoutMs: number, tickMs = 300) {
  const clock = new ManualClock(1_000_000);
  const start = clock.now();
  const ticks: number[] = [];
  const sleep = (ms: number): Promise<void> => {
    clock.set(clock.now() + ms);
    return Promise.resolve();
  };
  const tick = (): Promise<number> => {
    ticks.push(clock.now() - start);
    clock.set(clock.now() + tickMs);
    return Promise.resolve(ticks.length);
  };
  const context = { getRemainingTimeInMillis: () => timeoutMs - (clock.now() - start) };
  return { clock, sleep, tick, context, ticks };
}

describe('tickRepeatedly', () => {
  it('GIVEN a 5 s interval in a 60 s period WHEN invoked by Lambda THEN it ticks at 0, 5, ..., 55 s and returns the last report', async () => {
    const h = harness(120_000);
    const last = await tickRepeatedly(h.tick, {
      schedule: { tickIntervalMs: 5000, tickerPeriodMs: 60_000 },
      context: h.context,
      clock: h.clock,
      sleep: h.sleep,
    });
    expect(h.ticks).toEqual(Array.from({ length: 12 }, (_, k) => k * 5000));
    expect(last).toBe(12);
  });

  it('GIVEN a function timeout that would cut the loop WHEN invoked THEN it stops while a tick still fits', async () => {
    const h = harness(30_000);
    await tickRepeatedly(h.tick, {
      schedule: { tickIntervalMs: 5000, tickerPeriodMs: 60_000 },
      context: h.context,
      clock: h.clock,
      sleep: h.sleep,
    });
    // The tick at 20 s leaves exactly 10 s; the one at 25 s would leave 5 s.
    expect(h.ticks).toEqual([0, 5000, 10_000, 15_000, 20_000]);
  });

  it('GIVEN no Lambda context, no schedule, or an interval equal to the period WHEN called THEN it ticks exactly once', async () => {
    for (const o of [
      { schedule: { tickIntervalMs: 5000, tickerPeriodMs: 60_000 }, context: undefined },
      { schedule: undefined, context: { getRemainingTimeInMillis: () => 60_000 } },
      {
        schedule: { tickIntervalMs: 60_000, tickerPeriodMs: 60_000 },
        context: { getRemainingTimeInMillis: () => 60_000 },
      },
    ]) {
      const h = harness(120_000);
      await tickRepeatedly(h.tick, { ...o, clock: h.clock, sleep: h.sleep });
      expect(h.ticks).toEqual([0]);
    }
  });

  it('GIVEN a tick that throws WHEN looping THEN the invocation fails with that error', async () => {
    const h = harness(120_000);
    let n = 0;
    const tick = (): Promise<number> =>
      ++n === 3 ? Promise.reject(new Error('denied')) : h.tick();
    await expect(
      tickRepeatedly(tick, {
        schedule: { tickIntervalMs: 5000, tickerPeriodMs: 60_000 },
        context: h.context,
        clock: h.clock,
        sleep: h.sleep,
      }),
    ).rejects.toThrow('denied');
    expect(h.ticks).toHaveLength(2);
  });
});

describe('tickScheduleOf', () => {
  it('GIVEN the event the construct schedules WHEN read THEN it is the schedule; anything else is none', () => {
    expect(tickScheduleOf({ tickIntervalMs: 5000, tickerPeriodMs: 60_000 })).toEqual({
      tickIntervalMs: 5000,
      tickerPeriodMs: 60_000,
    });
    expect(tickScheduleOf(undefined)).toBeUndefined();
    expect(tickScheduleOf({ 'detail-type': 'Scheduled Event' })).toBeUndefined();
    expect(tickScheduleOf({ tickIntervalMs: '5000', tickerPeriodMs: 60_000 })).toBeUndefined();
    expect(tickScheduleOf({ tickIntervalMs: 0, tickerPeriodMs: 60_000 })).toBeUndefined();
  });
});
