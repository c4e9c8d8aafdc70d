/**
 * The ticker, locally: on AWS an EventBridge rule invokes the operator's
 * ticker (at most once a minute); locally the runtime calls it on its own
 * timer, in this process, with the configuration the template gives the
 * ticker function.
 *
 *     time ─────────────────────────────────────────────────────────▶
 *     TickerLoop   tick ··1 s·· tick ··1 s·· tick ··1 s·· (stop: waits for the tick in flight)
 *     tickUntil                        tick · tick · tick ✓ (done(report), or the deadline)
 *
 * Ticks are idempotent (conditional writes, a versioned outbox), so a loop
 * and `tickUntil` may overlap, as two EventBridge invocations may.
 */
import type { WindowedOperatorDefinition } from '../../core/pipeline.ts';
import {
  createLambdaHandlers,
  type LambdaHandlerOptions,
  type LambdaHandlers,
} from '../lambda/handlers.ts';
import { lambdaConfigFromEnv } from '../lambda/config.ts';
import type { TickReport } from '../operator-runtime.ts';
import { RepeatingCall } from './repeating-call.ts';

/** One tick of an operator, as `createLambdaHandlers(...).ticker`. */
export type Tick = () => Promise<TickReport>;

/** Options of {@link localLambdaHandlers}. */
export interface LocalLambdaHandlersOptions extends LambdaHandlerOptions {
  /**
   * Environment under the function's own variables (which win): typically
   * `LocalAws.env()`, the endpoints and credentials. @default {}
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * An operator's Lambda handlers in this process, configured as the template
 * configures its function (`LocalMapping` or `LocalTicker`: the resolved
 * environment) against the local endpoints. Destroy `clients` when done.
 * Its EMF metric lines go to stdout unless `metricsOutput` takes them, e.g.
 * an `EmfCollector`'s `collect`.
 *
 * @example
 * const emf = new EmfCollector();
 * const { ticker, clients } = localLambdaHandlers(clickCounter, resources.tickers[0]!, {
 *   env: aws.env(),
 *   metricsOutput: emf.collect,
 * });
 */
export function localLambdaHandlers<IN, ACC, OUT>(
  definition: WindowedOperatorDefinition<IN, ACC, OUT>,
  fn: { readonly environment: Readonly<Record<string, string>> },
  options: LocalLambdaHandlersOptions = {},
): LambdaHandlers<IN, ACC, OUT> {
  const { env, ...handlerOptions } = options;
  return createLambdaHandlers(
    definition,
    lambdaConfigFromEnv({ ...env, ...fn.environment }),
    handlerOptions,
  );
}

/** Options of {@link TickerLoop}. */
export interface TickerLoopOptions {
  /** Wait between the end of one tick and the start of the next. @default 1000 */
  readonly intervalMs?: number;
  /** A tick that failed (the loop goes on; the next tick retries its work). @default discard */
  readonly onError?: (error: unknown) => void;
  /** Every successful tick's report (e.g. to print windows as they fire). @default discard */
  readonly onTick?: (report: TickReport) => void;
}

/**
 * Calls a ticker again and again in the background, as the EventBridge
 * schedule does on AWS (but every second by default, so local runs do not
 * wait a minute for idle shards and due windows).
 *
 * @example
 * const loop = new TickerLoop(ticker, { onError: (e) => console.error(e) });
 * loop.start();
 * // ... run the mapping ...
 * await loop.stop();
 */
export class TickerLoop {
  readonly #loop: RepeatingCall<TickReport>;

  constructor(tick: Tick, options: TickerLoopOptions = {}) {
    this.#loop = new RepeatingCall(tick, {
      intervalMs: options.intervalMs ?? 1000,
      onResult: options.onTick,
      onError: options.onError,
    });
  }

  /** Starts ticking (the first tick at once). A second call does nothing. */
  start(): void {
    this.#loop.start();
  }

  /** Stops ticking; resolves once the tick in flight, if any, has ended. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}

/** Options of {@link tickUntil}. */
export interface TickUntilOptions {
  /** Give up after this long (the last report is returned, not an error). */
  readonly timeoutMs: number;
  /** Wait between ticks. @default 1000 */
  readonly intervalMs?: number;
}

/**
 * Ticks until `done` accepts a report or the time is up, and returns the
 * last report (undefined only when no tick ran). A failing tick rejects.
 *
 * @example
 * // Wait until the watermark has passed the last window and nothing fires any more.
 * const last = await tickUntil(ticker, (r) => r.watermark >= end && r.fired === 0, { timeoutMs: 60_000 });
 */
export async function tickUntil(
  tick: Tick,
  done: (report: TickReport) => boolean,
  options: TickUntilOptions,
): Promise<TickReport | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  let last: TickReport | undefined;
  while (Date.now() < deadline) {
    last = await tick();
    if (done(last)) break;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000));
  }
  return last;
}
