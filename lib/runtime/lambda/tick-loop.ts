/**
 * Ticks more often than EventBridge can invoke. EventBridge's finest schedule
 * is one minute, but an idle timeout of seconds needs a tick every few
 * seconds (a retried shard must be refreshed before it is judged idle). So one
 * scheduled invocation ticks every `intervalMs` until the next invocation is
 * due, the way Flink's periodic watermark emitter fires every
 * `autoWatermarkInterval`:
 *
 *   EventBridge  ▼ 0 s                                          ▼ 60 s
 *   ticker       tick ─ 5 s ─ tick ─ 5 s ─ ... ─ tick (55 s) ┘   tick ─ ...
 *
 * The cadence comes with the scheduled event: the WeirOperator construct
 * sets the rule target's input to a {@link TickSchedule}. Without a Lambda
 * context (the local demo and tests call the ticker in-process, on their own
 * timer), without that input, or with an interval not below the period, a
 * call is exactly one tick. A tick that throws ends the invocation with its
 * error, so Lambda's Errors metric shows it.
 */
import type { Clock } from '../../ports/clock.ts';

/**
 * The event the ticker's EventBridge rule sends (its target input): how often
 * to tick, and how often the rule invokes.
 */
export interface TickSchedule {
  /** ms between ticks. */
  readonly tickIntervalMs: number;
  /** ms between scheduled invocations (the rule's rate). */
  readonly tickerPeriodMs: number;
}

/** The {@link TickSchedule} in a ticker event, or undefined when the event carries none (or a malformed one). */
export function tickScheduleOf(event: unknown): TickSchedule | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { tickIntervalMs, tickerPeriodMs } = event as Record<string, unknown>;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  return ok(tickIntervalMs) && ok(tickerPeriodMs) ? { tickIntervalMs, tickerPeriodMs } : undefined;
}

/** The part of Lambda's context the loop reads. */
export interface TickerContext {
  /** Milliseconds before Lambda stops the invocation. */
  getRemainingTimeInMillis(): number;
}

/** Options of {@link tickRepeatedly}. */
export interface TickLoopOptions {
  /** The cadence; without it, one tick per call. */
  readonly schedule: TickSchedule | undefined;
  /** The invocation's context; without it, one tick per call. */
  readonly context: TickerContext | undefined;
  readonly clock: Clock;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Time a tick may take that the loop keeps in hand before the function's timeout. */
const TICK_BUDGET_MS = 10_000;

/**
 * Runs `tick` once, then every `tickIntervalMs` while the next tick still starts
 * before the next scheduled invocation and leaves a tick's budget before
 * the function's timeout. Returns the last tick's result.
 *
 * @example
 * ticker: (event, context) => tickRepeatedly(() => runtime.tick(), { schedule: tickScheduleOf(event), context, clock }),
 */
export async function tickRepeatedly<T>(tick: () => Promise<T>, o: TickLoopOptions): Promise<T> {
  const start = o.clock.now();
  let last = await tick();
  const { schedule, context } = o;
  if (context === undefined || schedule === undefined) return last;
  const { tickIntervalMs: intervalMs, tickerPeriodMs: periodMs } = schedule;
  if (intervalMs >= periodMs) return last;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let k = 1; start + k * intervalMs < start + periodMs; k++) {
    const wait = Math.max(0, start + k * intervalMs - o.clock.now());
    if (context.getRemainingTimeInMillis() - wait < TICK_BUDGET_MS) break;
    await sleep(wait);
    last = await tick();
  }
  return last;
}
