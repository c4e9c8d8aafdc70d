/**
 * The one sleep of the library: a timer that an `AbortSignal` cuts short.
 */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` is (or becomes)
 * aborted. Never rejects: a caller that must stop checks its own signal after
 * waking, so a stopped loop finishes its current step instead of unwinding
 * through an exception.
 *
 * @example
 * await sleep(100);                     // a plain delay
 * await sleep(pollMs, abort.signal);    // a poll that `stop()` wakes early
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
