/**
 * Bounded concurrency without losing an outcome: the adapters' fan-out of
 * parallel writes and reads.
 */

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight; resolves
 * with every result (fulfilled or rejected) in input order, never rejecting,
 * so no item's outcome is lost when another fails.
 *
 * @example
 * const settled = await mapSettled(keys, 16, (key) => store.read(key));
 * const failed = settled.filter((s) => s.status === 'rejected');
 */
export async function mapSettled<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  return results;
}
