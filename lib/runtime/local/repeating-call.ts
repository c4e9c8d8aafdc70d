/**
 * One background loop for the local stand-ins of EventBridge schedules: call,
 * report, wait, again, until stopped. `TickerLoop` and `CheckpointLoop` are
 * this loop with their own defaults and option names.
 */

/** What {@link RepeatingCall} does with each call and between calls. */
export interface RepeatingCallOptions<R> {
  /** Wait between the end of one call and the start of the next. */
  readonly intervalMs: number;
  /** Every successful call's result. */
  readonly onResult?: ((result: R) => void) | undefined;
  /** A call that failed (the loop goes on). */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Calls `call` again and again in the background until {@link stop}. */
export class RepeatingCall<R> {
  readonly #call: () => Promise<R>;
  readonly #options: RepeatingCallOptions<R>;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(call: () => Promise<R>, options: RepeatingCallOptions<R>) {
    this.#call = call;
    this.#options = options;
  }

  /** Starts calling (the first call at once). A second start does nothing. */
  start(): void {
    if (this.#running !== undefined) return;
    this.#stopping = false;
    this.#running = this.#loop();
  }

  /** Stops; resolves once the call in flight, if any, has ended. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      try {
        const result = await this.#call();
        this.#options.onResult?.(result);
      } catch (error) {
        this.#options.onError?.(error);
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.intervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
